"""Validation and multipart encoding of the pre-recorded request fields.

Everything here runs before any I/O, so a bad value fails fast with a `ValueError` naming
the allowed values, and nothing is uploaded.

Encoding follows the Fireworks SDK (`fireworks.client.audio_api.*Request.to_multipart`):
every field is a string form field, lists are comma-joined (`word,segment`, `0.0,0.2`),
booleans are `true`/`false`, and fields left at `None` are not sent.

Decisions where the docs are silent:
- `model` and `diarization_model` are free-form (dedicated deployments have their own model
  names); they must be non-empty strings without whitespace.
- `language` is a 2–3 letter code (ISO 639-1, or 639-3 for the few Whisper languages that
  have no two-letter code such as `haw`, `yue`); sent lowercased.
- `diarize=True` with `response_format`/`timestamp_granularities` left at `None` sets them
  to `verbose_json` and `word,segment`. An explicit conflicting value raises.
- `timestamp_granularities` given with `response_format=None` selects `verbose_json`; with
  an explicit other format it raises (the API requires verbose_json).
- `response_format=None` (the default) asks for `verbose_json`, not the API's own default
  `json`: a notebook user calling `transcribe(f).to_pandas()` expects timed segments, and
  `json` carries only the text. Pass `response_format="json"` for the text alone.
- `timestamp_granularities=None` (the default) with a `verbose_json` response sends
  `word,segment`, not the API's own default `segment`: the viewer's word highlight and word
  search and `to_pandas("word")` need words, and a user should not have to know to ask.
  Pass `timestamp_granularities=["segment"]` for segments alone (smaller responses).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
AlignResponseFormat = Literal["srt", "verbose_json", "vtt"]
Granularity = Literal["word", "segment"]
VadModel = Literal["silero", "whisperx-pyannet"]
AlignmentModel = Literal["tdnn_ffn", "mms_fa", "gentle"]
Preprocessing = Literal["none", "dynamic", "soft_dynamic", "bass_dynamic"]
Temperature = float | Sequence[float]

DEFAULT_GRANULARITIES: tuple[str, ...] = ("word", "segment")
"""Sent with every `verbose_json` request unless the caller chooses (see Decisions)."""
RESPONSE_FORMATS: tuple[str, ...] = ("json", "text", "srt", "verbose_json", "vtt")
ALIGN_RESPONSE_FORMATS: tuple[str, ...] = ("srt", "verbose_json", "vtt")
JSON_FORMATS: tuple[str, ...] = ("json", "verbose_json")
GRANULARITIES: tuple[str, ...] = ("word", "segment")
VAD_MODELS: tuple[str, ...] = ("silero", "whisperx-pyannet")
ALIGNMENT_MODELS: tuple[str, ...] = ("tdnn_ffn", "mms_fa", "gentle")
PREPROCESSING: tuple[str, ...] = ("none", "dynamic", "soft_dynamic", "bass_dynamic")

_LANG_RE = re.compile(r"^[A-Za-z]{2,3}$")


def _enum(name: str, value: object, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; allowed values: {', '.join(allowed)}")
    return value


def _name_like(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"{name} must be a non-empty string without spaces, not {value!r}")
    return value


def _text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _bool(name: str, value: object) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, not {value!r}")
    return value


def _number(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def validate_language(value: object) -> str | None:
    """A 2–3 letter language code, lowercased; `None` means detect."""
    if value is None:
        return None
    if not isinstance(value, str) or not _LANG_RE.match(value):
        raise ValueError(
            f"language must be a 2-3 letter ISO 639 code such as 'en' or 'fr', not {value!r}"
        )
    return value.lower()


def validate_temperature(value: object) -> list[float] | None:
    """One float or a list of fallback floats, each in [0, 1]."""
    if value is None:
        return None
    items: list[object]
    if isinstance(value, list | tuple):
        items = list(value)
        if not items:
            raise ValueError("temperature must be a float in [0, 1] or a non-empty list of them")
    else:
        items = [value]
    out: list[float] = []
    for item in items:
        f = _number(item)
        if f is None or not 0.0 <= f <= 1.0:
            raise ValueError(
                f"temperature must be a float in [0, 1] or a list of them, not {value!r}"
            )
        out.append(f)
    return out


def validate_granularities(value: object) -> list[str] | None:
    """`"word"`, `"segment"`, `"word,segment"` or a list of those; de-duplicated, in order."""
    if value is None:
        return None
    if isinstance(value, str):
        items: list[object] = [p.strip() for p in value.split(",")]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise ValueError(
            f"timestamp_granularities must be a list of 'word'/'segment', not {value!r}"
        )
    if not items:
        raise ValueError("timestamp_granularities must not be empty; allowed values: word, segment")
    out: list[str] = []
    for item in items:
        g = _enum("timestamp_granularities", item, GRANULARITIES)
        assert g is not None
        if g not in out:
            out.append(g)
    return out


def _positive_int(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


def _positive_float(name: str, value: object) -> float | None:
    if value is None:
        return None
    f = _number(value)
    if f is None or f <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return f


def encode_value(value: object) -> str:
    """One form-field value as the Fireworks SDK sends it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ",".join(encode_value(v) for v in value)
    return str(value)


def _merge_extra(
    fields: dict[str, object], extra_fields: Mapping[str, object] | None
) -> list[tuple[str, str]]:
    merged = dict(fields)
    if extra_fields:
        if not isinstance(extra_fields, Mapping):
            raise ValueError("extra_fields must be a dict of field name → value")
        for key, value in extra_fields.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"extra_fields keys must be non-empty strings, not {key!r}")
            if key == "file" or key in fields:
                raise ValueError(
                    f"extra_fields may not set {key!r}: pass it as the keyword argument instead"
                )
            if value is not None and not isinstance(value, str | int | float | bool | list | tuple):
                raise ValueError(
                    f"extra_fields[{key!r}] must be a str, number, bool or list, "
                    f"not {type(value).__name__}"
                )
            merged[key] = value
    return [(k, encode_value(v)) for k, v in merged.items() if v is not None]


def _formats(
    response_format: object,
    timestamp_granularities: object,
    *,
    diarize: bool = False,
) -> tuple[str, list[str] | None]:
    fmt = _enum("response_format", response_format, RESPONSE_FORMATS)
    grans = validate_granularities(timestamp_granularities)
    if diarize:
        if fmt is None:
            fmt = "verbose_json"
        elif fmt != "verbose_json":
            raise ValueError(
                f"diarize=True needs response_format='verbose_json' (got {fmt!r}); "
                "leave response_format unset and it is chosen for you"
            )
        if grans is None:
            grans = ["word", "segment"]
        elif "word" not in grans:
            raise ValueError(
                "diarize=True needs timestamp_granularities to include 'word' "
                f"(got {grans!r}); leave it unset and ['word', 'segment'] is used"
            )
    if grans is not None:
        if fmt is None:
            fmt = "verbose_json"
        elif fmt != "verbose_json":
            raise ValueError(
                f"timestamp_granularities requires response_format='verbose_json' (got {fmt!r})"
            )
    fmt = fmt or "verbose_json"
    if grans is None and fmt == "verbose_json":
        grans = list(DEFAULT_GRANULARITIES)
    return fmt, grans


def transcription_fields(
    *,
    model: object,
    language: object = None,
    prompt: object = None,
    temperature: object = None,
    response_format: object = None,
    timestamp_granularities: object = None,
    diarize: object = None,
    min_speakers: object = None,
    max_speakers: object = None,
    vad_model: object = None,
    alignment_model: object = None,
    preprocessing: object = None,
    diarization_model: object = None,
    skip_vad: object = None,
    max_clip_len: object = None,
    extra_fields: Mapping[str, object] | None = None,
) -> tuple[list[tuple[str, str]], str]:
    """Validate transcription arguments → (form fields, effective response_format)."""
    diarize_b = _bool("diarize", diarize)
    min_s = _positive_int("min_speakers", min_speakers)
    max_s = _positive_int("max_speakers", max_speakers)
    if (min_s is not None or max_s is not None) and not diarize_b:
        raise ValueError("min_speakers/max_speakers are only allowed with diarize=True")
    if min_s is not None and max_s is not None and min_s > max_s:
        raise ValueError(f"min_speakers ({min_s}) must not exceed max_speakers ({max_s})")
    if diarization_model is not None and not diarize_b:
        raise ValueError("diarization_model is only allowed with diarize=True")
    fmt, grans = _formats(response_format, timestamp_granularities, diarize=bool(diarize_b))
    fields: dict[str, object] = {
        "model": _name_like("model", model),
        "language": validate_language(language),
        "prompt": _text("prompt", prompt),
        "temperature": validate_temperature(temperature),
        "response_format": fmt,
        "timestamp_granularities": grans,
        "diarize": diarize_b,
        "min_speakers": min_s,
        "max_speakers": max_s,
        "vad_model": _enum("vad_model", vad_model, VAD_MODELS),
        "alignment_model": _enum("alignment_model", alignment_model, ALIGNMENT_MODELS),
        "preprocessing": _enum("preprocessing", preprocessing, PREPROCESSING),
        "diarization_model": _name_like("diarization_model", diarization_model),
        "skip_vad": _bool("skip_vad", skip_vad),
        "max_clip_len": _positive_float("max_clip_len", max_clip_len),
    }
    if fields["model"] is None:
        raise ValueError("model is required, e.g. 'whisper-v3'")
    return _merge_extra(fields, extra_fields), fmt


def translation_fields(
    *,
    model: object,
    language: object = None,
    prompt: object = None,
    temperature: object = None,
    response_format: object = None,
    timestamp_granularities: object = None,
    vad_model: object = None,
    alignment_model: object = None,
    preprocessing: object = None,
    skip_vad: object = None,
    max_clip_len: object = None,
    extra_fields: Mapping[str, object] | None = None,
) -> tuple[list[tuple[str, str]], str]:
    """Validate translation arguments → (form fields, effective response_format)."""
    fmt, grans = _formats(response_format, timestamp_granularities)
    fields: dict[str, object] = {
        "model": _name_like("model", model),
        "language": validate_language(language),
        "prompt": _text("prompt", prompt),
        "temperature": validate_temperature(temperature),
        "response_format": fmt,
        "timestamp_granularities": grans,
        "vad_model": _enum("vad_model", vad_model, VAD_MODELS),
        "alignment_model": _enum("alignment_model", alignment_model, ALIGNMENT_MODELS),
        "preprocessing": _enum("preprocessing", preprocessing, PREPROCESSING),
        "skip_vad": _bool("skip_vad", skip_vad),
        "max_clip_len": _positive_float("max_clip_len", max_clip_len),
    }
    if fields["model"] is None:
        raise ValueError("model is required, e.g. 'whisper-v3'")
    return _merge_extra(fields, extra_fields), fmt


def alignment_fields(
    *,
    text: object,
    model: object = None,
    response_format: object = None,
    vad_model: object = None,
    alignment_model: object = None,
    preprocessing: object = None,
    extra_fields: Mapping[str, object] | None = None,
) -> tuple[list[tuple[str, str]], str]:
    """Validate alignment arguments → (form fields, effective response_format).

    `model` only routes the request to a host (the alignment request has no model field);
    it is not sent.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text (the transcript to align) must be a non-empty string")
    _name_like("model", model)
    fmt = _enum("response_format", response_format, ALIGN_RESPONSE_FORMATS) or "verbose_json"
    fields: dict[str, object] = {
        "text": text,
        "response_format": fmt,
        "vad_model": _enum("vad_model", vad_model, VAD_MODELS),
        "alignment_model": _enum("alignment_model", alignment_model, ALIGNMENT_MODELS),
        "preprocessing": _enum("preprocessing", preprocessing, PREPROCESSING),
    }
    return _merge_extra(fields, extra_fields), fmt
