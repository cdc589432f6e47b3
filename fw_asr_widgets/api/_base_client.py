"""Everything of `AsyncClient` that is not its public methods: configuration, the connection
pool, and the HTTP request loop with retries (as httpx's `BaseClient` and openai-python's
`_base_client.py` hold what their clients share).

- `BaseClient.__init__` checks the options and resolves the key and server (`ClientConfig`);
  `_config` starts the embedded engine on first use when neither a key nor a `base_url`
  was given (`AsyncClient` announces it once per process).
- `_request(build, ...)` sends a freshly built request per attempt under the client's
  `RetryPolicy` and returns the successful response, or raises the typed error
  (`APITimeoutError`, `APIConnectionError`, or `error_from_response`'s status error).
- `_post(path, validate, file, options)` is one audio request: check the options, prepare
  the file (`_files.prepare_upload`), stream the multipart body, parse the reply.

Decisions:
- Every log line of the `fw_asr_widgets` logger goes through a `SecretRedactor` holding the
  keys the clients were given, and websockets' handshake lines through an
  `AuthHeaderRedactor` (installed when this module is imported; see `fw_asr_widgets._redact`).
- The pool is created lazily and re-made per event loop, so one `AsyncClient` survives
  several `asyncio.run(...)` calls; a user-supplied `http_client` is used as is.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as secrets_mod
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import httpx

from fw_asr_widgets import _wire
from fw_asr_widgets._redact import AuthHeaderRedactor, SecretRedactor, scrub
from fw_asr_widgets._version import __version__ as _VERSION
from fw_asr_widgets.api import _config, _params
from fw_asr_widgets.api._config import ENV_KEY, ClientConfig
from fw_asr_widgets.api._exceptions import error_from_response, request_id, truncate
from fw_asr_widgets.api._files import Upload, prepare_upload
from fw_asr_widgets.api._multipart import MultipartUpload
from fw_asr_widgets.api._retry import RetryPolicy, is_retryable_status
from fw_asr_widgets.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ConfigurationError,
)
from fw_asr_widgets.transcript import Transcript

logger = logging.getLogger("fw_asr_widgets")

SERVED_MODEL_HEADER = _wire.MODEL_HEADER
"""Response header in which the embedded engine names the local model that served a request;
its value is kept in the result's `Transcript.raw` under the same name."""

redactor = SecretRedactor()
"""The registered keys; every client adds its own."""
logger.addFilter(redactor)
for _name in ("websockets.client", "websockets.server"):
    logging.getLogger(_name).addFilter(AuthHeaderRedactor(redactor))


def check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


def key_hint(config: ClientConfig) -> str:
    """What to check after a 401/403: which key was sent, or that none was."""
    if config.key_source is None:
        return (
            f"no API key was sent: pass api_key=... to the client or set the {ENV_KEY} "
            "environment variable"
        )
    if config.key_source == "argument":
        return "check the key passed as the api_key argument"
    return f"check the key in the {config.key_source}"


def _secrets(cfg: ClientConfig) -> list[str]:
    return [cfg.api_key.get()] if cfg.api_key is not None else []


class BaseClient:
    """Configuration, connection pool and request loop of `AsyncClient` (no public API)."""

    # The constructor's parameters stand again in `Client.__init__` (spelled out for help())
    # and, in part, in `ClientConfig.resolve`, which this one calls.
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
        self._timeout = check_timeout(timeout)
        self._raw_config = ClientConfig.resolve(
            api_key, base_url, timeout=self._timeout, max_retries=max_retries
        )
        if self._raw_config.api_key is not None:
            redactor.secrets.add(self._raw_config.api_key.get())
        self._resolved: ClientConfig | None = (
            self._raw_config if self._raw_config.base_url or self._raw_config.api_key else None
        )
        self._resolve_lock = threading.Lock()
        self._http = http_client
        self._owns_http = http_client is None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._http_owner: BaseClient | None = None
        self._closed = False

    # -- configuration ---------------------------------------------------------------------

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
                self._engine_started(url)
            return self._resolved

    def _engine_started(self, url: str) -> None:
        """Called when requests were routed to the embedded engine at `url` (a hook)."""

    async def _aconfig(self) -> ClientConfig:
        if self._resolved is not None:
            return self._resolved
        return await asyncio.to_thread(lambda: self._config)

    # -- connection pool -------------------------------------------------------------------

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

    # -- requests --------------------------------------------------------------------------

    async def _request(
        self,
        build: Callable[[httpx.AsyncClient], httpx.Request],
        cfg: ClientConfig,
        *,
        url: str,
        label: str,
    ) -> httpx.Response:
        """Send `build(http)` (called again for each attempt) under the retry policy.

        Returns the first successful response; raises the last error when the attempts are
        used up or the error is not retryable. `url` names the server in connection errors,
        `label` the request in log lines.
        """
        http = self._get_http()
        secrets = _secrets(cfg)
        policy = self._retry
        attempt = 0
        while True:
            request = build(http)
            error: APIError
            retry_headers: httpx.Headers | None = None
            try:
                response = await http.send(request)
            except httpx.TimeoutException as exc:
                error = APITimeoutError(
                    f"the request to {url} timed out after {self._timeout:g} s "
                    f"({type(exc).__name__})"
                )
            except httpx.HTTPError as exc:
                error = APIConnectionError(
                    scrub(f"could not reach {url}: {type(exc).__name__}: {exc}", secrets)
                )
            else:
                if response.is_success:
                    return response
                error = error_from_response(response, secrets=secrets, key_hint=key_hint(cfg))
                if not is_retryable_status(response.status_code):
                    raise error
                retry_headers = response.headers
            if attempt >= policy.max_retries:
                raise error
            delay = policy.delay(attempt, retry_headers)
            attempt += 1
            logger.info(
                "retrying %s in %.2f s (attempt %d of %d) after: %s",
                label,
                delay,
                attempt + 1,
                policy.max_retries + 1,
                error,
            )
            await policy.sleep(delay)

    async def _prepare(self, file: object) -> Upload:
        return await prepare_upload(file)

    async def _post(
        self,
        path: str,
        validate: Callable[..., tuple[list[tuple[str, str]], str]],
        file: object,
        options: Mapping[str, Any],
        **required: Any,
    ) -> Transcript | str:
        """One audio request: check `options` (and `required`, e.g. align's `text`) with
        `validate` (a `_params.*_fields`), then `file`, then POST both to `path`."""
        fields, fmt = validate(**required, **options)
        upload = await self._prepare(file)
        try:
            cfg = await self._aconfig()
            return await self._send(path, cfg, _params.model_of(options), fields, upload, fmt)
        finally:
            upload.close()

    async def _send(
        self,
        path: str,
        cfg: ClientConfig,
        model: str,
        fields: list[tuple[str, str]],
        upload: Upload,
        response_format: str,
    ) -> Transcript | str:
        """POST `fields` and the prepared `upload` to `path`; the parsed reply."""
        url = cfg.http_base(model) + path
        form = [("file", upload.url), *fields] if upload.url is not None else list(fields)
        timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0))
        boundary = secrets_mod.token_hex(16)

        def build(http: httpx.AsyncClient) -> httpx.Request:
            # A fresh body per attempt: the upload is re-sent from the start of the file.
            body = MultipartUpload(
                form, file=upload.source, filename=upload.filename, boundary=boundary
            )
            headers = {
                **cfg.headers,
                **cfg.auth_headers(),
                **body.headers,
                "Accept": "application/json, text/plain, */*",
            }
            logger.debug("POST %s (%s, %d bytes)", url, upload.name, body.content_length)
            # An async generator as content: httpx streams it (no copy in memory) and, as
            # Content-Length is set, without chunked encoding.
            return http.build_request(
                "POST", url, headers=headers, content=body.__aiter__(), timeout=timeout
            )

        response = await self._request(build, cfg, url=url, label=f"POST {path}")
        return self._parse(response, response_format, upload.name, _secrets(cfg))

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
            snippet = scrub(truncate(response.text, 120), secrets)
            raise APIResponseValidationError(
                f"the server's reply is not a JSON object (truncated or wrong format?): "
                f"{snippet!r}",
                status_code=response.status_code,
                request_id=request_id(response.headers),
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
                request_id=request_id(response.headers),
            ) from None
