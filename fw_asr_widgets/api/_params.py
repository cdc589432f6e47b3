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
- The request options are declared once, as the TypedDicts `TranscribeOptions`,
  `TranslateOptions` and `AlignOptions`; each enum once, as a `Literal` (the tuples of allowed
  values are read from it). The client methods take `**options: Unpack[...]` (IDEs and type
  checkers complete and check the keywords) and `options_signature` gives them the full
  keyword-only signature, so `help(Client.transcribe)` and `inspect.signature` list every
  option with its type and default as before. Chosen over generating the sync twins from the
  async code (httpcore's unasync): with `**options` the sync methods are two-line wrappers,
  nothing is generated, and there is no generated file to keep up to date. Unknown keywords
  raise `TypeError` as they did with explicit parameters.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ForwardRef, Literal, TypedDict, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Unpack

from fw_asr_widgets import _wire

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
AlignResponseFormat = Literal["srt", "verbose_json", "vtt"]
Granularity = Literal["word", "segment"]
VadModel = Literal["silero", "whisperx-pyannet"]
AlignmentModel = Literal["tdnn_ffn", "mms_fa", "gentle"]
Preprocessing = Literal["none", "dynamic", "soft_dynamic", "bass_dynamic"]
Temperature = float | Sequence[float]

# The values (shared with the embedded engine and its OpenAPI schema) live in `_wire`; the
# Literal types above spell them again for type checkers (tests/test_wire.py checks they agree).
DEFAULT_MODEL = _wire.DEFAULT_MODEL
DEFAULT_GRANULARITIES: tuple[str, ...] = ("word", "segment")
"""Sent with every `verbose_json` request unless the caller chooses (see Decisions)."""
RESPONSE_FORMATS = _wire.RESPONSE_FORMATS
ALIGN_RESPONSE_FORMATS = _wire.ALIGN_RESPONSE_FORMATS
JSON_FORMATS = _wire.JSON_FORMATS
GRANULARITIES = _wire.GRANULARITIES
VAD_MODELS = _wire.VAD_MODELS
ALIGNMENT_MODELS = _wire.ALIGNMENT_MODELS
PREPROCESSING = _wire.PREPROCESSING


# ---------------------------------------------------------------------------------------------
# The request options: declared once here; the client methods take them as `**options`.
# ---------------------------------------------------------------------------------------------


class TranslateOptions(TypedDict, total=False):
    """Keyword options of `translate` (and, with `TranscribeOptions`' additions, `transcribe`)."""

    model: str
    language: str | None
    prompt: str | None
    temperature: Temperature | None
    response_format: ResponseFormat | None
    timestamp_granularities: list[Granularity] | str | None
    vad_model: VadModel | None
    alignment_model: AlignmentModel | None
    preprocessing: Preprocessing | None
    skip_vad: bool | None
    max_clip_len: float | None
    extra_fields: Mapping[str, Any] | None


class TranscribeOptions(TranslateOptions, total=False):
    """Keyword options of `transcribe`: `translate`'s plus diarization."""

    diarize: bool | None
    min_speakers: int | None
    max_speakers: int | None
    diarization_model: str | None


class AlignOptions(TypedDict, total=False):
    """Keyword options of `align` (`model` only picks the host; it is not sent)."""

    model: str
    response_format: AlignResponseFormat | None
    vad_model: VadModel | None
    alignment_model: AlignmentModel | None
    preprocessing: Preprocessing | None
    extra_fields: Mapping[str, Any] | None


_METHOD_OF = {
    "TranscribeOptions": "transcribe",
    "TranslateOptions": "translate",
    "AlignOptions": "align",
}
"""The client method whose options each TypedDict declares (named in TypeErrors)."""

F = TypeVar("F", bound=Callable[..., Any])


def _annotation(value: object) -> object:
    return value.__forward_arg__ if isinstance(value, ForwardRef) else value


def options_signature(options: type, *, defaults: Mapping[str, object]) -> Callable[[F], F]:
    """Give a `(self, file, ..., **options)` method the full signature `help()` shows.

    The method's own parameters stay first; each key of the `options` TypedDict becomes a
    keyword-only parameter (default `defaults.get(key)`, i.e. None), `extra_fields` last.
    """

    def deco(fn: F) -> F:
        sig = inspect.signature(fn)
        head = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        hints = dict(options.__annotations__)
        names = [k for k in hints if k != "extra_fields"] + ["extra_fields"] * (
            "extra_fields" in hints
        )
        tail = [
            inspect.Parameter(
                k,
                inspect.Parameter.KEYWORD_ONLY,
                default=defaults.get(k),
                annotation=_annotation(hints[k]),
            )
            for k in names
        ]
        fn.__signature__ = sig.replace(parameters=[*head, *tail])  # type: ignore[attr-defined]
        return fn

    return deco


def _check_keys(options: Mapping[str, object], allowed: type) -> None:
    method = _METHOD_OF[allowed.__name__]
    for key in options:
        if key not in allowed.__annotations__:
            raise TypeError(f"{method}() got an unexpected keyword argument {key!r}")


def model_of(options: Mapping[str, object]) -> Any:
    """The `model` option as given, `DEFAULT_MODEL` when absent."""
    return options.get("model", DEFAULT_MODEL)


_LANG_RE = re.compile(r"^[A-Za-z]{2,3}$")


def _enum(name: str, value: object, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; allowed values: {', '.join(allowed)}")
    return value


# The small validators below share a shape (None passes, a wrong type raises) and differ in
# the test and the message; one per wire type keeps each error message exact.
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
        if f is None or not _wire.TEMPERATURE_RANGE[0] <= f <= _wire.TEMPERATURE_RANGE[1]:
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
    **options: Unpack[TranscribeOptions],
) -> tuple[list[tuple[str, str]], str]:
    """Validate transcription options → (form fields, effective response_format)."""
    _check_keys(options, TranscribeOptions)
    o: Mapping[str, Any] = options
    diarize_b = _bool("diarize", o.get("diarize"))
    min_s = _positive_int("min_speakers", o.get("min_speakers"))
    max_s = _positive_int("max_speakers", o.get("max_speakers"))
    if (min_s is not None or max_s is not None) and not diarize_b:
        raise ValueError("min_speakers/max_speakers are only allowed with diarize=True")
    if min_s is not None and max_s is not None and min_s > max_s:
        raise ValueError(f"min_speakers ({min_s}) must not exceed max_speakers ({max_s})")
    if o.get("diarization_model") is not None and not diarize_b:
        raise ValueError("diarization_model is only allowed with diarize=True")
    fmt, grans = _formats(
        o.get("response_format"), o.get("timestamp_granularities"), diarize=bool(diarize_b)
    )
    fields = _common_fields(o, fmt, grans)
    fields.update(diarize=diarize_b, min_speakers=min_s, max_speakers=max_s)
    # The rest after the speaker fields, in the order the Fireworks SDK sends them.
    fields.update(
        vad_model=fields.pop("vad_model"),
        alignment_model=fields.pop("alignment_model"),
        preprocessing=fields.pop("preprocessing"),
        diarization_model=_name_like("diarization_model", o.get("diarization_model")),
        skip_vad=fields.pop("skip_vad"),
        max_clip_len=fields.pop("max_clip_len"),
    )
    return _merge_extra(fields, o.get("extra_fields")), fmt


def _common_fields(o: Mapping[str, Any], fmt: str, grans: list[str] | None) -> dict[str, object]:
    """The fields transcription and translation share, in the order they are sent."""
    fields: dict[str, object] = {
        "model": _name_like("model", model_of(o)),
        "language": validate_language(o.get("language")),
        "prompt": _text("prompt", o.get("prompt")),
        "temperature": validate_temperature(o.get("temperature")),
        "response_format": fmt,
        "timestamp_granularities": grans,
        "vad_model": _enum("vad_model", o.get("vad_model"), VAD_MODELS),
        "alignment_model": _enum("alignment_model", o.get("alignment_model"), ALIGNMENT_MODELS),
        "preprocessing": _enum("preprocessing", o.get("preprocessing"), PREPROCESSING),
        "skip_vad": _bool("skip_vad", o.get("skip_vad")),
        "max_clip_len": _positive_float("max_clip_len", o.get("max_clip_len")),
    }
    if fields["model"] is None:
        raise ValueError("model is required, e.g. 'whisper-v3'")
    return fields


def translation_fields(
    **options: Unpack[TranslateOptions],
) -> tuple[list[tuple[str, str]], str]:
    """Validate translation options → (form fields, effective response_format)."""
    _check_keys(options, TranslateOptions)
    o: Mapping[str, Any] = options
    fmt, grans = _formats(o.get("response_format"), o.get("timestamp_granularities"))
    return _merge_extra(_common_fields(o, fmt, grans), o.get("extra_fields")), fmt


def alignment_fields(
    *, text: object, **options: Unpack[AlignOptions]
) -> tuple[list[tuple[str, str]], str]:
    """Validate alignment options → (form fields, effective response_format).

    `model` only routes the request to a host (the alignment request has no model field);
    it is not sent.
    """
    _check_keys(options, AlignOptions)
    o: Mapping[str, Any] = options
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text (the transcript to align) must be a non-empty string")
    _name_like("model", o.get("model"))
    fmt = (
        _enum("response_format", o.get("response_format"), ALIGN_RESPONSE_FORMATS) or "verbose_json"
    )
    fields: dict[str, object] = {
        "text": text,
        "response_format": fmt,
        "vad_model": _enum("vad_model", o.get("vad_model"), VAD_MODELS),
        "alignment_model": _enum("alignment_model", o.get("alignment_model"), ALIGNMENT_MODELS),
        "preprocessing": _enum("preprocessing", o.get("preprocessing"), PREPROCESSING),
    }
    return _merge_extra(fields, o.get("extra_fields")), fmt
