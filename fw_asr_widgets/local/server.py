"""The embedded Fireworks-compatible audio server (FastAPI on uvicorn).

Routes (as `docs/fireworks-audio-api.md`): `POST /v1/audio/transcriptions`,
`POST /v1/audio/translations`, `POST /v1/audio/alignments` (approximate: see
`engine.align_words`), each also under `/inference/v1/audio/...` (the reference's curl
examples), WebSocket `/v1/audio/transcriptions/streaming`, plus `GET /health` and the
OpenAPI schema at `/openapi.json`; `GET /`, `GET /v1/models` and the offline `GET /docs` page
come from `_info`.

Every error body has the Fireworks shape
`{"error": {"object": "error", "type": <type>, "message": <text>}}`:

| status | type | when |
|---|---|---|
| 400 | `invalid_request_error` | bad field value or type, bad enum, malformed multipart, |
|     |                         | undecodable audio, URL as `file`, multilingual model missing |
| 401 | `authentication_error` | missing or wrong key on a server started with a key |
| 404 | `not_found_error` | unknown model (the message lists the available ones), unknown path |
| 405 | `invalid_request_error` | wrong HTTP method |
| 413 | `request_too_large` | body above `max_upload_bytes` (from Content-Length, or counted) |
| 429 | `rate_limit_error` | job queue full; carries `Retry-After` (seconds) |
| 500 | `internal_error` | unexpected failure (the server keeps serving) |
| 501 | `not_implemented_error` | streaming module missing (WebSocket denial) |

FastAPI's own 422 validation errors never appear: they are mapped to 400.
The local model that served a request is named in the response header `x-fw-asr-local-model`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hmac
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from fw_asr_widgets.audio import AudioDecodeError
from fw_asr_widgets.local import _info, engine, models

log = logging.getLogger("fw_asr_widgets.local")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

GIB = 1024**3
MODEL_HEADER = "x-fw-asr-local-model"

FILE_MODELS: tuple[str, ...] = ("whisper-v3", "whisper-v3-turbo")
"""Model names accepted for files. Decision: the streaming-only names (`fireworks-asr-large`,
`fireworks-asr-v2`) are accepted on the WebSocket only; every name maps to the same local
models (tiny.en for English, base for other languages and translation)."""
STREAM_MODELS: tuple[str, ...] = models.FIREWORKS_MODELS

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
STREAM_RESPONSE_FORMATS = ("verbose_json", "json")
VAD_MODELS = ("silero", "whisperx-pyannet")
ALIGNMENT_MODELS = ("tdnn_ffn", "mms_fa", "gentle")
PREPROCESSING = ("none", "dynamic", "soft_dynamic", "bass_dynamic")
GRANULARITIES = ("word", "segment")
MULTIPART_SLACK = 1024 * 1024
DISCONNECT_POLL_SECONDS = 0.2
"""How often a running job checks whether its client is still connected."""
"""Bytes allowed on top of `max_upload_bytes` for the multipart framing and text fields."""


def _whisper_languages() -> tuple[str, ...]:
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        return tuple(_LANGUAGE_CODES)
    except ImportError:  # pragma: no cover - faster-whisper ships with the local extra
        return ("en",)


LANGUAGES = _whisper_languages()


@dataclass(frozen=True)
class Settings:
    """Server settings. `api_key=None` means no authentication (loopback only)."""

    api_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    max_upload_bytes: int = GIB
    max_concurrent_jobs: int = 1
    max_queued_jobs: int = 16
    max_concurrent_streams: int = 2
    retry_after_seconds: int = 5

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_concurrent_jobs", "max_concurrent_streams"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.max_queued_jobs < 0 or self.retry_after_seconds < 1:
            raise ValueError("max_queued_jobs must be >= 0 and retry_after_seconds >= 1")

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "'***'"
        return (
            f"Settings(api_key={key}, host={self.host!r}, port={self.port!r}, "
            f"max_upload_bytes={self.max_upload_bytes!r}, "
            f"max_concurrent_jobs={self.max_concurrent_jobs!r}, "
            f"max_queued_jobs={self.max_queued_jobs!r}, "
            f"max_concurrent_streams={self.max_concurrent_streams!r})"
        )


class ApiError(Exception):
    """An error answered with the Fireworks error body."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.headers = headers or {}


_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_implemented_error",
}


def error_body(message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    """The Fireworks error body."""
    return {"error": {"object": "error", "type": type, "message": message}}


def error_response(
    status: int, message: str, type: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSONResponse carrying the Fireworks error body."""
    t = type or _STATUS_TYPES.get(status, "internal_error" if status >= 500 else "error")
    return JSONResponse(error_body(message, t), status_code=status, headers=headers)


# --------------------------------------------------------------------------------------------
# Authentication and upload size (pure ASGI middleware: runs before any body is read)


def check_key(expected: str | None, header: str | None) -> bool:
    """True if `header` (`<key>` or `Bearer <key>`) carries `expected` (constant time)."""
    if expected is None:
        return True
    if not header:
        return False
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return hmac.compare_digest(value.encode("utf-8"), expected.encode("utf-8"))


_OPEN_PATHS = frozenset({"/health"}) | _info.OPEN_PATHS


class _TooLargeError(Exception):
    pass


class GuardMiddleware:
    """Checks the key on every HTTP request (except `_OPEN_PATHS`) and caps the body size.

    Oversized bodies are refused from `Content-Length` before reading, and counted while the
    app reads them (chunked uploads): the app's own response is then replaced by 413.
    WebSocket authentication happens in the WebSocket route (it needs the query parameter).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] not in _OPEN_PATHS and not check_key(
            self.settings.api_key, headers.get("authorization")
        ):
            msg = (
                "missing API key: send 'Authorization: Bearer <key>'"
                if not headers.get("authorization")
                else "invalid API key"
            )
            await error_response(401, msg)(scope, receive, send)
            return
        limit = self.settings.max_upload_bytes + MULTIPART_SLACK
        too_large = error_response(
            413, f"request body too large: the limit is {self.settings.max_upload_bytes} bytes"
        )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large(scope, receive, send)
            return
        state = {"read": 0, "over": False, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    state["over"] = True
                    raise _TooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:
                return  # the app's answer to a truncated body is replaced by 413 below
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLargeError:
            pass
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await too_large(scope, receive, send)


# --------------------------------------------------------------------------------------------
# Job slots


class JobSlots:
    """At most `running` jobs at once and `queued` waiting; beyond that `enter` raises 429."""

    def __init__(self, running: int, queued: int, retry_after: int) -> None:
        self.running = max(1, running)
        self.queued = max(0, queued)
        self.retry_after = retry_after
        self.in_flight = 0
        self.active = 0
        self.cancelled = 0
        self._sem: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.running)
        return self._sem

    def enter(self) -> None:
        """Reserve a place (running or queued) or raise a 429 `ApiError`."""
        if self.in_flight >= self.running + self.queued:
            raise ApiError(
                429,
                f"the embedded engine is busy ({self.in_flight} jobs in progress or queued); "
                f"retry in {self.retry_after} s",
                "rate_limit_error",
                {"Retry-After": str(self.retry_after)},
            )
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1

    async def run(self, fn: Callable[..., Any], *args: Any, request: Request | None = None) -> Any:
        """Run `fn(*args, cancel=event)` in a worker thread once a running slot is free.

        With `request`, its connection is watched while the job waits and runs: when the
        client disconnects, the event is set (the engine stops at its next check) and the
        job ends with `JobCancelled`, freeing the slot for the next request.
        """
        import anyio.to_thread

        cancel = threading.Event()
        watcher = asyncio.create_task(_watch_disconnect(request, cancel)) if request else None
        try:
            async with self._semaphore():
                if cancel.is_set():  # gone while queued: never started
                    raise engine.JobCancelled("the client went away before the job started")
                self.active += 1
                try:
                    job = functools.partial(fn, cancel=cancel)
                    return await anyio.to_thread.run_sync(job, *args)
                finally:
                    self.active -= 1
        except engine.JobCancelled:
            self.cancelled += 1
            raise
        finally:
            if watcher is not None:
                watcher.cancel()


async def _watch_disconnect(request: Request, cancel: threading.Event) -> None:
    """Set `cancel` when the client of `request` disconnects (polled every 0.2 s)."""
    with contextlib.suppress(asyncio.CancelledError):
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await asyncio.sleep(DISCONNECT_POLL_SECONDS)


# --------------------------------------------------------------------------------------------
# Multipart fields


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _text_field(form: FormData, name: str) -> str | None:
    values = form.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise _bad(f"field {name!r} was given {len(values)} times; give it once")
    v = values[0]
    if not isinstance(v, str):
        raise _bad(f"field {name!r} must be a text field, not a file")
    v = v.strip()
    return v or None


def _enum(form: FormData, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    v = _text_field(form, name)
    if v is None:
        return default
    if v not in allowed:
        raise _bad(f"invalid {name} {v!r}; allowed values: {', '.join(allowed)}")
    return v


def _bool(form: FormData, name: str) -> bool | None:
    v = _text_field(form, name)
    if v is None:
        return None
    low = v.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise _bad(f"invalid {name} {v!r}; expected 'true' or 'false'")


def _float(name: str, v: str, lo: float, hi: float) -> float:
    try:
        x = float(v)
    except ValueError:
        raise _bad(f"invalid {name} {v!r}; expected a number") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise _bad(f"invalid {name} {v!r}; expected a number between {lo:g} and {hi:g}")
    return x


def _int(form: FormData, name: str, lo: int, hi: int) -> int | None:
    v = _text_field(form, name)
    if v is None:
        return None
    try:
        x = int(v)
    except ValueError:
        raise _bad(f"invalid {name} {v!r}; expected an integer") from None
    if not lo <= x <= hi:
        raise _bad(f"invalid {name} {v!r}; expected an integer between {lo} and {hi}")
    return x


def parse_temperature(raw: str | None) -> tuple[float, ...]:
    """`temperature`: one float or a comma-separated list of fallback temperatures in [0, 1]."""
    if raw is None:
        return (0.0,)
    parts = [p.strip() for p in raw.split(",")]
    if not all(parts):
        raise _bad(f"invalid temperature {raw!r}; expected a number or comma-separated numbers")
    return tuple(_float("temperature", p, 0.0, 1.0) for p in parts)


def parse_granularities(values: list[str]) -> tuple[str, ...]:
    """Repeated and/or comma-separated `timestamp_granularities`; default `segment`."""
    out: list[str] = []
    for raw in values:
        for part in raw.split(","):
            p = part.strip()
            if not p:
                continue
            if p not in GRANULARITIES:
                raise _bad(f"invalid timestamp_granularities {p!r}; allowed values: word, segment")
            if p not in out:
                out.append(p)
    return tuple(out) or ("segment",)


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


def parse_language(raw: str | None) -> str | None:
    """ISO 639-1 code from Whisper's set (case-insensitive), or None for detection.

    `zh-hans`/`zh-hant` map to `zh` (`LANGUAGE_ALIASES`); `yue` is refused with a 400 that
    says what to use instead (`UNAVAILABLE_LANGUAGES`)."""
    if raw is None:
        return None
    code = raw.strip().lower().replace("_", "-")
    code = LANGUAGE_ALIASES.get(code, code)
    if code in UNAVAILABLE_LANGUAGES:
        raise _bad(UNAVAILABLE_LANGUAGES[code])
    if code not in LANGUAGES:
        raise _bad(
            f"invalid language {raw!r}; expected an ISO 639-1 code Whisper knows: "
            + ", ".join(LANGUAGES)
        )
    return code


def model_not_found(name: str, available: tuple[str, ...]) -> ApiError:
    return ApiError(
        404,
        f"model {name!r} not found; available: {', '.join(available)}",
        "not_found_error",
    )


@dataclass(frozen=True)
class FileRequest:
    """A validated transcription/translation request."""

    task: str
    model: str
    response_format: str
    granularities: tuple[str, ...]
    options: engine.FileOptions
    diarize: bool = False
    min_speakers: int | None = None
    max_speakers: int | None = None
    align_text: str | None = None


_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)


def _url_error(url: str) -> ApiError:
    shown = url if len(url) <= 80 else url[:77] + "..."
    return _bad(
        f"'file' is a URL ({shown!r}): the embedded engine works offline and does not fetch "
        "URLs; upload the audio file itself"
    )


def parse_file_field(form: FormData) -> UploadFile:
    """The `file` upload. Decision: a URL (string field, or an upload whose whole content is
    a URL, as the Fireworks SDK sends it) is refused with 400: the engine is offline."""
    values = form.getlist("file")
    if not values:
        raise _bad("missing required field 'file' (the audio file to transcribe)")
    if len(values) > 1:
        raise _bad("field 'file' was given more than once; send one audio file")
    v = values[0]
    if isinstance(v, str):
        if _URL.match(v.strip()):
            raise _url_error(v.strip())
        raise _bad("field 'file' must be an uploaded audio file (multipart file part)")
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


def parse_file_request(form: FormData, task: str) -> FileRequest:
    """Validate every multipart field of a transcription (`task="transcribe"`) or
    translation (`task="translate"`) request; raise a 400/404 `ApiError`."""
    model = _text_field(form, "model") or "whisper-v3"
    if model not in FILE_MODELS:
        raise model_not_found(model, FILE_MODELS)
    response_format = _enum(form, "response_format", RESPONSE_FORMATS, "json")
    assert response_format is not None
    vad_model = _enum(form, "vad_model", VAD_MODELS, "silero")
    _enum(form, "alignment_model", ALIGNMENT_MODELS, "tdnn_ffn")
    _enum(form, "preprocessing", PREPROCESSING, "none")
    _text_field(form, "diarization_model")  # any name; the local diarizer is used
    skip_vad = _bool(form, "skip_vad")
    max_clip_len = _text_field(form, "max_clip_len")
    if max_clip_len is not None:
        _float("max_clip_len", max_clip_len, 0.0, 1e9)
    prompt = _text_field(form, "prompt")
    temperature = parse_temperature(_text_field(form, "temperature"))
    raw_gran = [
        v
        for name in ("timestamp_granularities", "timestamp_granularities[]")
        for v in form.getlist(name)
        if isinstance(v, str)
    ]
    granularities = parse_granularities(raw_gran)
    if raw_gran and response_format != "verbose_json":
        raise _bad("timestamp_granularities requires response_format=verbose_json")
    language = parse_language(_text_field(form, "language"))
    diarize = False
    min_s = max_s = None
    if task == "transcribe":
        diarize = bool(_bool(form, "diarize"))
        min_s = _int(form, "min_speakers", 1, MAX_SPEAKERS)
        max_s = _max_speakers(form)
        if diarize and (response_format != "verbose_json" or "word" not in granularities):
            raise _bad(
                "diarize=true requires response_format=verbose_json and "
                "timestamp_granularities including 'word'"
            )
        if (min_s is not None or max_s is not None) and not diarize:
            raise _bad("min_speakers and max_speakers require diarize=true")
        if min_s is not None and max_s is not None and min_s > max_s:
            raise _bad(f"min_speakers ({min_s}) must not exceed max_speakers ({max_s})")
    vad = vad_model is not None and not skip_vad
    opts = engine.FileOptions(
        task=task, language=language, prompt=prompt, temperature=temperature, vad=vad
    )
    return FileRequest(
        task=task,
        model=model,
        response_format=response_format,
        granularities=granularities,
        options=opts,
        diarize=diarize,
        min_speakers=min_s,
        max_speakers=max_s,
    )


MAX_SPEAKERS = 32
"""The most speakers the local diarizer separates. Decision: the reference has no upper bound
for `max_speakers` (default "inf"), so larger values (and `inf`) are clamped to this, not
refused; `min_speakers` above it cannot be honoured and is a 400."""


def _max_speakers(form: FormData) -> int | None:
    v = _text_field(form, "max_speakers")
    if v is None:
        return None
    if v.lower() in ("inf", "infinity"):
        return MAX_SPEAKERS
    try:
        x = int(v)
    except ValueError:
        raise _bad(f"invalid max_speakers {v!r}; expected an integer or 'inf'") from None
    if x < 1:
        raise _bad(f"invalid max_speakers {v!r}; expected an integer of at least 1")
    return min(x, MAX_SPEAKERS)


_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


def decode_error_message(filename: str | None, exc: AudioDecodeError) -> str:
    """A plain message for undecodable audio (no FFmpeg error numbers, no temp paths)."""
    detail = str(exc)
    prefix = f"{exc.source}: "  # the source may be a temp file's name or descriptor number
    if exc.source is not None and detail.startswith(prefix):
        detail = detail[len(prefix) :]
    detail = _ERRNO.sub("", detail).replace(": 'None'", "")
    return f"could not decode the uploaded file {filename or 'file'!r} as audio: {detail}"


ALIGN_RESPONSE_FORMATS = ("json", "verbose_json", "srt", "vtt")


def parse_align_request(form: FormData) -> FileRequest:
    """Validate an alignment request (`text` required; formats json (`{"text": ...}`),
    verbose_json, srt, vtt).

    Decision: the default stays `verbose_json` although the reference lists `json`: the
    `fireworks-ai` SDK's `align()` omits the field when not given ("defaults to verbose_json")
    and parses a verbose response, so a `json` default would break that published client.
    """
    values = form.getlist("text")
    text = values[0] if len(values) == 1 and isinstance(values[0], str) else None
    if len(values) > 1:
        raise _bad("field 'text' was given more than once")
    if text is None or not text.strip():
        raise _bad("missing required field 'text' (the transcript to align)")
    response_format = _enum(form, "response_format", ALIGN_RESPONSE_FORMATS, "verbose_json")
    assert response_format is not None
    _enum(form, "vad_model", VAD_MODELS, "silero")
    _enum(form, "alignment_model", ALIGNMENT_MODELS, "tdnn_ffn")
    _enum(form, "preprocessing", PREPROCESSING, "none")
    return FileRequest(
        task="align",
        model="whisper-v3",
        response_format=response_format,
        granularities=("word", "segment"),
        options=engine.FileOptions(language="en"),
        align_text=text,
    )


def shape_response(req: FileRequest, full: dict[str, Any], model_name: str) -> Response:
    """Render the verbose dict in the requested `response_format`."""
    headers = {MODEL_HEADER: model_name}
    fmt = req.response_format
    if fmt == "json":
        return JSONResponse({"text": full["text"]}, headers=headers)
    if fmt == "text":
        return PlainTextResponse(full["text"], headers=headers)
    if fmt == "srt":
        return PlainTextResponse(
            engine.to_srt(full), headers=headers, media_type="application/x-subrip"
        )
    if fmt == "vtt":
        return PlainTextResponse(engine.to_vtt(full), headers=headers, media_type="text/vtt")
    body: dict[str, Any] = {
        "task": full["task"],
        "language": full["language"],
        "duration": full["duration"],
        "text": full["text"],
    }
    want_words = "word" in req.granularities
    if want_words:
        body["words"] = full["words"]
    if "segment" in req.granularities:
        segs = []
        for s in full["segments"]:
            s = dict(s)
            if not want_words:
                s.pop("words", None)
            segs.append(s)
        body["segments"] = segs
    return JSONResponse(body, headers=headers)


# --------------------------------------------------------------------------------------------
# OpenAPI description of the multipart bodies (the routes parse the form themselves)

_COMMON_PROPS: dict[str, Any] = {
    "file": {"type": "string", "format": "binary", "description": "the audio file"},
    "model": {"type": "string", "enum": list(FILE_MODELS), "default": "whisper-v3"},
    "vad_model": {"type": "string", "enum": list(VAD_MODELS), "default": "silero"},
    "alignment_model": {"type": "string", "enum": list(ALIGNMENT_MODELS), "default": "tdnn_ffn"},
    "skip_vad": {"type": "string", "enum": ["true", "false"]},
    "prompt": {"type": "string"},
    "response_format": {"type": "string", "enum": list(RESPONSE_FORMATS), "default": "json"},
    "temperature": {
        "type": "string",
        "description": "a float in [0, 1] or comma-separated fallback temperatures",
        "default": "0",
    },
    "preprocessing": {"type": "string", "enum": list(PREPROCESSING)},
    "max_clip_len": {"type": "string", "description": "seconds (float)"},
    "timestamp_granularities": {
        "type": "string",
        "description": "word and/or segment, comma-separated or repeated",
    },
    "language": {"type": "string", "description": "ISO 639-1 code; omit to detect"},
}
_TRANSCRIBE_PROPS = {
    **_COMMON_PROPS,
    "diarize": {"type": "string", "enum": ["true", "false"], "default": "false"},
    "min_speakers": {"type": "string", "description": "integer, with diarize=true"},
    "max_speakers": {"type": "string", "description": "integer, with diarize=true"},
    "diarization_model": {"type": "string"},
}
_ALIGN_PROPS: dict[str, Any] = {
    "file": _COMMON_PROPS["file"],
    "text": {"type": "string", "description": "the transcript to align"},
    "vad_model": _COMMON_PROPS["vad_model"],
    "alignment_model": _COMMON_PROPS["alignment_model"],
    "preprocessing": _COMMON_PROPS["preprocessing"],
    "response_format": {
        "type": "string",
        "enum": list(ALIGN_RESPONSE_FORMATS),
        "default": "verbose_json",
    },
}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "object": {"type": "string"},
                "type": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}


def _openapi_extra(props: dict[str, Any], required: tuple[str, ...] = ("file",)) -> dict[str, Any]:
    err = {"content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": list(required), "properties": props}
                }
            },
        },
        "responses": {
            "200": {
                "description": "the transcript (json, verbose_json, text, srt or vtt)",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/plain": {"schema": {"type": "string"}},
                },
            },
            **{
                code: {"description": desc, **err}
                for code, desc in (
                    ("400", "invalid request"),
                    ("401", "missing or invalid API key"),
                    ("404", "unknown model"),
                    ("413", "upload too large"),
                    ("429", "job queue full"),
                )
            },
        },
    }


# --------------------------------------------------------------------------------------------
# The app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app of the embedded engine, configured by `settings`."""
    settings = settings or Settings()
    install_denial_log_filter()
    app = FastAPI(
        title="fw-asr-widgets embedded engine",
        version="1",
        description="Offline, Fireworks-compatible audio API (Whisper via faster-whisper).",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: `_info` serves an offline page
        redoc_url=None,
    )
    slots = JobSlots(
        settings.max_concurrent_jobs, settings.max_queued_jobs, settings.retry_after_seconds
    )
    streams = {"open": 0}
    app.state.settings = settings
    app.state.slots = slots
    app.state.streams = streams

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.type, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = 400 if exc.status_code == 422 else exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            detail = f"no such path: {request.url.path}"
        return error_response(status, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
        return error_response(400, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s", request.url.path)
        return error_response(500, f"internal error ({type(exc).__name__})", "internal_error")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and load: open to everyone (no key), reveals nothing sensitive."""
        return {
            "status": "ok",
            "jobs_running": slots.active,
            "jobs_in_flight": slots.in_flight,
            "jobs_cancelled": slots.cancelled,
            "streams_open": streams["open"],
            "multilingual": models.multilingual_available(),
        }

    _info.add_routes(app, file_models=FILE_MODELS, stream_models=STREAM_MODELS)

    async def _file_job(request: Request, task: str) -> Response:
        ctype = request.headers.get("content-type", "")
        if not ctype.lower().startswith(
            ("multipart/form-data", "application/x-www-form-urlencoded")
        ):
            raise _bad(
                "the body must be multipart/form-data with a 'file' part "
                f"(got content-type {ctype or 'none'!r})"
            )
        slots.enter()
        try:
            try:
                form_cm = request.form(max_files=4, max_fields=64)
                form = await form_cm
            except _TooLargeError:
                raise
            except Exception as exc:
                detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or exc
                raise _bad(f"malformed multipart body: {detail}") from None
            try:
                req = (
                    parse_align_request(form) if task == "align" else parse_file_request(form, task)
                )
                upload = parse_file_field(form)
                if upload.size is not None and upload.size > settings.max_upload_bytes:
                    raise ApiError(
                        413,
                        f"file too large: the limit is {settings.max_upload_bytes} bytes",
                        "request_too_large",
                    )
                if upload.size == 0:
                    raise _bad(
                        f"the uploaded file {upload.filename or 'file'!r} is empty (0 bytes)"
                    )
                upload.file.seek(0)
                try:
                    result = await slots.run(_run_file, upload.file, req, request=request)
                except engine.JobCancelled:
                    raise ApiError(
                        499, "the client closed the connection; the job was cancelled", "cancelled"
                    ) from None
                except AudioDecodeError as exc:
                    raise _bad(decode_error_message(upload.filename, exc)) from None
                except engine.EngineInputError as exc:
                    raise _bad(str(exc)) from None
                return shape_response(req, result.response, result.model_name)
            finally:
                await form.close()
        finally:
            slots.leave()

    @app.post("/inference/v1/audio/transcriptions", include_in_schema=False)
    @app.post(
        "/v1/audio/transcriptions",
        openapi_extra=_openapi_extra(_TRANSCRIBE_PROPS),
        summary="Transcribe an audio file",
    )
    async def transcriptions(request: Request) -> Response:
        """Fireworks `POST /v1/audio/transcriptions` (multipart)."""
        return await _file_job(request, "transcribe")

    @app.post("/inference/v1/audio/translations", include_in_schema=False)
    @app.post(
        "/v1/audio/translations",
        openapi_extra=_openapi_extra(_COMMON_PROPS),
        summary="Translate an audio file to English text",
    )
    async def translations(request: Request) -> Response:
        """Fireworks `POST /v1/audio/translations` (multipart); `language` names the source."""
        return await _file_job(request, "translate")

    @app.post("/inference/v1/audio/alignments", include_in_schema=False)
    @app.post(
        "/v1/audio/alignments",
        openapi_extra=_openapi_extra(_ALIGN_PROPS, ("file", "text")),
        summary="Align a given transcript to an audio file",
    )
    async def alignments(request: Request) -> Response:
        """Fireworks `POST /v1/audio/alignments`: `file` + `text` -> word and segment times.

        Decision: the local engine transcribes (prompted with `text`) and times the given
        words from the recognised ones (`engine.align_words`); `alignment_model` and
        `preprocessing` are validated and accepted. `task` is `"align"` in verbose_json.
        """
        return await _file_job(request, "align")

    @app.websocket("/v1/audio/transcriptions/streaming")
    async def streaming(websocket: WebSocket) -> None:
        """Fireworks streaming transcription.

        Authentication: header `Authorization: <key>` / `Bearer <key>`, or (for browsers) the
        query parameter `Authorization=<key>`. Rejections happen BEFORE the handshake is
        accepted, as an HTTP denial response with the Fireworks error body (401 bad key,
        404 unknown model, 400 bad parameter, 429 too many streams, 501 streaming missing);
        if the ASGI server cannot send denial responses, the socket is closed with code 1008.

        Query parameters checked here: `model` (default `whisper-v3`; any Fireworks name),
        `response_format` (`verbose_json` default, or `json`), `language` (None or `en`: the
        live engine is tiny.en, English only), `temperature` (float in [0, 1]),
        `timestamp_granularities` (repeated or comma-separated `word`/`segment`; none given:
        no times), `text_timeout_seconds` (a number of seconds > 0), `skip_vad` (`true` /
        `false` in any case, `1` / `0`), `vad_kwargs` (accepted as sent: a JSON object of
        Silero options is used, anything else ignored). Other parameters are ignored.

        Then, after `await websocket.accept()`, the exact call is::

            await streaming.serve_stream(websocket, model=<tiny.en WhisperModel>, params=params)

        with `params: dict[str, str]` holding the query parameters (first value of each,
        `Authorization` removed, `model`/`response_format` filled with their defaults,
        `language` lower-cased, `timestamp_granularities` joined with commas).
        """
        qp = websocket.query_params
        header = websocket.headers.get("authorization") or qp.get("Authorization")
        if not check_key(settings.api_key, header):
            await _deny(websocket, 401, "missing or invalid API key")
            return
        try:
            params = _stream_params(websocket)
        except ApiError as exc:
            await _deny(websocket, exc.status, exc.message, exc.type)
            return
        try:
            from fw_asr_widgets.local import streaming as streaming_mod
        except ImportError:
            await _deny(websocket, 501, "streaming is not available in this build")
            return
        if streams["open"] >= settings.max_concurrent_streams:
            await _deny(
                websocket,
                429,
                f"too many open streams (limit {settings.max_concurrent_streams}); retry later",
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
            return
        streams["open"] += 1
        try:
            import anyio.to_thread

            model = await anyio.to_thread.run_sync(models.load, models.ENGLISH)
            await websocket.accept()
            await streaming_mod.serve_stream(websocket, model=model, params=params)
        finally:
            streams["open"] -= 1

    from fw_asr_widgets.local import batch  # the Batch API endpoints (local/batch.py)

    batch.mount(app, settings)
    app.add_middleware(GuardMiddleware, settings=settings)
    return app


def _run_file(
    fileobj: Any, req: FileRequest, *, cancel: threading.Event | None = None
) -> engine.FileResult:
    """Worker-thread body: transcribe (or align), then diarize if asked."""
    if req.task == "align":
        return engine.align_file(fileobj, req.align_text or "")
    result = engine.transcribe_file(fileobj, req.options, keep_audio=req.diarize, cancel=cancel)
    if req.diarize:
        engine.raise_if_cancelled(cancel)
        from fw_asr_widgets.local.diarize import diarize_response

        assert result.audio is not None
        try:
            result.response = diarize_response(
                result.audio,
                result.response,
                min_speakers=req.min_speakers,
                max_speakers=req.max_speakers,
            )
        except ValueError as exc:  # the diarizer's own check of the speaker counts
            raise engine.EngineInputError(f"diarization: {exc}") from None
        result.audio = None
    return result


def _stream_params(websocket: WebSocket) -> dict[str, str]:
    """Validate the streaming query parameters; return the dict given to `serve_stream`."""
    qp = websocket.query_params
    params: dict[str, str] = {}
    for key in qp:
        if key in ("Authorization", "authorization"):
            continue
        params[key] = qp.get(key) or ""
    model = params.get("model") or "whisper-v3"
    if model not in STREAM_MODELS:
        raise model_not_found(model, STREAM_MODELS)
    params["model"] = model
    fmt = params.get("response_format") or "verbose_json"
    if fmt not in STREAM_RESPONSE_FORMATS:
        raise _bad(
            f"invalid response_format {fmt!r}; allowed values: {', '.join(STREAM_RESPONSE_FORMATS)}"
        )
    params["response_format"] = fmt
    lang = parse_language(params.get("language") or None)
    if lang is not None and lang != "en":
        raise _bad(
            f"language {lang!r} is not available for streaming: the embedded live engine is "
            "English-only (Whisper tiny.en); use a file transcription for other languages"
        )
    if lang is not None:
        params["language"] = lang
    elif "language" in params:
        del params["language"]
    if params.get("temperature"):
        _float("temperature", params["temperature"], 0.0, 1.0)
    gran = qp.getlist("timestamp_granularities") + qp.getlist("timestamp_granularities[]")
    params.pop("timestamp_granularities[]", None)
    if any(g.strip() for g in gran):
        params["timestamp_granularities"] = ",".join(parse_granularities(gran))
    else:
        params.pop("timestamp_granularities", None)
    if params.get("text_timeout_seconds"):
        _float("text_timeout_seconds", params["text_timeout_seconds"], 0.01, 3600.0)
    skip_vad = params.get("skip_vad")
    if skip_vad and skip_vad.strip().lower() not in ("true", "false", "1", "0"):
        raise _bad(f"invalid skip_vad {skip_vad!r}; expected true or false")
    return params


async def _deny(
    websocket: WebSocket,
    status: int,
    message: str,
    type: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Refuse a WebSocket before the handshake: HTTP `status` + error body, else close 1008."""
    _WS_DENIED.set(True)
    try:
        await websocket.send_denial_response(error_response(status, message, type, headers))
    except RuntimeError:
        await websocket.close(code=1008, reason=message[:120])


_WS_DENIED: contextvars.ContextVar[bool] = contextvars.ContextVar("fw_ws_denied", default=False)


class _DenialLogFilter(logging.Filter):
    """Drop uvicorn's "returned without completing handshake" error after a denial response.

    uvicorn's websockets-sansio protocol logs that error whenever the app ends a connection
    with a `websocket.http.response` (a 401/404/429 refusal, which is deliberate here). The
    app runs in the connection's task, so `_WS_DENIED` set by `_deny` is still visible when
    uvicorn logs; any other cause of the message is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            _WS_DENIED.get() and str(record.msg).startswith("ASGI callable returned without")
        )


_denial_filter = _DenialLogFilter()


def install_denial_log_filter() -> None:
    """Attach `_DenialLogFilter` to uvicorn's error logger (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if _denial_filter not in logger.filters:
        logger.addFilter(_denial_filter)
