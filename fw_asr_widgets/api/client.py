"""`AsyncClient` and its sync twin `Client` for the pre-recorded audio API.

    >>> import fw_asr_widgets as fw
    >>> tr = fw.Client().transcribe("meeting.wav")
    >>> tr.text, tr.words[0]

Where requests go:
- `base_url=` given: that server (a host root, or with a trailing `/v1` as the OpenAI SDK
  takes it), for every model;
- an API key (`api_key=` or `FIREWORKS_API_KEY`) and no `base_url`: the Fireworks host of
  the request's model (`whisper-v3` and `whisper-v3-turbo` live on different hosts);
- neither: the embedded local engine (`fw_asr_widgets.local.shared_server()`, needs the
  `local` extra), started on first use and announced once per process on stderr (silence it
  with `FW_ASR_QUIET=1`; never in a Jupyter kernel) and in the `fw_asr_widgets` logger.

The sync `Client` runs an `AsyncClient` on a private event loop in a daemon thread, so it
works in scripts, inside `asyncio.run(...)` and in Jupyter cells alike. Both have the same
methods with the same parameters and docstrings.

Decisions:
- Defaults differ from the API's where a notebook user would otherwise get less than they
  expect: `response_format` defaults to `verbose_json` (timed segments, not the text alone)
  and, with it, `timestamp_granularities` to `["word", "segment"]` (the API's default is
  `segment`, which returns no words: the viewer's word highlight, word search and
  `to_pandas("word")` would be empty). Pass `timestamp_granularities=["segment"]` for
  segments alone. See `fw_asr_widgets.api._params`.
"""

from __future__ import annotations

import asyncio
import copy
import html
import inspect
import io
import logging
import os
import re
import secrets as secrets_mod
import sys
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import httpx

from fw_asr_widgets._version import __version__ as _VERSION
from fw_asr_widgets.api import _config, _params, _sync
from fw_asr_widgets.api._batch import BatchResult, iter_batch, progress_bar
from fw_asr_widgets.api._config import ENV_KEY, ClientConfig
from fw_asr_widgets.api._files import FileInput, is_url, source_name
from fw_asr_widgets.api._multipart import FileSource, MultipartUpload
from fw_asr_widgets.api._params import (
    AlignmentModel,
    AlignResponseFormat,
    Granularity,
    Preprocessing,
    ResponseFormat,
    Temperature,
    VadModel,
)
from fw_asr_widgets.api._retry import RetryPolicy, is_retryable_status, parse_retry_after
from fw_asr_widgets.api._retry import request_id as _request_id
from fw_asr_widgets.api.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    FileTooLargeError,
    RateLimitError,
    status_error_class,
)
from fw_asr_widgets.transcript import Transcript

__all__ = ["AsyncClient", "BatchResult", "Client", "FileInput"]

logger = logging.getLogger("fw_asr_widgets")

_MAX_MESSAGE = 300
SERVED_MODEL_HEADER = "x-fw-asr-local-model"
"""Response header in which the embedded engine names the local model that served a request;
its value is kept in the result's `Transcript.raw` under the same name."""
_announced = False
_announce_lock = threading.Lock()


# ---------------------------------------------------------------------------------------------
# Logging redaction: no log line of ours may contain a key, even by accident.
# ---------------------------------------------------------------------------------------------


class _RedactSecrets(logging.Filter):
    """Replaces any registered API key in a record of the `fw_asr_widgets` logger by ***."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover - malformed record
            return True
        redacted = _scrub(msg, self.secrets)
        if redacted != msg:
            record.msg, record.args = redacted, ()
        return True


_redactor = _RedactSecrets()
logger.addFilter(_redactor)


class _RedactAuthHeader(logging.Filter):
    """Hides the value of an `Authorization` header in websockets' DEBUG handshake lines
    (`> %s: %s` with the header name and value as arguments), plus any registered key."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and isinstance(args[0], str)
            and args[0].lower() in ("authorization", "proxy-authorization")
        ):
            record.args = (args[0], "***")
        return _redactor.filter(record)


for _name in ("websockets.client", "websockets.server"):
    logging.getLogger(_name).addFilter(_RedactAuthHeader())


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s and len(s) >= 4 and s in text:
            text = text.replace(s, "***")
    return text


# ---------------------------------------------------------------------------------------------
# File inputs
# ---------------------------------------------------------------------------------------------


@dataclass
class _Upload:
    """A prepared `file` argument: a URL form field, or a re-readable file part."""

    name: str
    url: str | None = None
    source: FileSource | None = None
    filename: str = "audio"
    extra: list[tuple[str, str]] = field(default_factory=list)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


_CONTAINER_EXT = {"mov,mp4,m4a,3gp,3g2,mj2": "m4a", "matroska,webm": "webm", "ogg": "ogg"}


def _ext_for(container: str) -> str:
    return _CONTAINER_EXT.get(container, container.split(",")[0] or "bin")


def _prepare_sync(file: object) -> _Upload:
    """Check `file` and make it re-readable (blocking: runs in a worker thread)."""
    from fw_asr_widgets.audio import probe

    limit = _config.MAX_UPLOAD_BYTES
    name = source_name(file)
    if isinstance(file, str) and is_url(file):
        parts = httpx.URL(file)
        if not parts.host:
            raise ValueError(f"file URL has no host: {file!r}")
        return _Upload(name=name, url=file)
    if isinstance(file, str | os.PathLike):
        path = os.fspath(file)
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such audio file", path)
        if os.path.isdir(path):
            raise IsADirectoryError(21, "Is a directory, not an audio file", path)
        size = os.stat(path).st_size
        if size > limit:
            raise FileTooLargeError(name, size, limit)
        probe(path)
        return _Upload(
            name=name, source=FileSource(path), filename=os.path.basename(path) or "audio"
        )
    if isinstance(file, bytes | bytearray | memoryview):
        src = FileSource(bytes(file))
        if src.size > limit:
            raise FileTooLargeError(name, src.size, limit)
        info = probe(src.probe_target())
        return _Upload(name=name, source=src, filename=f"audio.{_ext_for(info.container)}")
    if hasattr(file, "read"):
        if isinstance(file, io.TextIOBase):
            raise TypeError(f"{name}: open the file in binary mode ('rb'), not text mode")
        src = FileSource(file)  # type: ignore[arg-type]
        if src.size > limit:
            src.close()
            raise FileTooLargeError(name, src.size, limit)
        try:
            info = probe(src.probe_target())
        except BaseException:
            src.close()
            raise
        src.rewind()
        base = os.path.basename(name) if not name.startswith("<") else ""
        return _Upload(name=name, source=src, filename=base or f"audio.{_ext_for(info.container)}")
    recorded = _recorded_bytes(file)
    if recorded is not None:
        upload = _prepare_sync(recorded)
        upload.name = f"<{type(file).__name__} recording>"
        return upload
    raise TypeError(
        "file must be a path, bytes, a binary file object, an http(s) URL or an ipywebrtc "
        f"recording, not {type(file).__name__}"
    )


def _recorded_bytes(file: object) -> bytes | None:
    """The bytes of an ipywebrtc `AudioRecorder` (via its `.audio` widget) or `Audio` widget.

    Duck-typed on `.value` so the API layer needs no widget import. None if `file` is not one.
    """
    inner = getattr(file, "audio", None)
    holder = inner if inner is not None and hasattr(inner, "value") else file
    value = getattr(holder, "value", None)
    if not isinstance(value, bytes | bytearray | memoryview):
        return None
    if len(value) == 0:
        from fw_asr_widgets.audio import AudioDecodeError

        raise AudioDecodeError("the recording is empty: record something first", source=None)
    return bytes(value)


# ---------------------------------------------------------------------------------------------
# Error bodies
# ---------------------------------------------------------------------------------------------


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return html.unescape(text)


def _truncate(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _detail_text(detail: object) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = item.get("loc")
                where = ".".join(str(x) for x in loc) if isinstance(loc, list | tuple) else ""
                msg = str(item.get("msg", item))
                parts.append(f"{where}: {msg}" if where else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def error_message(response: httpx.Response) -> tuple[str, object | None]:
    """The server's message from a Fireworks, OpenAI, FastAPI, plain-text or HTML error body."""
    body: object | None = None
    msg = ""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping) and err.get("message"):
            msg = str(err["message"])
        elif isinstance(err, str) and err:
            msg = err
        elif body.get("detail") is not None:
            msg = _detail_text(body["detail"])
        elif body.get("message"):
            msg = str(body["message"])
    if not msg:
        try:
            text = response.text
        except (UnicodeDecodeError, httpx.ResponseNotRead):
            text = ""
        if body is None:
            body = text or None
        if "<" in text and ">" in text:
            text = _strip_html(text)
        msg = text
    msg = _truncate(msg) if msg.strip() else (response.reason_phrase or "no message")
    return msg, body


def _key_hint(config: ClientConfig) -> str:
    if config.key_source is None:
        return (
            f"no API key was sent: pass api_key=... to the client or set the {ENV_KEY} "
            "environment variable"
        )
    if config.key_source == "argument":
        return "check the key passed as the api_key argument"
    return f"check the key in the {config.key_source}"


# ---------------------------------------------------------------------------------------------
# The async client
# ---------------------------------------------------------------------------------------------


def _check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


def _announce(url: str) -> None:
    global _announced
    with _announce_lock:
        if _announced:
            return
        _announced = True
    msg = f"fw-asr-widgets: no {ENV_KEY} set; using the embedded local engine at {url}"
    logger.info(msg)
    # Not in a Jupyter kernel: there stderr is a pink box that reads like an error and would
    # save a port number in the notebook (decision: notebooks say which engine they use).
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    in_kernel = kernelapp is not None and kernelapp.IPKernelApp.initialized()
    if not in_kernel and os.environ.get("FW_ASR_QUIET", "").strip().lower() not in (
        "1",
        "true",
        "yes",
    ):
        print(msg, file=sys.stderr)


class AsyncClient:
    """Async client for pre-recorded transcription, translation and alignment.

    `AsyncClient(api_key=None, *, base_url=None, timeout=600.0, max_retries=2,
    http_client=None)`. Use it as `async with AsyncClient() as client: ...` or call
    `await client.aclose()`. A user-supplied `http_client` (an `httpx.AsyncClient`, e.g. with
    a proxy or a `MockTransport`) is used as is and not closed by the client.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                "http_client must be an httpx.AsyncClient (the sync Client runs it on its "
                f"own event loop), not {type(http_client).__name__}"
            )
        self._retry = RetryPolicy(max_retries=max_retries)
        self._timeout = _check_timeout(timeout)
        self._raw_config = ClientConfig.resolve(
            api_key, base_url, timeout=self._timeout, max_retries=max_retries
        )
        if self._raw_config.api_key is not None:
            _redactor.secrets.add(self._raw_config.api_key.get())
        self._resolved: ClientConfig | None = (
            self._raw_config if self._raw_config.base_url or self._raw_config.api_key else None
        )
        self._resolve_lock = threading.Lock()
        self._http = http_client
        self._owns_http = http_client is None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._http_owner: AsyncClient | None = None
        self._closed = False

    # -- configuration ---------------------------------------------------------------------

    @property
    def uses_embedded_engine(self) -> bool:
        """True when neither a key nor a base_url was given (requests go to the local engine)."""
        return not (self._raw_config.base_url or self._raw_config.api_key)

    @property
    def _config(self) -> ClientConfig:
        """The resolved config; with no key and no base_url this starts the embedded engine."""
        if self._resolved is not None:
            return self._resolved
        with self._resolve_lock:
            if self._resolved is None:
                try:
                    from fw_asr_widgets.local import shared_server

                    handle = shared_server()
                except ImportError as exc:
                    raise ConfigurationError(
                        f"no API key and no base_url were given, and the embedded local engine "
                        f"is not available ({exc.name or exc}). Pass api_key=... or set "
                        f"{ENV_KEY} to use Fireworks, pass base_url=... for another server, or "
                        "install the engine with: pip install 'fw-asr-widgets[local]'"
                    ) from None
                url = _config.normalize_base_url(str(handle.url))
                self._resolved = replace(self._raw_config, base_url=url)
                _announce(url)
            return self._resolved

    async def _aconfig(self) -> ClientConfig:
        if self._resolved is not None:
            return self._resolved
        return await asyncio.to_thread(lambda: self._config)

    @property
    def base_url(self) -> str | None:
        """The server root requests go to (None: per-model Fireworks hosts, or not started)."""
        cfg = self._resolved or self._raw_config
        return cfg.base_url

    @property
    def max_retries(self) -> int:
        return self._retry.max_retries

    @property
    def timeout(self) -> float:
        return self._timeout

    def __repr__(self) -> str:
        cfg = self._resolved or self._raw_config
        if cfg.base_url:
            where = repr(cfg.base_url)
        elif self.uses_embedded_engine:
            where = "'<embedded engine>'"
        else:
            where = "'<Fireworks per-model hosts>'"
        key = "'***'" if cfg.api_key is not None else "None"
        return (
            f"{type(self).__name__}(base_url={where}, api_key={key}, "
            f"timeout={self._timeout}, max_retries={self._retry.max_retries})"
        )

    def with_options(
        self, *, max_retries: int | None = None, timeout: float | None = None
    ) -> AsyncClient:
        """A copy sharing this client's connection pool, with other `max_retries`/`timeout`."""
        other = copy.copy(self)
        if max_retries is not None:
            other._retry = replace(self._retry, max_retries=max_retries)
        if timeout is not None:
            other._timeout = _check_timeout(timeout)
        other._owns_http = False
        other._http_owner = self._http_owner or self
        return other

    # -- lifecycle -------------------------------------------------------------------------

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout),
            headers={"User-Agent": f"fw-asr-widgets/{_VERSION} httpx/{httpx.__version__}"},
        )

    def _get_http(self) -> httpx.AsyncClient:
        """The connection pool; a pool the client owns is re-made per event loop, so one
        `AsyncClient` survives several `asyncio.run(...)` calls."""
        if self._closed:
            raise RuntimeError("this client is closed")
        if self._http_owner is not None:
            return self._http_owner._get_http()
        if not self._owns_http:
            assert self._http is not None
            return self._http
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            self._http = self._new_http()
            self._http_loop = loop
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool (if the client created it). Idempotent."""
        self._closed = True
        http, self._http = (self._http, None) if self._owns_http else (None, self._http)
        if http is not None and self._http_loop is asyncio.get_running_loop():
            await http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- requests --------------------------------------------------------------------------

    async def _prepare(self, file: object) -> _Upload:
        if isinstance(file, str) and is_url(file):
            return _prepare_sync(file)
        return await asyncio.to_thread(_prepare_sync, file)

    async def _post(
        self,
        path: str,
        *,
        model: str,
        fields: list[tuple[str, str]],
        file: object,
        response_format: str,
    ) -> Transcript | str:
        upload = await self._prepare(file)
        try:
            cfg = await self._aconfig()
            return await self._send(path, cfg, model, fields, upload, response_format)
        finally:
            upload.close()

    async def _send(
        self,
        path: str,
        cfg: ClientConfig,
        model: str,
        fields: list[tuple[str, str]],
        upload: _Upload,
        response_format: str,
    ) -> Transcript | str:
        http = self._get_http()
        url = cfg.http_base(model) + path
        secrets = [cfg.api_key.get()] if cfg.api_key is not None else []
        form = [("file", upload.url), *fields] if upload.url is not None else list(fields)
        policy = self._retry
        timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0))
        boundary = secrets_mod.token_hex(16)
        attempt = 0
        while True:
            body = MultipartUpload(
                form, file=upload.source, filename=upload.filename, boundary=boundary
            )
            headers = {
                **cfg.headers,
                **cfg.auth_headers(),
                **body.headers,
                "Accept": "application/json, text/plain, */*",
            }
            # An async generator as content: httpx streams it (no copy in memory) and, as
            # Content-Length is set, without chunked encoding.
            request = http.build_request(
                "POST", url, headers=headers, content=body.__aiter__(), timeout=timeout
            )
            logger.debug("POST %s (%s, %d bytes)", url, upload.name, body.content_length)
            error: APIError
            try:
                response = await http.send(request)
            except httpx.TimeoutException as exc:
                error = APITimeoutError(
                    f"the request to {url} timed out after {self._timeout:g} s "
                    f"({type(exc).__name__})"
                )
                retry_headers: httpx.Headers | None = None
            except httpx.HTTPError as exc:
                error = APIConnectionError(
                    _scrub(f"could not reach {url}: {type(exc).__name__}: {exc}", secrets)
                )
                retry_headers = None
            else:
                if response.is_success:
                    return self._parse(response, response_format, upload.name, secrets)
                if not (is_retryable_status(response.status_code) and attempt < policy.max_retries):
                    raise self._status_error(response, cfg, secrets)
                error = self._status_error(response, cfg, secrets)
                retry_headers = response.headers
            if attempt >= policy.max_retries:
                raise error
            delay = policy.delay(attempt, retry_headers)
            attempt += 1
            logger.info(
                "retrying POST %s in %.2f s (attempt %d of %d) after: %s",
                path,
                delay,
                attempt + 1,
                policy.max_retries + 1,
                error,
            )
            await policy.sleep(delay)

    @staticmethod
    def _parse(
        response: httpx.Response, response_format: str, source: str, secrets: list[str]
    ) -> Transcript | str:
        if response_format not in _params.JSON_FORMATS:
            return response.text
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, Mapping):
            snippet = _scrub(_truncate(response.text, 120), secrets)
            raise APIResponseValidationError(
                f"the server's reply is not a JSON object (truncated or wrong format?): "
                f"{snippet!r}",
                status_code=response.status_code,
                request_id=_request_id(response.headers),
            )
        served = response.headers.get(SERVED_MODEL_HEADER)
        if served and SERVED_MODEL_HEADER not in data:
            # The engine names the local model that served the request in a header; keep it
            # with the result (`Transcript.raw[SERVED_MODEL_HEADER]`) so the UI can show it.
            data = {**data, SERVED_MODEL_HEADER: served}
        try:
            return Transcript.from_response(data, source=source)
        except (TypeError, ValueError) as exc:
            raise APIResponseValidationError(
                f"the server's reply is not a transcription response: {exc}",
                status_code=response.status_code,
                request_id=_request_id(response.headers),
            ) from None

    @staticmethod
    def _status_error(
        response: httpx.Response, cfg: ClientConfig, secrets: list[str]
    ) -> APIStatusError:
        status = response.status_code
        msg, body = error_message(response)
        msg = _scrub(msg, secrets)
        if status in (401, 403):
            msg = f"{msg} ({_key_hint(cfg)})"
        cls = status_error_class(status)
        kw: dict[str, Any] = {
            "status_code": status,
            "request_id": _request_id(response.headers),
            "body": None if secrets and any(s in repr(body) for s in secrets) else body,
        }
        if cls is RateLimitError:
            return RateLimitError(msg, retry_after=parse_retry_after(response.headers), **kw)
        return cls(msg, **kw)

    # -- public API ------------------------------------------------------------------------

    async def transcribe(
        self,
        file: FileInput,
        *,
        model: str = "whisper-v3",
        language: str | None = None,
        prompt: str | None = None,
        temperature: Temperature | None = None,
        response_format: ResponseFormat | None = None,
        timestamp_granularities: list[Granularity] | str | None = None,
        diarize: bool | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        vad_model: VadModel | None = None,
        alignment_model: AlignmentModel | None = None,
        preprocessing: Preprocessing | None = None,
        diarization_model: str | None = None,
        skip_vad: bool | None = None,
        max_clip_len: float | None = None,
        extra_fields: Mapping[str, Any] | None = None,
    ) -> Transcript | str:
        """Transcribe `file` (path, bytes, binary file object, http(s) URL, ipywebrtc recording).

        Returns a `Transcript` for "verbose_json" (the default: timed segments) and "json",
        the raw text for "text", "srt" and "vtt". Fields left at None are not sent (the
        server's defaults apply). `temperature` is a float in [0, 1] or a list of fallback
        temperatures; `timestamp_granularities` ("word", "segment") selects "verbose_json"
        when `response_format` is unset, and defaults to both with "verbose_json" (the API's
        own default, segments only, gives no words). `diarize=True` selects "verbose_json"
        with word and segment timestamps when those are unset (explicit conflicting values
        raise);
        `min_speakers`/`max_speakers` need `diarize=True`. `extra_fields` adds form fields
        this version does not know. Every value is checked before anything is read or sent:
        bad values raise `ValueError`, a missing file `FileNotFoundError`, a file over 1 GB
        `FileTooLargeError`, a file that is not audio `AudioDecodeError`.
        """
        fields, fmt = _params.transcription_fields(
            model=model,
            language=language,
            prompt=prompt,
            temperature=temperature,
            response_format=response_format,
            timestamp_granularities=timestamp_granularities,
            diarize=diarize,
            min_speakers=min_speakers,
            max_speakers=max_speakers,
            vad_model=vad_model,
            alignment_model=alignment_model,
            preprocessing=preprocessing,
            diarization_model=diarization_model,
            skip_vad=skip_vad,
            max_clip_len=max_clip_len,
            extra_fields=extra_fields,
        )
        return await self._post(
            _config.TRANSCRIPTIONS_PATH,
            model=model,
            fields=fields,
            file=file,
            response_format=fmt,
        )

    async def translate(
        self,
        file: FileInput,
        *,
        model: str = "whisper-v3",
        language: str | None = None,
        prompt: str | None = None,
        temperature: Temperature | None = None,
        response_format: ResponseFormat | None = None,
        timestamp_granularities: list[Granularity] | str | None = None,
        vad_model: VadModel | None = None,
        alignment_model: AlignmentModel | None = None,
        preprocessing: Preprocessing | None = None,
        skip_vad: bool | None = None,
        max_clip_len: float | None = None,
        extra_fields: Mapping[str, Any] | None = None,
    ) -> Transcript | str:
        """Translate the speech in `file` to English text.

        Same inputs, checks and return types as `transcribe` (no diarization). `language` is
        the source language, sent when given.
        """
        fields, fmt = _params.translation_fields(
            model=model,
            language=language,
            prompt=prompt,
            temperature=temperature,
            response_format=response_format,
            timestamp_granularities=timestamp_granularities,
            vad_model=vad_model,
            alignment_model=alignment_model,
            preprocessing=preprocessing,
            skip_vad=skip_vad,
            max_clip_len=max_clip_len,
            extra_fields=extra_fields,
        )
        return await self._post(
            _config.TRANSLATIONS_PATH,
            model=model,
            fields=fields,
            file=file,
            response_format=fmt,
        )

    async def compare(
        self, file: FileInput, *, models: Iterable[str], **options: Any
    ) -> dict[str, Transcript]:
        """Transcribe `file` with each of `models` (concurrently; `options` as `transcribe`
        takes them, the response a `Transcript`): ``{model: Transcript}``, in the order of
        `models`. Show them aligned with `fw.compare(result, audio=file)`."""
        names = list(dict.fromkeys(models))
        if not names:
            raise ValueError("compare needs at least one model")
        if not isinstance(file, str | bytes | os.PathLike):
            raise TypeError("compare reads the file once per model: pass a path, URL or bytes")
        options.pop("response_format", None)
        results = await asyncio.gather(
            *(
                self.transcribe(file, model=m, response_format="verbose_json", **options)
                for m in names
            )
        )
        return dict(zip(names, results, strict=True))  # type: ignore[arg-type]

    async def align(
        self,
        file: FileInput,
        text: str,
        *,
        model: str = "whisper-v3",
        response_format: AlignResponseFormat | None = None,
        vad_model: VadModel | None = None,
        alignment_model: AlignmentModel | None = None,
        preprocessing: Preprocessing | None = None,
        extra_fields: Mapping[str, Any] | None = None,
    ) -> Transcript | str:
        """Time-align an existing transcript `text` to the speech in `file`.

        Returns a `Transcript` with word and segment times for "verbose_json" (the default),
        the subtitle text for "srt"/"vtt". `model` only picks the Fireworks host.
        """
        fields, fmt = _params.alignment_fields(
            text=text,
            model=model,
            response_format=response_format,
            vad_model=vad_model,
            alignment_model=alignment_model,
            preprocessing=preprocessing,
            extra_fields=extra_fields,
        )
        return await self._post(
            _config.ALIGNMENTS_PATH,
            model=model,
            fields=fields,
            file=file,
            response_format=fmt,
        )

    def transcribe_many(
        self,
        files: Iterable[FileInput],
        *,
        concurrency: int = 4,
        progress: bool = True,
        **transcribe_kwargs: Any,
    ) -> AsyncIterator[BatchResult]:
        """Transcribe many files, `concurrency` at a time, yielding results as they complete.

        Each item is a `BatchResult(source, transcript, error, index)`: a failing file gives
        a result with `error` set and does not stop the others. `transcribe_kwargs` are
        `transcribe`'s keyword arguments, checked once before anything starts. `progress`
        shows a `tqdm.auto` bar (a widget in notebooks).
        """
        check_batch_args(concurrency, transcribe_kwargs)
        items = list(files) if not isinstance(files, list | tuple) else files
        return self._batch(items, concurrency, progress, transcribe_kwargs)

    async def _batch(
        self,
        files: list[FileInput] | tuple[FileInput, ...],
        concurrency: int,
        progress: bool,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[BatchResult]:
        bar = progress_bar(len(files), progress)
        try:
            async for result in iter_batch(self.transcribe, files, concurrency, kwargs):
                bar.update(result)
                yield result
        finally:
            bar.close()

    # -- streaming hooks (implemented in fw_asr_widgets.api.streaming) -----------------------

    def stream(self, **params: Any) -> Any:
        """Open a live streaming session with this client's key and server.

        Returns a not-yet-connected stream object from `fw_asr_widgets.api.streaming`
        (`async with client.stream(...) as s:` for `AsyncClient`, `with` for `Client`);
        `params` are the streaming parameters (model, language, prompt, ...).
        """
        from fw_asr_widgets.api import streaming as _s

        return _s.open_async_stream(self._config, **params)

    async def stream_file(
        self, path: str | os.PathLike[str], *, speed: float | None = 1.0, **params: Any
    ) -> Transcript:
        """Stream the audio file at `path` through the live endpoint and return the transcript.

        `speed` is the pace in multiples of real time (1.0 = real time, None = as fast as the
        connection accepts); `params` as for `stream`.
        """
        from fw_asr_widgets.api import streaming as _s

        cfg = await self._aconfig()
        return await _s.async_stream_file(cfg, os.fspath(path), speed=speed, **params)


def check_batch_args(concurrency: int, kwargs: Mapping[str, Any]) -> None:
    """Validate `transcribe_many` arguments up front (unknown or bad kwargs raise now)."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
    sig = inspect.signature(AsyncClient.transcribe)
    try:
        bound = sig.bind(None, "file", **kwargs)
    except TypeError as exc:
        raise TypeError(f"transcribe_many: {exc}") from None
    bound.apply_defaults()
    args = dict(bound.arguments)
    args.pop("self", None)
    args.pop("file", None)
    _params.transcription_fields(**args)


# ---------------------------------------------------------------------------------------------
# The sync client
# ---------------------------------------------------------------------------------------------


def _same_doc(async_fn: Any) -> Any:
    def deco(fn: Any) -> Any:
        fn.__doc__ = async_fn.__doc__
        return fn

    return deco


class Client:
    """Sync client for pre-recorded transcription, translation and alignment.

    Same constructor, methods, parameters and docstrings as `AsyncClient`; calls block until
    the result is ready. Works inside a running event loop (Jupyter cells, `asyncio.run`):
    requests run on a private event loop in a daemon thread. Use `with Client() as client:`
    or call `client.close()`. `http_client` is an `httpx.AsyncClient` (it runs on that loop).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._async = AsyncClient(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )

    @classmethod
    def _wrap(cls, inner: AsyncClient) -> Client:
        obj = cls.__new__(cls)
        obj._async = inner
        return obj

    @property
    def _config(self) -> ClientConfig:
        """The resolved config; with no key and no base_url this starts the embedded engine."""
        return self._async._config

    @property
    def uses_embedded_engine(self) -> bool:
        """True when neither a key nor a base_url was given (requests go to the local engine)."""
        return self._async.uses_embedded_engine

    @property
    def base_url(self) -> str | None:
        """The server root requests go to (None: per-model Fireworks hosts, or not started)."""
        return self._async.base_url

    @property
    def max_retries(self) -> int:
        return self._async.max_retries

    @property
    def timeout(self) -> float:
        return self._async.timeout

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncClient(", "Client(", 1)

    @_same_doc(AsyncClient.with_options)
    def with_options(
        self, *, max_retries: int | None = None, timeout: float | None = None
    ) -> Client:
        return Client._wrap(self._async.with_options(max_retries=max_retries, timeout=timeout))

    def close(self) -> None:
        """Close the connection pool (if the client created it). Idempotent."""
        if self._async._owns_http and self._async._http is not None:
            _sync.run(self._async.aclose())
        self._async._closed = True

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @_same_doc(AsyncClient.transcribe)
    def transcribe(
        self,
        file: FileInput,
        *,
        model: str = "whisper-v3",
        language: str | None = None,
        prompt: str | None = None,
        temperature: Temperature | None = None,
        response_format: ResponseFormat | None = None,
        timestamp_granularities: list[Granularity] | str | None = None,
        diarize: bool | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        vad_model: VadModel | None = None,
        alignment_model: AlignmentModel | None = None,
        preprocessing: Preprocessing | None = None,
        diarization_model: str | None = None,
        skip_vad: bool | None = None,
        max_clip_len: float | None = None,
        extra_fields: Mapping[str, Any] | None = None,
    ) -> Transcript | str:
        return _sync.run(
            self._async.transcribe(
                file,
                model=model,
                language=language,
                prompt=prompt,
                temperature=temperature,
                response_format=response_format,
                timestamp_granularities=timestamp_granularities,
                diarize=diarize,
                min_speakers=min_speakers,
                max_speakers=max_speakers,
                vad_model=vad_model,
                alignment_model=alignment_model,
                preprocessing=preprocessing,
                diarization_model=diarization_model,
                skip_vad=skip_vad,
                max_clip_len=max_clip_len,
                extra_fields=extra_fields,
            )
        )

    @_same_doc(AsyncClient.translate)
    def translate(
        self,
        file: FileInput,
        *,
        model: str = "whisper-v3",
        language: str | None = None,
        prompt: str | None = None,
        temperature: Temperature | None = None,
        response_format: ResponseFormat | None = None,
        timestamp_granularities: list[Granularity] | str | None = None,
        vad_model: VadModel | None = None,
        alignment_model: AlignmentModel | None = None,
        preprocessing: Preprocessing | None = None,
        skip_vad: bool | None = None,
        max_clip_len: float | None = None,
        extra_fields: Mapping[str, Any] | None = None,
    ) -> Transcript | str:
        return _sync.run(
            self._async.translate(
                file,
                model=model,
                language=language,
                prompt=prompt,
                temperature=temperature,
                response_format=response_format,
                timestamp_granularities=timestamp_granularities,
                vad_model=vad_model,
                alignment_model=alignment_model,
                preprocessing=preprocessing,
                skip_vad=skip_vad,
                max_clip_len=max_clip_len,
                extra_fields=extra_fields,
            )
        )

    @_same_doc(AsyncClient.compare)
    def compare(
        self, file: FileInput, *, models: Iterable[str], **options: Any
    ) -> dict[str, Transcript]:
        return _sync.run(self._async.compare(file, models=models, **options))

    @_same_doc(AsyncClient.align)
    def align(
        self,
        file: FileInput,
        text: str,
        *,
        model: str = "whisper-v3",
        response_format: AlignResponseFormat | None = None,
        vad_model: VadModel | None = None,
        alignment_model: AlignmentModel | None = None,
        preprocessing: Preprocessing | None = None,
        extra_fields: Mapping[str, Any] | None = None,
    ) -> Transcript | str:
        return _sync.run(
            self._async.align(
                file,
                text,
                model=model,
                response_format=response_format,
                vad_model=vad_model,
                alignment_model=alignment_model,
                preprocessing=preprocessing,
                extra_fields=extra_fields,
            )
        )

    @_same_doc(AsyncClient.transcribe_many)
    def transcribe_many(
        self,
        files: Iterable[FileInput],
        *,
        concurrency: int = 4,
        progress: bool = True,
        **transcribe_kwargs: Any,
    ) -> Iterator[BatchResult]:
        check_batch_args(concurrency, transcribe_kwargs)
        items = list(files) if not isinstance(files, list | tuple) else files
        return self._batch(items, concurrency, progress, transcribe_kwargs)

    def _batch(
        self,
        files: list[FileInput] | tuple[FileInput, ...],
        concurrency: int,
        progress: bool,
        kwargs: dict[str, Any],
    ) -> Iterator[BatchResult]:
        # The bar lives in the caller's thread (the notebook's), not on the private loop.
        bar = progress_bar(len(files), progress)
        try:
            for result in _sync.iterate(
                iter_batch(self._async.transcribe, files, concurrency, kwargs)
            ):
                bar.update(result)
                yield result
        finally:
            bar.close()

    @_same_doc(AsyncClient.stream)
    def stream(self, **params: Any) -> Any:
        from fw_asr_widgets.api import streaming as _s

        return _s.open_sync_stream(self._config, **params)

    @_same_doc(AsyncClient.stream_file)
    def stream_file(
        self, path: str | os.PathLike[str], *, speed: float | None = 1.0, **params: Any
    ) -> Transcript:
        from fw_asr_widgets.api import streaming as _s

        return _s.sync_stream_file(self._config, os.fspath(path), speed=speed, **params)
