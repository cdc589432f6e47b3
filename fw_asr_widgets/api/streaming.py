"""Streaming transcription over WebSocket: live audio in, a consistent running transcript out.

    >>> async with client.stream(language="en") as s:      # AsyncClient
    ...     await s.send(pcm_bytes)                         # or a numpy array, any rate
    ...     async for ev in s: ...                          # SegmentUpdated, SegmentFinal, ...
    >>> s = client.stream(); s.start(); s.send(arr, sample_rate=48000); tr = s.finish()  # Client
    >>> client.stream_file("talk.mp3", speed=4.0)           # -> Transcript

`AsyncStream` runs on asyncio; `SyncStream` runs in background daemon threads, so it keeps
going after a notebook cell returns and `send()` may be called from any thread (e.g. widget
message callbacks; why threads rather than the sync client's private event loop: Decisions in
`_stream_thread`). Both hold a `StreamProtocol` (sans-I/O, `_stream_protocol`) whose module
docstring states the wire protocol (the merge/resume rules: `_stream_merge`); the runners'
shared session (`_stream_runners`) states how connection failures map to errors and reconnects.

Events: `SegmentUpdated(segment)` (every change of a segment; an empty segment when the server
withdrew its partial words), `SegmentFinal(segment)` (right after the update that made all its
words final), `Checkpoint(trace_id, kind)` (a trace echo, kind "trace"; or a `checkpoint_id`
echo, kind "checkpoint"; the `"final"` trace echo ends the stream), `StateCleared(reset_id)`
(the server acknowledged `clear()`), `ErrorEvent(type, message)` (then the stream fails with
`StreamError`), `Reconnecting(attempt, delay, reason)` (also while the first connection is
retried), `Closed(code, reason)` (last).
Up to 10 000 unread events are buffered for iteration; `.transcript` is the source of truth.

Decisions: a clean close (1000/1001) by the server while nothing is pending (its idle timeout)
is not an error: the runner reconnects, resuming, when more audio or `finish()` comes.
`clear()` is not replayed after a reconnect (the new server session starts fresh anyway).
The URL asks for `timestamp_granularities=word,segment` (comma form, written into the URL as
the reference says it must be): without it the service leaves out word and segment times.
The host comes from the model (`_config` routing table) unless the stream gets `base_url=`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

from fw_asr_widgets.api._config import (
    DEFAULT_STREAMING_MODEL,
    STREAMING_PATH,
    ClientConfig,
    normalize_base_url,
    to_ws,
)
from fw_asr_widgets.api._stream_async import AsyncRunner
from fw_asr_widgets.api._stream_events import (
    Checkpoint,
    Closed,
    ErrorEvent,
    Reconnecting,
    SegmentFinal,
    SegmentUpdated,
    StateCleared,
    StreamEvent,
)
from fw_asr_widgets.api._stream_protocol import StreamProtocol
from fw_asr_widgets.api._stream_runners import StreamOptions
from fw_asr_widgets.api._stream_thread import ThreadRunner
from fw_asr_widgets.audio import (
    SAMPLE_RATE,
    StreamResampler,
    float_to_pcm16,
    iter_decode,
    resample,
)
from fw_asr_widgets.transcript import Transcript

__all__ = [
    "AsyncStream",
    "Checkpoint",
    "Closed",
    "ErrorEvent",
    "Reconnecting",
    "SegmentFinal",
    "SegmentUpdated",
    "StateCleared",
    "StreamEvent",
    "StreamProtocol",
    "SyncStream",
    "async_stream_file",
    "open_async_stream",
    "open_sync_stream",
    "stream_url",
    "sync_stream_file",
    "to_pcm16",
]

_FILE_BLOCK_SECONDS = 5.0


def stream_url(
    config: ClientConfig,
    *,
    model: str = DEFAULT_STREAMING_MODEL,
    language: str | None = None,
    prompt: str | None = None,
    temperature: float | None = None,
    query: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> str:
    """`<ws host>/v1/audio/transcriptions/streaming?model=…&language=…&response_format=
    verbose_json&timestamp_granularities=word,segment` (the key is never in the URL).

    The host is `base_url` when given (a host root or `…/v1`; http(s) or ws(s)), else the
    config's routing for `model` (see `_config`)."""
    params: dict[str, str] = {"model": model}
    if language:
        params["language"] = language
    if prompt:
        params["prompt"] = prompt
    if temperature is not None:
        params["temperature"] = f"{float(temperature):g}"
    params["response_format"] = "verbose_json"
    params["timestamp_granularities"] = "word,segment"
    params.update(query or {})
    host = to_ws(normalize_base_url(base_url)) if base_url else config.streaming_base(model)
    return host + STREAMING_PATH + "?" + urlencode(params, safe=",")


def to_pcm16(
    audio: bytes | bytearray | memoryview | np.ndarray, sample_rate: int = SAMPLE_RATE
) -> bytes:
    """Bytes (PCM16 LE mono at `sample_rate`) or a numpy array (float in [-1, 1] or int16;
    mono, or (n, channels) mixed down) → PCM16 LE 16 kHz mono bytes."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    if isinstance(audio, bytes | bytearray | memoryview):
        data = bytes(audio)
        if len(data) % 2:
            raise ValueError("PCM16 audio must have an even number of bytes")
        if sample_rate == SAMPLE_RATE:
            return data
        audio = np.frombuffer(data, dtype="<i2")
    if not isinstance(audio, np.ndarray):
        raise TypeError(
            f"audio must be bytes (PCM16 LE) or a numpy array, not {type(audio).__name__}"
        )
    if audio.ndim > 2:
        raise ValueError(f"audio must be mono or (samples, channels), not shape {audio.shape}")
    if audio.dtype.kind not in "iuf":
        raise TypeError(f"audio must hold int or float samples, not {audio.dtype}")
    if audio.ndim == 1 and sample_rate == SAMPLE_RATE and audio.dtype == np.int16:
        return audio.astype("<i2", copy=False).tobytes()
    a = resample(audio, sample_rate, SAMPLE_RATE)
    if not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0)
    return float_to_pcm16(a)


def _metrics_frame(rows: list[dict[str, Any]], level: str) -> Any:
    import pandas as pd

    columns = {
        "chunk": ["seq", "connection", "audio_end_s", "bytes", "send_s"],
        "segment": ["id", "text", "audio_end_s", "first_partial_s", "final_s"],
        "word": ["id", "index", "text", "audio_end_s", "first_partial_s", "final_s"],
    }[level]
    return pd.DataFrame(rows, columns=columns)


class _StreamBase:
    _runner: AsyncRunner | ThreadRunner

    def __init__(
        self,
        config: ClientConfig,
        *,
        model: str = DEFAULT_STREAMING_MODEL,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
        chunk_ms: float = 100.0,
        queue_size: int = 100,
        pace: float | None = None,
        max_reconnects: int = 4,
        backoff: Sequence[float] | None = None,
        send_timeout: float | None = 30.0,
        open_timeout: float = 10.0,
        on_event: Callable[[StreamEvent], Any] | None = None,
        query: Mapping[str, str] | None = None,
        base_url: str | None = None,
        speakers: bool = False,
    ) -> None:
        self.model = model
        self.language = language
        # One stateful resampler per input rate, so chunk edges leave no artefacts.
        self._resamplers: dict[int, StreamResampler] = {}
        self._resample_lock = threading.Lock()
        headers = {**config.headers, **config.auth_headers()}
        # Options passed on by name (duplicates pairs such keyword lists by shape with
        # unrelated calls, e.g. the engine's FileRequest).
        self._options = StreamOptions(
            url=stream_url(
                config,
                model=model,
                language=language,
                prompt=prompt,
                temperature=temperature,
                query=query,
                base_url=base_url,
            ),
            headers=headers,
            chunk_ms=chunk_ms,
            queue_size=queue_size,
            pace=pace,
            max_reconnects=max_reconnects,
            backoff=None if backoff is None else tuple(backoff),
            send_timeout=send_timeout,
            open_timeout=open_timeout,
            on_event=on_event,
            speakers=speakers,
        )

    # The read-only properties below each hand out one attribute of the runner (or its
    # options), spelled out so help() and IDEs show their types and docs; `Client` forwards
    # its properties to its AsyncClient the same way (duplicates pairs them by shape).
    @property
    def url(self) -> str:
        """The WebSocket URL (holds no key: the key travels in the Authorization header)."""
        return self._options.url

    @property
    def transcript(self) -> Transcript:
        """The live merged transcript (an immutable snapshot; read it any time)."""
        return self._runner.transcript

    @property
    def protocol(self) -> StreamProtocol:
        """The sans-I/O protocol object (for inspection; do not drive it directly)."""
        return self._runner.protocol

    @property
    def queue_depth(self) -> int:
        """Frames waiting to be written to the socket (bounded by `queue_size`)."""
        return self._runner.queue_depth

    @property
    def state(self) -> str:
        """new | open | finishing | done | failed | closed."""
        return self._runner.state

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established and resumed."""
        return self._runner.reconnects

    @property
    def audio_seconds(self) -> float:
        """Audio accepted so far (seconds at 16 kHz)."""
        return self._runner.protocol.samples_sent / SAMPLE_RATE

    def metrics(self, level: str = "segment") -> Any:
        """Latency as a DataFrame. `level="segment"`/`"word"`: `first_partial_s` and `final_s`
        (from the moment the audio at the segment's/word's end was written to the socket to the
        moment the server's first partial / final version of it arrived); `level="chunk"`:
        `send_s` per frame (queued → written to the socket)."""
        return _metrics_frame(self._runner.metrics_rows(level), level)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, state={self.state!r}, "
            f"audio={self.audio_seconds:.1f}s, segments={len(self.transcript.segments)})"
        )

    def _pcm(self, audio: bytes | np.ndarray, sample_rate: int) -> bytes:
        """PCM16 16 kHz for `send()`: other rates go through this stream's stateful resampler."""
        if sample_rate == SAMPLE_RATE or sample_rate <= 0:
            return to_pcm16(audio, sample_rate)
        if isinstance(audio, bytes | bytearray | memoryview):
            if len(audio) % 2:
                raise ValueError("PCM16 audio must have an even number of bytes")
            audio = np.frombuffer(bytes(audio), dtype="<i2")
        if not isinstance(audio, np.ndarray):
            raise TypeError(
                f"audio must be bytes (PCM16 LE) or a numpy array, not {type(audio).__name__}"
            )
        if audio.ndim > 2 or audio.dtype.kind not in "iuf":
            return to_pcm16(audio, sample_rate)  # raises the plain-language error
        with self._resample_lock:
            rs = self._resamplers.get(sample_rate)
            if rs is None:
                rs = self._resamplers[sample_rate] = StreamResampler(sample_rate)
            out = rs.process(audio)
        if not np.isfinite(out).all():
            out = np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0)
        return float_to_pcm16(out)

    def _resampler_tails(self) -> bytes:
        """What the resamplers still hold (a few ms), to send before the final trace."""
        with self._resample_lock:
            tails = [rs.flush() for rs in self._resamplers.values()]
            self._resamplers.clear()
        return b"".join(float_to_pcm16(t) for t in tails if t.size)


class AsyncStream(_StreamBase):
    """A streaming session on asyncio; an async context manager and an async iterator.

    Options: `model`, `language`, `prompt`, `temperature` (query parameters); `chunk_ms` (audio
    frame length, 100 ms); `queue_size` (frames buffered before `send` waits); `pace` (write
    audio at `pace`× real time; None: as fast as the connection takes it); `max_reconnects`
    (attempts in a row) and `backoff` for dropped connections, waited as the HTTP client
    waits (`_retry.RetryPolicy`: the server's Retry-After, else full jitter; `backoff` is a
    table of per-attempt ceilings in s, None: exponential from 0.5 s up to 8 s);
    `open_timeout`; `on_event` (called with each event); `query` (extra query parameters);
    `base_url` (this stream's host, e.g. a dedicated endpoint for its model; default: the
    client's routing for `model`); `speakers` (label final segments that arrive without
    `speaker_id` on the client, from the audio sent: `api/_stream_speakers.py`; needs the
    `local` extra; the embedded engine sends labels itself with `query={"diarize": "true"}`).
    """

    def __init__(self, config: ClientConfig, **params: Any) -> None:
        super().__init__(config, **params)
        self._runner: AsyncRunner = AsyncRunner(self._options)

    async def start(self) -> AsyncStream:
        """Connect. Raises `AuthenticationError` (bad key), `APIConnectionError`, ..."""
        await self._runner.start()
        return self

    async def send(self, audio: bytes | np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> None:
        """Queue audio (PCM16 LE bytes or a numpy array at `sample_rate`); waits while the send
        queue is full (backpressure), never drops audio."""
        await self._runner.send_pcm(self._pcm(audio, sample_rate))

    async def trace(self, trace_id: str | None = None) -> str:
        """Send a trace marker; a `Checkpoint(trace_id)` event follows once it is processed."""
        frame = await self._runner.send_frame(lambda: self._runner.protocol.trace(trace_id))
        return frame.trace_id or ""

    async def clear(self, reset_id: str | None = None) -> None:
        """Ask the server to finalize what it heard and start a fresh context."""
        await self._runner.send_frame(lambda: self._runner.protocol.clear(reset_id))

    async def finish(self, timeout: float | None = None) -> Transcript:
        """Flush, send the end of audio (checkpoint "final", then trace "final"), wait for the
        final state; return the transcript."""
        tail = self._resampler_tails()
        if tail:
            await self._runner.send_pcm(tail)
        return await self._runner.finish(timeout)

    async def close(self) -> None:
        """Stop at once (no final pass)."""
        await self._runner.close()

    async def __aenter__(self) -> AsyncStream:
        if self.state == "new":
            await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            await self.finish()
        else:
            await self.close()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._runner.iter_events()


class SyncStream(_StreamBase):
    """A streaming session in background daemon threads: for notebooks and plain scripts.

    Use as `with client.stream() as s:` or `s = client.stream(); s.start(); ...; s.finish()`.
    `send()` may be called from any thread; it blocks only while the send queue is full, at
    most `send_timeout` s, then raises `StreamError` (audio is never dropped silently). Events
    go to `on_event` (called on the runner thread), to `for ev in s` and to `poll()`.
    Options as `AsyncStream`.
    """

    def __init__(self, config: ClientConfig, **params: Any) -> None:
        super().__init__(config, **params)
        self._runner: ThreadRunner = ThreadRunner(self._options)

    def start(self) -> SyncStream:
        """Connect and start the runner thread. Raises `AuthenticationError`, ..."""
        self._runner.start()
        return self

    def send(self, audio: bytes | np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> None:
        """Queue audio (PCM16 LE bytes or a numpy array at `sample_rate`); thread-safe."""
        self._runner.send_pcm(self._pcm(audio, sample_rate))

    def trace(self, trace_id: str | None = None) -> str:
        """Send a trace marker; a `Checkpoint(trace_id)` event follows once it is processed."""
        frame = self._runner.send_frame(lambda: self._runner.protocol.trace(trace_id))
        return frame.trace_id or ""

    def clear(self, reset_id: str | None = None) -> None:
        """Ask the server to finalize what it heard and start a fresh context."""
        self._runner.send_frame(lambda: self._runner.protocol.clear(reset_id))

    def finish(self, timeout: float | None = None) -> Transcript:
        """Flush, send the end of audio (checkpoint "final", then trace "final"), wait for the
        final state; return the transcript."""
        tail = self._resampler_tails()
        if tail:
            self._runner.send_pcm(tail)
        return self._runner.finish(timeout)

    def close(self) -> None:
        """Stop at once (no final pass); joins the runner threads."""
        self._runner.close()

    def events(self, timeout: float | None = None) -> Iterator[StreamEvent]:
        """Iterate events as they arrive until `Closed` (or `timeout` s without one)."""
        return self._runner.iter_events(timeout)

    def poll(self) -> list[StreamEvent]:
        """Events that arrived since the last poll, without waiting."""
        return self._runner.poll()

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._runner.iter_events()

    def __enter__(self) -> SyncStream:
        if self.state == "new":
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()


def open_async_stream(config: ClientConfig, **params: Any) -> AsyncStream:
    """A not-yet-connected `AsyncStream` (connect with `async with` or `await s.start()`)."""
    return AsyncStream(config, **params)


def open_sync_stream(config: ClientConfig, **params: Any) -> SyncStream:
    """A not-yet-connected `SyncStream` (connect with `with` or `s.start()`)."""
    return SyncStream(config, **params)


def _first_block(path: str | Path) -> tuple[Iterator[np.ndarray], np.ndarray | None]:
    """Start decoding (so a bad file fails before any connection is made)."""
    blocks = iter_decode(path, chunk_seconds=_FILE_BLOCK_SECONDS)
    return blocks, next(blocks, None)


async def async_stream_file(
    config: ClientConfig, path: str | Path, *, speed: float | None = 1.0, **params: Any
) -> Transcript:
    """Decode `path` (any format), stream it at `speed`× real time (None: as fast as the
    connection accepts), finish, and return the final transcript."""
    import asyncio

    blocks, first = await asyncio.to_thread(_first_block, path)
    async with AsyncStream(config, pace=speed, **params) as s:
        block = first
        while block is not None:
            await s.send(block)
            block = await asyncio.to_thread(next, blocks, None)
    return s.transcript.with_source(str(path))


def sync_stream_file(
    config: ClientConfig, path: str | Path, *, speed: float | None = 1.0, **params: Any
) -> Transcript:
    """Blocking `async_stream_file` on the thread runner."""
    blocks, first = _first_block(path)
    params.setdefault("send_timeout", None)  # pacing may hold the producer for long
    with SyncStream(config, pace=speed, **params) as s:
        if first is not None:
            s.send(first)
        for block in blocks:
            s.send(block)
    return s.transcript.with_source(str(path))
