"""The Fireworks audio API's wire vocabulary, in one place: field values, defaults, limits,
header names, error body and streaming event names.

A bottom-layer module (plain Python, no package imports): the client (`api/_params.py`), the
embedded engine (`local/server/forms.py`, `local/streaming.py`) and the engine's generated
OpenAPI schema all read these, so an enum value is added or renamed here once.

Decisions:
- Where the client and the engine deliberately differ, both sets live here side by side with
  the reason (alignment formats: the engine also accepts `json`, the reference's default; the
  client offers only the documented `srt`/`verbose_json`/`vtt`).
- One word key (`normalize_word`): a word matched at a stream seam, in an alignment or in a
  corpus search is the same word everywhere.
- Language codes: `WHISPER_LANGUAGES` is faster-whisper's list (checked against it by the
  tests), so the engine does not need faster-whisper to know them; the reference adds
  `zh-hant`, `zh-hans` and `yue` (`REFERENCE_EXTRA_LANGUAGES`).
"""

from __future__ import annotations

import re
from typing import Any

# ------------------------------------------------------------------------- models
DEFAULT_MODEL = "whisper-v3"
FILE_MODELS: tuple[str, ...] = ("whisper-v3", "whisper-v3-turbo")
"""Models of the pre-recorded routes (transcriptions, translations)."""
STREAM_MODELS: tuple[str, ...] = (*FILE_MODELS, "fireworks-asr-large", "fireworks-asr-v2")
"""Models of the streaming WebSocket (the file models plus the streaming-only names)."""

# ------------------------------------------------------------------------- field values
RESPONSE_FORMATS: tuple[str, ...] = ("json", "text", "srt", "verbose_json", "vtt")
JSON_FORMATS: tuple[str, ...] = ("json", "verbose_json")
ALIGN_RESPONSE_FORMATS: tuple[str, ...] = ("srt", "verbose_json", "vtt")
"""Alignment formats the reference documents (what the client offers)."""
ENGINE_ALIGN_RESPONSE_FORMATS: tuple[str, ...] = ("json", "verbose_json", "srt", "vtt")
"""Alignment formats the engine accepts: the documented ones plus `json`, the reference's
default in its parameter table."""
STREAM_RESPONSE_FORMATS: tuple[str, ...] = ("verbose_json", "json")
GRANULARITIES: tuple[str, ...] = ("word", "segment")
GRANULARITY_FIELDS: tuple[str, ...] = ("timestamp_granularities", "timestamp_granularities[]")
"""The form/query names of the granularities: the reference's, and the OpenAI SDK's."""
VAD_MODELS: tuple[str, ...] = ("silero", "whisperx-pyannet")
ALIGNMENT_MODELS: tuple[str, ...] = ("tdnn_ffn", "mms_fa", "gentle")
PREPROCESSING: tuple[str, ...] = ("none", "dynamic", "soft_dynamic", "bass_dynamic")

DEFAULT_RESPONSE_FORMAT = "json"
"""The reference's (and the engine's) default; the client asks for verbose_json."""
DEFAULT_ALIGN_RESPONSE_FORMAT = "verbose_json"
DEFAULT_STREAM_RESPONSE_FORMAT = "verbose_json"
DEFAULT_VAD_MODEL = "silero"
DEFAULT_ALIGNMENT_MODEL = "tdnn_ffn"
DEFAULT_PREPROCESSING = "none"

# ------------------------------------------------------------------------- limits
TEMPERATURE_RANGE: tuple[float, float] = (0.0, 1.0)
"""`temperature` (each fallback value) lies in this closed range."""

# ------------------------------------------------------------------------- languages
WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw",
    "he", "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn",
    "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt",
    "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si",
    "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl",
    "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue",
)  # fmt: skip
"""Whisper's language codes, in faster-whisper's order (`faster_whisper.tokenizer`)."""
REFERENCE_EXTRA_LANGUAGES: tuple[str, ...] = ("zh-hant", "zh-hans", "yue")
"""Codes the Fireworks reference lists beyond Whisper's classic set."""

# ------------------------------------------------------------------------- headers
MODEL_HEADER = "x-fw-asr-local-model"
"""Response header of the embedded engine naming the local model that served the request."""
RETRY_AFTER_HEADER = "Retry-After"

# ------------------------------------------------------------------------- streaming events
STREAM_TRACE = "stt.input.trace"
STREAM_TRACE_ECHO = "stt.output.trace"
STREAM_CLEAR = "stt.state.clear"
STREAM_CLEARED = "stt.state.cleared"


# ------------------------------------------------------------------------- words
_NOT_WORD = re.compile(r"[^\w']+")


def normalize_word(word: str) -> str:
    """Comparison key of a word: lower case, only letters, digits, `_` and `'` kept
    (`" You,"` -> `"you"`). The one word key of the package: the engine's alignment and live
    agreement, the client's stream merge and corpus search compare words by it. (WER uses
    `transcript.metrics.normalize_text`, a text normaliser: NFKC, apostrophes removed.)"""
    return _NOT_WORD.sub("", word.lower())


# ------------------------------------------------------------------------- error body
def error_body(message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    """The Fireworks error body: `{"error": {"object": "error", "type", "message"}}`."""
    return {"error": {"object": "error", "type": type, "message": message}}
