"""The request fields of the file routes, declared once: each `Field` parses its multipart
value and describes itself for the OpenAPI schema (`openapi.py` reads the same tables).

Length (over 500 lines): one table of every field of every file route, so that the parser
and the schema cannot disagree; splitting it would spread the wire contract over files.

Decisions:
- One hand-written parser per field rather than FastAPI form models: the engine must answer
  400 (never 422) with the Fireworks error body and a message naming the allowed values,
  refuse a field given twice, read `timestamp_granularities[]` and comma-joined lists, and
  look at the upload only after the other fields; form models would need all of that
  re-done in validators and exception handlers. The tables below keep the single source.
- Fields are parsed in the order of their table and the first bad one answers (400/404);
  `file` comes last, so a bad model or option is reported before the upload is looked at.
  Cross-field rules (granularities need verbose_json, diarize needs words, speaker bounds)
  are checked after every field parsed.
- Form fields the tables do not name are ignored (the Fireworks SDK and OpenAI-style clients
  send extras); a named field given twice, or as a file, is a 400.
- `timestamp_granularities` is read under that name and as `timestamp_granularities[]` (the
  OpenAI SDK's spelling), repeated and/or comma-joined.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData, QueryParams, UploadFile

from fw_asr_widgets import _wire
from fw_asr_widgets.local import engine
from fw_asr_widgets.local.server.errors import ApiError, bad, model_not_found

FILE_MODELS = _wire.FILE_MODELS
"""Model names accepted for files. Decision: the streaming-only names (`fireworks-asr-large`,
`fireworks-asr-v2`) are accepted on the WebSocket only; every name maps to the same local
models (tiny.en for English, base for other languages and translation)."""
STREAM_MODELS = _wire.STREAM_MODELS
RESPONSE_FORMATS = _wire.RESPONSE_FORMATS
ALIGN_RESPONSE_FORMATS = _wire.ENGINE_ALIGN_RESPONSE_FORMATS
GRANULARITIES = _wire.GRANULARITIES
TEMPERATURE_LO, TEMPERATURE_HI = _wire.TEMPERATURE_RANGE

MAX_SPEAKERS = 32
"""The most speakers the local diarizer separates. Decision: the reference has no upper bound
for `max_speakers` (default "inf"), so larger values (and `inf`) are clamped to this, not
refused; `min_speakers` above it cannot be honoured and is a 400."""


LANGUAGES = _wire.WHISPER_LANGUAGES
"""Codes the engine accepts (besides `LANGUAGE_ALIASES`); `yue` is among them but refused."""

LANGUAGE_ALIASES: dict[str, str] = {"zh-hans": "zh", "zh-hant": "zh"}
"""Codes the Fireworks reference lists beyond Whisper's, mapped to what the local models do.
Decision: `zh-hans`/`zh-hant` are transcribed as Chinese (`zh`); the script of the output is
the model's choice (Whisper mostly writes simplified characters)."""

UNAVAILABLE_LANGUAGES: dict[str, str] = {
    "yue": (
        "language 'yue' (Cantonese) is not available in the embedded engine: its Whisper models "
        "have no Cantonese token (it came with large-v3) and forcing it yields garbage; use "
        "language=zh (Cantonese speech comes out as written Chinese) or leave language unset"
    ),
}
"""Codes faster-whisper knows but the local models cannot decode (a 400 names the way out)."""


# --------------------------------------------------------------------------------------------
# Value parsers (shared by the form fields and the streaming query parameters)


def text_value(form: FormData, name: str) -> str | None:
    """The stripped text of field `name` (None when absent or blank); 400 if repeated or a file."""
    values = form.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad(f"field {name!r} was given {len(values)} times; give it once")
    v = values[0]
    if not isinstance(v, str):
        raise bad(f"field {name!r} must be a text field, not a file")
    v = v.strip()
    return v or None


def enum_value(raw: str | None, name: str, allowed: tuple[str, ...], default: str | None) -> Any:
    if raw is None:
        return default
    if raw not in allowed:
        raise bad(f"invalid {name} {raw!r}; allowed values: {', '.join(allowed)}")
    return raw


def bool_value(raw: str | None, name: str) -> bool | None:
    if raw is None:
        return None
    low = raw.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise bad(f"invalid {name} {raw!r}; expected 'true' or 'false'")


def float_value(name: str, v: str, lo: float, hi: float) -> float:
    try:
        x = float(v)
    except ValueError:
        raise bad(f"invalid {name} {v!r}; expected a number") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise bad(f"invalid {name} {v!r}; expected a number between {lo:g} and {hi:g}")
    return x


def int_value(raw: str | None, name: str, lo: int, hi: int) -> int | None:
    if raw is None:
        return None
    try:
        x = int(raw)
    except ValueError:
        raise bad(f"invalid {name} {raw!r}; expected an integer") from None
    if not lo <= x <= hi:
        raise bad(f"invalid {name} {raw!r}; expected an integer between {lo} and {hi}")
    return x


def max_speakers_value(raw: str | None) -> int | None:
    """An integer >= 1 or `inf`, clamped to `MAX_SPEAKERS`."""
    if raw is None:
        return None
    if raw.lower() in ("inf", "infinity"):
        return MAX_SPEAKERS
    try:
        x = int(raw)
    except ValueError:
        raise bad(f"invalid max_speakers {raw!r}; expected an integer or 'inf'") from None
    if x < 1:
        raise bad(f"invalid max_speakers {raw!r}; expected an integer of at least 1")
    return min(x, MAX_SPEAKERS)


def parse_temperature(raw: str | None) -> tuple[float, ...]:
    """`temperature`: one float or a comma-separated list of fallback temperatures in [0, 1]."""
    if raw is None:
        return (0.0,)
    parts = [p.strip() for p in raw.split(",")]
    if not all(parts):
        raise bad(f"invalid temperature {raw!r}; expected a number or comma-separated numbers")
    return tuple(float_value("temperature", p, TEMPERATURE_LO, TEMPERATURE_HI) for p in parts)


def parse_granularities(values: list[str]) -> tuple[str, ...]:
    """Repeated and/or comma-separated `timestamp_granularities`; default `segment`."""
    out: list[str] = []
    for raw in values:
        for part in raw.split(","):
            p = part.strip()
            if not p:
                continue
            if p not in GRANULARITIES:
                raise bad(f"invalid timestamp_granularities {p!r}; allowed values: word, segment")
            if p not in out:
                out.append(p)
    return tuple(out) or ("segment",)


def parse_language(raw: str | None) -> str | None:
    """ISO 639-1 code from Whisper's set (case-insensitive), or None for detection.

    `zh-hans`/`zh-hant` map to `zh` (`LANGUAGE_ALIASES`); `yue` is refused with a 400 that
    says what to use instead (`UNAVAILABLE_LANGUAGES`)."""
    if raw is None:
        return None
    code = raw.strip().lower().replace("_", "-")
    code = LANGUAGE_ALIASES.get(code, code)
    if code in UNAVAILABLE_LANGUAGES:
        raise bad(UNAVAILABLE_LANGUAGES[code])
    if code not in LANGUAGES:
        raise bad(
            f"invalid language {raw!r}; expected an ISO 639-1 code Whisper knows: "
            + ", ".join(LANGUAGES)
        )
    return code


_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)


def _url_error(url: str) -> ApiError:
    shown = url if len(url) <= 80 else url[:77] + "..."
    return bad(
        f"'file' is a URL ({shown!r}): the embedded engine works offline and does not fetch "
        "URLs; upload the audio file itself"
    )


def parse_file_field(form: FormData) -> UploadFile:
    """The `file` upload. Decision: a URL (string field, or an upload whose whole content is
    a URL, as the Fireworks SDK sends it) is refused with 400: the engine is offline."""
    values = form.getlist("file")
    if not values:
        raise bad("missing required field 'file' (the audio file to transcribe)")
    if len(values) > 1:
        raise bad("field 'file' was given more than once; send one audio file")
    v = values[0]
    if isinstance(v, str):
        if _URL.match(v.strip()):
            raise _url_error(v.strip())
        raise bad("field 'file' must be an uploaded audio file (multipart file part)")
    assert isinstance(v, UploadFile)
    if v.size is not None and v.size <= 2048:
        v.file.seek(0)
        head = v.file.read(2048)
        v.file.seek(0)
        try:
            text = head.decode("utf-8").strip()
        except UnicodeDecodeError:
            text = ""
        if text and _URL.match(text):
            raise _url_error(text)
    return v


def _align_text(form: FormData) -> str:
    values = form.getlist("text")
    text = values[0] if len(values) == 1 and isinstance(values[0], str) else None
    if len(values) > 1:
        raise bad("field 'text' was given more than once")
    if text is None or not text.strip():
        raise bad("missing required field 'text' (the transcript to align)")
    return text


def _model(form: FormData) -> str:
    model = text_value(form, "model") or _wire.DEFAULT_MODEL
    if model not in FILE_MODELS:
        raise model_not_found(model, FILE_MODELS)
    return model


def _granularities(form: FormData) -> tuple[str, ...] | None:
    raw = [v for name in _wire.GRANULARITY_FIELDS for v in form.getlist(name) if isinstance(v, str)]
    return parse_granularities(raw) if raw else None


def _max_clip_len(form: FormData) -> float | None:
    raw = text_value(form, "max_clip_len")
    return None if raw is None else float_value("max_clip_len", raw, 0.0, 1e9)


# --------------------------------------------------------------------------------------------
# The field tables


@dataclass(frozen=True)
class Field:
    """One multipart field: its parser and its OpenAPI property."""

    name: str
    parse: Callable[[FormData], Any]
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


def _enum_field(
    name: str, allowed: tuple[str, ...], default: str, *, documented_default: bool = True
) -> Field:
    schema: dict[str, Any] = {"type": "string", "enum": list(allowed)}
    if documented_default:
        schema["default"] = default
    return Field(name, lambda f: enum_value(text_value(f, name), name, allowed, default), schema)


def _bool_field(name: str, default: str | None = None) -> Field:
    schema: dict[str, Any] = {"type": "string", "enum": ["true", "false"]}
    if default is not None:
        schema["default"] = default
    return Field(name, lambda f: bool_value(text_value(f, name), name), schema)


def _text(name: str, description: str | None = None) -> Field:
    schema = (
        {"type": "string"}
        if description is None
        else {"type": "string", "description": description}
    )
    return Field(name, lambda f: text_value(f, name), schema)


FILE = Field(
    "file",
    parse_file_field,
    {"type": "string", "format": "binary", "description": "the audio file"},
)
MODEL = Field(
    "model", _model, {"type": "string", "enum": list(FILE_MODELS), "default": _wire.DEFAULT_MODEL}
)
VAD_MODEL = _enum_field("vad_model", _wire.VAD_MODELS, _wire.DEFAULT_VAD_MODEL)
ALIGNMENT_MODEL = _enum_field(
    "alignment_model", _wire.ALIGNMENT_MODELS, _wire.DEFAULT_ALIGNMENT_MODEL
)
PREPROCESSING_FIELD = _enum_field(
    "preprocessing", _wire.PREPROCESSING, _wire.DEFAULT_PREPROCESSING, documented_default=False
)

COMMON_FIELDS: tuple[Field, ...] = (
    MODEL,
    _enum_field("response_format", RESPONSE_FORMATS, _wire.DEFAULT_RESPONSE_FORMAT),
    VAD_MODEL,
    ALIGNMENT_MODEL,
    PREPROCESSING_FIELD,
    _bool_field("skip_vad"),
    Field("max_clip_len", _max_clip_len, {"type": "string", "description": "seconds (float)"}),
    _text("prompt"),
    Field(
        "temperature",
        lambda f: parse_temperature(text_value(f, "temperature")),
        {
            "type": "string",
            "description": "a float in [0, 1] or comma-separated fallback temperatures",
            "default": "0",
        },
    ),
    Field(
        "timestamp_granularities",
        _granularities,
        {"type": "string", "description": "word and/or segment, comma-separated or repeated"},
    ),
    Field(
        "language",
        lambda f: parse_language(text_value(f, "language")),
        {"type": "string", "description": "ISO 639-1 code; omit to detect"},
    ),
)
"""Fields of `POST /v1/audio/translations` (without `file`), in parse order."""

TRANSCRIBE_FIELDS: tuple[Field, ...] = (
    *COMMON_FIELDS,
    _text("diarization_model"),  # any name; the local diarizer is used
    _bool_field("diarize", "false"),
    Field(
        "min_speakers",
        lambda f: int_value(text_value(f, "min_speakers"), "min_speakers", 1, MAX_SPEAKERS),
        {"type": "string", "description": "integer, with diarize=true"},
    ),
    Field(
        "max_speakers",
        lambda f: max_speakers_value(text_value(f, "max_speakers")),
        {"type": "string", "description": "integer, with diarize=true"},
    ),
    FILE,
)
TRANSLATE_FIELDS: tuple[Field, ...] = (*COMMON_FIELDS, FILE)
ALIGN_FIELDS: tuple[Field, ...] = (
    Field("text", _align_text, {"type": "string", "description": "the transcript to align"}),
    _enum_field("response_format", ALIGN_RESPONSE_FORMATS, _wire.DEFAULT_ALIGN_RESPONSE_FORMAT),
    VAD_MODEL,
    ALIGNMENT_MODEL,
    PREPROCESSING_FIELD,
    FILE,
)
FIELDS: dict[str, tuple[Field, ...]] = {
    "transcribe": TRANSCRIBE_FIELDS,
    "translate": TRANSLATE_FIELDS,
    "align": ALIGN_FIELDS,
}
"""The field table of each task; `openapi.py` describes the routes from these."""
REQUIRED: dict[str, tuple[str, ...]] = {
    "transcribe": ("file",),
    "translate": ("file",),
    "align": ("file", "text"),
}


def parse_form(form: FormData, fields: tuple[Field, ...]) -> dict[str, Any]:
    """Every field of `fields` parsed, in order (the first bad one raises)."""
    return {f.name: f.parse(form) for f in fields}


# --------------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True)
class FileRequest:
    """A validated transcription/translation/alignment request."""

    task: str
    model: str
    response_format: str
    granularities: tuple[str, ...]
    options: engine.FileOptions
    diarize: bool = False
    min_speakers: int | None = None
    max_speakers: int | None = None
    align_text: str | None = None


def parse_request(form: FormData, task: str) -> tuple[FileRequest, UploadFile]:
    """Validate every multipart field of a `task` ("transcribe", "translate" or "align")
    request; raise a 400/404 `ApiError`.

    Decision (align): the default format stays `verbose_json` although the reference lists
    `json`: the `fireworks-ai` SDK's `align()` omits the field when not given ("defaults to
    verbose_json") and parses a verbose response, so a `json` default would break that
    published client. `vad_model`, `alignment_model` and `preprocessing` are validated and
    accepted; the language is English. (Transcriptions and translations apply `preprocessing`.)
    """
    v = parse_form(form, FIELDS[task])
    upload: UploadFile = v["file"]
    if task == "align":
        req = FileRequest(
            task="align",
            model=_wire.DEFAULT_MODEL,
            response_format=v["response_format"],
            granularities=("word", "segment"),
            options=engine.FileOptions(language="en"),
            align_text=v["text"],
        )
        return req, upload
    fmt = v["response_format"]
    granularities = v["timestamp_granularities"] or ("segment",)
    if v["timestamp_granularities"] is not None and fmt != "verbose_json":
        raise bad("timestamp_granularities requires response_format=verbose_json")
    diarize = bool(v.get("diarize"))
    min_s, max_s = v.get("min_speakers"), v.get("max_speakers")
    if diarize and (fmt != "verbose_json" or "word" not in granularities):
        raise bad(
            "diarize=true requires response_format=verbose_json and "
            "timestamp_granularities including 'word'"
        )
    if (min_s is not None or max_s is not None) and not diarize:
        raise bad("min_speakers and max_speakers require diarize=true")
    if min_s is not None and max_s is not None and min_s > max_s:
        raise bad(f"min_speakers ({min_s}) must not exceed max_speakers ({max_s})")
    vad = v["vad_model"] is not None and not v["skip_vad"]
    opts = engine.FileOptions(
        task=task,
        language=v["language"],
        prompt=v["prompt"],
        temperature=v["temperature"],
        vad=vad,
        preprocessing=v["preprocessing"] or "none",
        speech_model="segmentation" if diarize and vad else "silero",
    )
    req = FileRequest(
        task=task,
        model=v["model"],
        response_format=fmt,
        granularities=granularities,
        options=opts,
        diarize=diarize,
        min_speakers=min_s,
        max_speakers=max_s,
    )
    return req, upload


def parse_stream_params(qp: QueryParams) -> dict[str, str]:
    """Validate the streaming query parameters; return the dict given to `serve_stream`
    (see the WebSocket route's docstring)."""
    params: dict[str, str] = {}
    for key in qp:
        if key in ("Authorization", "authorization"):
            continue
        params[key] = qp.get(key) or ""
    model = params.get("model") or _wire.DEFAULT_MODEL
    if model not in STREAM_MODELS:
        raise model_not_found(model, STREAM_MODELS)
    params["model"] = model
    params["response_format"] = enum_value(
        params.get("response_format") or None,
        "response_format",
        _wire.STREAM_RESPONSE_FORMATS,
        _wire.DEFAULT_STREAM_RESPONSE_FORMAT,
    )
    lang = parse_language(params.get("language") or None)
    if lang is not None and lang != "en":
        raise bad(
            f"language {lang!r} is not available for streaming: the embedded live engine is "
            "English-only (Whisper tiny.en); use a file transcription for other languages"
        )
    if lang is not None:
        params["language"] = lang
    elif "language" in params:
        del params["language"]
    if params.get("temperature"):
        float_value("temperature", params["temperature"], TEMPERATURE_LO, TEMPERATURE_HI)
    gran = [g for name in _wire.GRANULARITY_FIELDS for g in qp.getlist(name)]
    params.pop("timestamp_granularities[]", None)
    if any(g.strip() for g in gran):
        params["timestamp_granularities"] = ",".join(parse_granularities(gran))
    else:
        params.pop("timestamp_granularities", None)
    if params.get("text_timeout_seconds"):
        float_value("text_timeout_seconds", params["text_timeout_seconds"], 0.01, 3600.0)
    skip_vad = params.get("skip_vad")
    if skip_vad and skip_vad.strip().lower() not in ("true", "false", "1", "0"):
        raise bad(f"invalid skip_vad {skip_vad!r}; expected true or false")
    diarize = params.get("diarize")
    if diarize and diarize.strip().lower() not in ("true", "false", "1", "0"):
        raise bad(f"invalid diarize {diarize!r}; expected true or false")
    return params
