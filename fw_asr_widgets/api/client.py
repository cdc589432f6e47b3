"""`AsyncClient` and its sync twin `Client` for the pre-recorded audio API.

Length (over 500 lines): the two public classes only, each method with the docstring users read
in `help()`; the request loop, errors, files and options live in `_base_client`,
`_exceptions`, `_files` and `_params`.

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
- This module holds only the public classes. What they share lives below them:
  `_base_client` (configuration, connection pool, the request loop with retries),
  `_exceptions` (`error_from_response`: every HTTP error from a response), `_files`
  (checking and preparing `file` arguments), `_params` (the request options, declared once
  as TypedDicts, and their validation), `_batch` (the bounded pool behind `*_many`) and
  `fw_asr_widgets._redact` (log redaction, shared with the embedded engine).
- The sync methods are two-line wrappers taking `**options`; `_twin` copies the async
  method's docstring and full signature onto them, so `help()` shows the same parameters.
- `Client.async_client` is the one public member without a twin: async code that is handed a
  `Client` (the corpus runner, on the private loop) takes its `AsyncClient` there rather
  than reaching into a private attribute, and gets the same key, server and pool.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx

from fw_asr_widgets.api import _config, _params, _sync
from fw_asr_widgets.api._base_client import SERVED_MODEL_HEADER as SERVED_MODEL_HEADER
from fw_asr_widgets.api._base_client import BaseClient, check_timeout, logger
from fw_asr_widgets.api._batch import BAR_DESC, BatchResult, items, iter_batch, progress_bar
from fw_asr_widgets.api._batch import check_batch_args as check_batch_args
from fw_asr_widgets.api._config import ENV_KEY, ClientConfig
from fw_asr_widgets.api._exceptions import error_message as error_message
from fw_asr_widgets.api._files import FileInput
from fw_asr_widgets.api._params import DEFAULT_MODEL, options_signature
from fw_asr_widgets.transcript import Transcript

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from fw_asr_widgets.api._params import AlignOptions, TranscribeOptions, TranslateOptions

__all__ = ["AsyncClient", "BatchResult", "Client", "FileInput"]

_DEFAULTS = {"model": DEFAULT_MODEL}

_announced = False
_announce_lock = threading.Lock()


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


class AsyncClient(BaseClient):
    """Async client for pre-recorded transcription, translation and alignment.

    `AsyncClient(api_key=None, *, base_url=None, timeout=600.0, max_retries=2,
    http_client=None)`. Use it as `async with AsyncClient() as client: ...` or call
    `await client.aclose()`. A user-supplied `http_client` (an `httpx.AsyncClient`, e.g. with
    a proxy or a `MockTransport`) is used as is and not closed by the client.
    """

    # -- configuration ---------------------------------------------------------------------

    def _engine_started(self, url: str) -> None:
        _announce(url)

    @property
    def uses_embedded_engine(self) -> bool:
        """True when neither a key nor a base_url was given (requests go to the local engine)."""
        return not (self._raw_config.base_url or self._raw_config.api_key)

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
            other._timeout = check_timeout(timeout)
        other._owns_http = False
        other._http_owner = self._http_owner or self
        return other

    # -- lifecycle -------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool (if the client created it). Idempotent."""
        self._closed = True
        http, self._http = (self._http, None) if self._owns_http else (None, self._http)
        if http is not None and self._http_loop is asyncio.get_running_loop():
            await http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- public API ------------------------------------------------------------------------

    @options_signature(_params.TranscribeOptions, defaults=_DEFAULTS)
    async def transcribe(
        self, file: FileInput, **options: Unpack[TranscribeOptions]
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
        return await self._post(
            _config.TRANSCRIPTIONS_PATH, _params.transcription_fields, file, options
        )

    @options_signature(_params.TranslateOptions, defaults=_DEFAULTS)
    async def translate(
        self, file: FileInput, **options: Unpack[TranslateOptions]
    ) -> Transcript | str:
        """Translate the speech in `file` to English text.

        Same inputs, checks and return types as `transcribe` (no diarization). `language` is
        the source language, sent when given.
        """
        return await self._post(
            _config.TRANSLATIONS_PATH, _params.translation_fields, file, options
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

    @options_signature(_params.AlignOptions, defaults=_DEFAULTS)
    async def align(
        self, file: FileInput, text: str, **options: Unpack[AlignOptions]
    ) -> Transcript | str:
        """Time-align an existing transcript `text` to the speech in `file`.

        Returns a `Transcript` with word and segment times for "verbose_json" (the default),
        the subtitle text for "srt"/"vtt". `model` only picks the Fireworks host.
        """
        return await self._post(
            _config.ALIGNMENTS_PATH, _params.alignment_fields, file, options, text=text
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
        return self._batch(self.transcribe, items(files), concurrency, progress, transcribe_kwargs)

    def translate_many(
        self,
        files: Iterable[FileInput],
        *,
        concurrency: int = 4,
        progress: bool = True,
        **translate_kwargs: Any,
    ) -> AsyncIterator[BatchResult]:
        """Translate many files, `concurrency` at a time, yielding results as they complete.

        As `transcribe_many`, with `translate`'s keyword arguments.
        """
        check_batch_args(concurrency, translate_kwargs, task="translate")
        return self._batch(self.translate, items(files), concurrency, progress, translate_kwargs)

    async def _batch(
        self,
        call: Callable[..., Awaitable[Transcript | str]],
        files: Sequence[FileInput],
        concurrency: int,
        progress: bool,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[BatchResult]:
        bar = progress_bar(len(files), progress, desc=BAR_DESC[call.__name__])
        try:
            async for result in iter_batch(call, files, concurrency, kwargs):
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


# ---------------------------------------------------------------------------------------------
# The sync client
# ---------------------------------------------------------------------------------------------


def _twin(async_fn: Any) -> Any:
    """Give the sync method the async one's docstring (and its full signature, if it was
    built by `options_signature`)."""

    def deco(fn: Any) -> Any:
        fn.__doc__ = async_fn.__doc__
        sig = getattr(async_fn, "__signature__", None)
        if sig is not None:
            fn.__signature__ = sig
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
        # Spelled out rather than *args/**kwargs so help(Client) shows the constructor; the
        # same parameters as BaseClient.__init__ and, in part, ClientConfig.resolve
        # (duplicates lists these signatures; tests/api/test_client_signatures.py keeps the
        # clients' in step).
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
    def async_client(self) -> AsyncClient:
        """The `AsyncClient` this client runs on: same key, server, options and pool.

        For async code that wants this client's setup, e.g. `await client.async_client
        .transcribe(...)` (what `fw.transcribe_corpus` does with a `Client`). Its coroutines
        may be awaited on any event loop (a pool the client created is re-made per loop),
        but not on two loops at once: meanwhile, leave the sync methods alone.
        """
        return self._async

    @property
    def _config(self) -> ClientConfig:
        """The resolved config; with no key and no base_url this starts the embedded engine."""
        return self._async._config

    # These properties forward to the AsyncClient one by one (typed and documented for help()
    # and IDEs; the streams' properties forward to their runner alike). The methods below
    # are the sync twins of AsyncClient's: each runs the async one on the private loop and
    # takes its docstring and signature with `_twin` (tests/api/test_client_signatures.py).
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

    @_twin(AsyncClient.with_options)
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

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _submit(self, method: str, /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Start `AsyncClient.<method>(*args, **kwargs)` on the private loop and return its
        `concurrent.futures.Future` at once.

        For callers that wait in their own thread but must be able to stop the request from
        another one (`future.cancel()` cancels it on the loop), such as the `Uploader` when
        it is closed. Semi-private: not part of the twin API, but kept stable for widgets.
        """
        coro = getattr(self._async, method)(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(coro, _sync.get_loop())

    @_twin(AsyncClient.transcribe)
    def transcribe(self, file: FileInput, **options: Unpack[TranscribeOptions]) -> Transcript | str:
        return _sync.run(self._async.transcribe(file, **options))

    @_twin(AsyncClient.translate)
    def translate(self, file: FileInput, **options: Unpack[TranslateOptions]) -> Transcript | str:
        return _sync.run(self._async.translate(file, **options))

    @_twin(AsyncClient.compare)
    def compare(
        self, file: FileInput, *, models: Iterable[str], **options: Any
    ) -> dict[str, Transcript]:
        return _sync.run(self._async.compare(file, models=models, **options))

    @_twin(AsyncClient.align)
    def align(
        self, file: FileInput, text: str, **options: Unpack[AlignOptions]
    ) -> Transcript | str:
        return _sync.run(self._async.align(file, text, **options))

    # transcribe_many/translate_many (here and in AsyncClient) repeat one shape on purpose:
    # each spells out its signature so help() and IDEs show it; the work is in _batch.
    @_twin(AsyncClient.transcribe_many)
    def transcribe_many(
        self,
        files: Iterable[FileInput],
        *,
        concurrency: int = 4,
        progress: bool = True,
        **transcribe_kwargs: Any,
    ) -> Iterator[BatchResult]:
        check_batch_args(concurrency, transcribe_kwargs)
        return self._batch("transcribe", items(files), concurrency, progress, transcribe_kwargs)

    @_twin(AsyncClient.translate_many)
    def translate_many(
        self,
        files: Iterable[FileInput],
        *,
        concurrency: int = 4,
        progress: bool = True,
        **translate_kwargs: Any,
    ) -> Iterator[BatchResult]:
        check_batch_args(concurrency, translate_kwargs, task="translate")
        return self._batch("translate", items(files), concurrency, progress, translate_kwargs)

    def _batch(
        self,
        task: str,
        files: Sequence[FileInput],
        concurrency: int,
        progress: bool,
        kwargs: dict[str, Any],
    ) -> Iterator[BatchResult]:
        # The bar lives in the caller's thread (the notebook's), not on the private loop.
        bar = progress_bar(len(files), progress, desc=BAR_DESC[task])
        call = getattr(self._async, task)
        try:
            for result in _sync.iterate(iter_batch(call, files, concurrency, kwargs)):
                bar.update(result)
                yield result
        finally:
            bar.close()

    @_twin(AsyncClient.stream)
    def stream(self, **params: Any) -> Any:
        from fw_asr_widgets.api import streaming as _s

        return _s.open_sync_stream(self._config, **params)

    @_twin(AsyncClient.stream_file)
    def stream_file(
        self, path: str | os.PathLike[str], *, speed: float | None = 1.0, **params: Any
    ) -> Transcript:
        from fw_asr_widgets.api import streaming as _s

        return _s.sync_stream_file(self._config, os.fspath(path), speed=speed, **params)
