"""I/O around `StreamProtocol`: an asyncio runner and a background-thread runner.

Both do the same thing: connect (auth header from the config), write queued frames (bounded
queue: a producer waits when it is full, audio is never dropped), read server messages into the
protocol, deliver events, and on a dropped connection reconnect with backoff and resume from
`StreamProtocol.begin_reconnect()`.

Connection outcomes (decisions):
- handshake HTTP 401/403 → `AuthenticationError` / `PermissionDeniedError`, other 4xx → the
  matching typed error; nothing is retried;
- handshake 429/5xx, refused/reset/timed-out connections, and a socket closed with 1000, 1001,
  1006, 1011-1014 before the final echo → reconnect, then `APIConnectionError`. The waits are
  the HTTP client's policy (`_retry.RetryPolicy`): the server's `Retry-After` (seconds, HTTP
  date or `retry-after-ms`, capped at 60 s), else full-jitter backoff (exponential like HTTP,
  or under the stream's `backoff=` table); `max_reconnects` attempts in a row without a
  message received in between. Typed errors carry the request id (`_retry.request_id`) and
  the server's message as the HTTP client reads it (`client.error_message`);
- close 1008 (policy: how a server without HTTP denial refuses a key) → `AuthenticationError`
  when the reason speaks of a key or auth, else `StreamError`; any other close code, a binary
  frame from the server, or an `{"error": ...}` message → `StreamError` (no reconnect).

End of the stream (decisions; the messages sent are decided in `_stream_protocol`): the stream
is done at the echo of the final trace (either echo shape). Once the final checkpoint has been
answered, the trace echo is waited for at most `FINAL_TRACE_GRACE` s, and a close by the
server counts as the end, not as a drop: everything was final by then. A server that answers
neither waits as long as `finish(timeout=...)` allows, then `APITimeoutError` (the transcript
so far stays readable on the stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fw_asr_widgets.api import _sync
from fw_asr_widgets.api._exceptions import error_message
from fw_asr_widgets.api._retry import RetryPolicy, is_retryable_status, request_id
from fw_asr_widgets.api._stream_protocol import (
    Checkpoint,
    Closed,
    ErrorEvent,
    Frame,
    Reconnecting,
    StreamEvent,
    StreamProtocol,
)
from fw_asr_widgets.api.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    StreamError,
    status_error_class,
)
from fw_asr_widgets.transcript import Transcript

log = logging.getLogger("fw_asr_widgets.streaming")

THREAD_PREFIX = "fw-asr-client-stream"
RETRYABLE_CLOSE = frozenset({1000, 1001, 1006, 1011, 1012, 1013, 1014})
MAX_BUFFERED_EVENTS = 10_000
FINAL_TRACE_GRACE = 2.0
"""Seconds to wait for the final trace echo after the final checkpoint was answered."""

# One session logic for both I/O styles: `_RunnerBase._session` is a sans-I/O generator of
# steps (serve a connection, close it, sleep, connect, wait for audio) and each runner's
# `_drive` performs them, with asyncio or on a thread.


@dataclass(frozen=True)
class StreamOptions:
    """Runner settings (see `AsyncStream` for their meaning)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    chunk_ms: float = 100.0
    queue_size: int = 100
    pace: float | None = None
    max_reconnects: int = 4
    backoff: Sequence[float] | None = None
    send_timeout: float | None = 30.0
    open_timeout: float = 10.0
    on_event: Callable[[StreamEvent], Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if self.pace is not None and self.pace <= 0:
            raise ValueError("pace (speed) must be positive or None")
        if self.max_reconnects < 0:
            raise ValueError("max_reconnects must be >= 0")

    @property
    def retry_policy(self) -> RetryPolicy:
        """The HTTP client's retry policy with this stream's attempts and delay table."""
        delays = () if self.backoff is None else tuple(float(d) for d in self.backoff) or (0.0,)
        return RetryPolicy(max_retries=self.max_reconnects, delays=delays)


class _Retry(Exception):
    """A connection failure worth another attempt (`headers`: the refusal's, if any)."""

    def __init__(self, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.headers = headers


class _Done(Exception):
    """The final echo arrived."""


def handshake_error(exc: BaseException) -> BaseException:
    """Map a failed WebSocket opening to a typed error, or `_Retry` for transient failures."""
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    if isinstance(exc, InvalidStatus):
        import httpx

        resp = exc.response
        status = int(resp.status_code)
        headers = dict(resp.headers.raw_items()) if resp.headers is not None else {}
        msg, _ = error_message(
            httpx.Response(status, headers=headers, content=bytes(resp.body or b""))
        )
        if is_retryable_status(status):
            return _Retry(f"HTTP {status}: {msg}", headers)
        return status_error_class(status)(msg, status_code=status, request_id=request_id(headers))
    if isinstance(exc, InvalidURI):
        return StreamError(f"invalid streaming URL: {exc}")
    if isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError | EOFError | InvalidHandshake):
        return _Retry(f"{type(exc).__name__}: {exc}")
    return exc


def close_error(code: int | None, reason: str) -> BaseException:
    """What a close before the final echo means: `_Retry`, or a typed error."""
    if code is None or code in RETRYABLE_CLOSE:
        return _Retry(f"connection closed ({code} {reason})".strip())
    text = f"the server closed the stream with code {code}" + (f": {reason}" if reason else "")
    if code == 1008 and any(k in reason.lower() for k in ("key", "auth", "unauthori")):
        return AuthenticationError(text)
    return StreamError(text)


def _idle_reason(code: int | None, reason: str) -> str:
    """Why a stream the server closed while idle reconnects (shown as a status)."""
    return f"the server closed the idle stream ({reason or f'code {code}'}); more audio to send"


class _RunnerBase:
    """State shared by both runners: protocol, events, metrics."""

    _queue: _AsyncFrameQueue | _ThreadFrameQueue

    def __init__(self, options: StreamOptions) -> None:
        self.options = options
        self.protocol = StreamProtocol(chunk_ms=options.chunk_ms)
        self._plock = threading.Lock()
        self._events: deque[StreamEvent] = deque(maxlen=MAX_BUFFERED_EVENTS)
        self._error: BaseException | None = None
        self._retry_frame: Frame | None = None
        self._resume: list[Frame] = []
        self._got_message = False
        self._pace_t0: float | None = None
        self.reconnects = 0
        self.state = "new"  # new | open | finishing | done | failed | closed
        self._policy = options.retry_policy
        self._attempt = 0
        self._ws: Any = None

    # -- shared helpers
    @property
    def transcript(self) -> Transcript:
        with self._plock:
            return self.protocol.transcript

    def metrics_rows(self, level: str) -> list[dict[str, Any]]:
        with self._plock:
            return self.protocol.metrics_rows(level)

    def _on_events(self, events: list[StreamEvent]) -> None:
        for ev in events:
            self._emit(ev)

    def _emit(self, ev: StreamEvent) -> None:
        self._events.append(ev)
        cb = self.options.on_event
        if cb is not None:
            try:
                cb(ev)
            except Exception:  # a broken callback must not kill the stream
                log.exception("on_event callback failed for %r", type(ev).__name__)
        self._notify()

    def _notify(self) -> None:  # pragma: no cover - overridden
        pass

    def _pace_delay(self, frame: Frame) -> float:
        pace = self.options.pace
        if pace is None or frame.kind != "audio":
            return 0.0
        now = time.monotonic()
        if self._pace_t0 is None:
            # First audio: its own duration is "already due" at time 0.
            self._pace_t0 = now - (frame.end_sample / 16000.0) / pace
        due = self._pace_t0 + (frame.end_sample / 16000.0) / pace
        return max(0.0, due - now)

    def _handle_message(self, msg: str | bytes) -> None:
        """Feed one server frame to the protocol; raise `_Done`, or `StreamError` on errors."""
        if isinstance(msg, bytes | bytearray | memoryview):
            raise StreamError("protocol error: the server sent a binary frame")
        with self._plock:
            events = self.protocol.receive_text(msg)
            finished = self.protocol.finished
            waiting_trace = "final" in self.protocol.pending_traces
        self._got_message = True
        for ev in events:
            self._emit(ev)
            if isinstance(ev, ErrorEvent):
                raise StreamError(f"the server reported an error ({ev.type}): {ev.message}")
        checkpoints = [e for e in events if isinstance(e, Checkpoint)]
        if finished and checkpoints:
            raise _Done
        if not waiting_trace and any(e.kind == "checkpoint" for e in checkpoints):
            with self._plock:
                if self.protocol.checkpoint_finished:
                    raise _Done

    def _final_wait(self) -> float | None:
        """How long to wait for the next message: bounded once the final checkpoint was
        answered (only the trace echo is still due), else None (no limit)."""
        with self._plock:
            return FINAL_TRACE_GRACE if self.protocol.checkpoint_finished else None

    def _close_outcome(self, code: int | None, reason: str) -> BaseException:
        """What a close means: the end after the final checkpoint's answer, else `close_error`."""
        with self._plock:
            answered = self.protocol.checkpoint_finished
        if answered and (code is None or code in RETRYABLE_CLOSE):
            return _Done()
        return close_error(code, reason)

    def _idle_close(self, code: int | None) -> bool:
        """A clean close (1000/1001) while nothing is waiting to be sent or answered."""
        if code not in (1000, 1001) or self._retry_frame is not None or len(self._queue):
            return False
        with self._plock:
            p = self.protocol
            pending = p.pending_traces or p.pending_checkpoints
            return not pending and p.samples_written >= p.samples_sent

    def _begin_reconnect(self) -> None:
        with self._plock:
            self._resume = self.protocol.begin_reconnect()
        self.reconnects += 1

    def _next_delay(self, retry: _Retry) -> float:
        """Count an attempt and return its wait (the retry policy's; emits `Reconnecting`), or
        raise `APIConnectionError` when `max_reconnects` attempts in a row have failed."""
        self._attempt += 1
        if self._attempt > self._policy.max_retries:
            raise APIConnectionError(
                f"could not connect to the streaming server after {self._attempt} attempts "
                f"(last error: {retry.reason})"
            )
        delay = self._policy.delay(self._attempt - 1, retry.headers)
        self._emit(Reconnecting(self._attempt, delay, retry.reason))
        return delay

    def _stopping(self) -> bool:
        """True once `close()` was called (thread runner; asyncio cancels instead)."""
        return False

    # -- the session, sans I/O: a generator of steps that `_drive` performs
    def _connecting(self, retry: _Retry | None) -> Generator[_Step, Any, Any]:
        """Connect, after `retry`'s wait when it is a reconnect; retry transient failures."""
        while True:
            if retry is not None:
                yield ("sleep", self._next_delay(retry))
            result = yield ("connect", None)
            if not isinstance(result, _Retry):
                return result
            retry = result

    def _session(self, ws: Any) -> Generator[_Step, Any, tuple[int | None, str]]:
        """Serve connections until the final echo, reconnecting and resuming on drops; set
        `state` and `_error`; return the last close (code, reason)."""
        code: int | None = None
        reason = ""
        self._attempt = 0
        try:
            while True:
                self._ws = ws
                self._got_message = False
                ended = yield ("serve", ws)
                if isinstance(ended, _Done):
                    yield ("close", ws)
                    code, reason = ws.close_code, ws.close_reason or ""
                    break
                if not isinstance(ended, _Retry) or self._stopping():
                    raise _Stopped if self._stopping() else ended
                code, reason = ws.close_code, ws.close_reason or ""
                yield ("close", ws)
                if self._got_message:
                    self._attempt = 0
                if self._idle_close(code):
                    # The server closed an idle stream: reconnect when there is more to send.
                    yield ("wait_for_audio", None)
                    self._emit(Reconnecting(1, 0.0, _idle_reason(code, reason)))
                    self._attempt = 0
                    ws = yield from self._connecting(None)
                else:
                    ws = yield from self._connecting(ended)
                self._begin_reconnect()
            self.state = "done"
        except (_Stopped, asyncio.CancelledError):
            self.state = "closed"
            yield ("close", ws)
            code, reason = ws.close_code, ws.close_reason or ""
        except BaseException as exc:
            self.state = "failed"
            self._error = exc
            yield ("close", ws)
        return code, reason


_Step = tuple[str, Any]
"""A step of `_RunnerBase._session`: ("serve", ws) → the exception that ended the connection;
("close", ws); ("sleep", seconds); ("connect", None) → a socket or a `_Retry`;
("wait_for_audio", None) → returns when there is more to send (raises `_Stopped` on close).
A step that raises has its exception thrown into the generator."""


def _advance(steps: Generator[_Step, Any, Any], value: Any, error: BaseException | None) -> Any:
    """Resume `steps` with a step's result (or its exception): (False, next step) or (True,
    the generator's return value)."""
    try:
        return False, (steps.send(value) if error is None else steps.throw(error))
    except StopIteration as stop:
        return True, stop.value


# =============================================================================== asyncio
class _AsyncFrameQueue:
    """Bounded FIFO of frames; `put_all` waits until all fit (never drops, never splits)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._dq: deque[Frame] = deque()
        self._cond = asyncio.Condition()
        self.closed = False

    def __len__(self) -> int:
        return len(self._dq)

    def _fits(self, n: int) -> bool:
        return self.closed or not self._dq or len(self._dq) + n <= self.maxsize

    async def wait_room(self, n: int) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self._fits(n))

    async def extend(self, frames: Sequence[Frame]) -> None:
        async with self._cond:
            self._dq.extend(frames)
            self._cond.notify_all()

    async def wait_nonempty(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: bool(self._dq) or self.closed)

    async def get(self) -> Frame:
        async with self._cond:
            await self._cond.wait_for(lambda: bool(self._dq))
            frame = self._dq.popleft()
            self._cond.notify_all()
            return frame

    async def close(self) -> None:
        async with self._cond:
            self.closed = True
            self._cond.notify_all()


class AsyncRunner(_RunnerBase):
    """The asyncio runner: a session task with a sender and a receiver task per connection."""

    _queue: _AsyncFrameQueue

    def __init__(self, options: StreamOptions) -> None:
        super().__init__(options)
        self._queue = _AsyncFrameQueue(options.queue_size)
        self._task: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._event_flag = asyncio.Event()

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def _notify(self) -> None:
        self._event_flag.set()

    async def _connect(self) -> Any:
        from websockets.asyncio.client import connect

        try:
            return await connect(
                self.options.url,
                additional_headers=dict(self.options.headers),
                open_timeout=self.options.open_timeout,
                compression=None,
                max_size=None,
            )
        except Exception as exc:
            raise handshake_error(exc) from None

    async def start(self) -> None:
        if self.state != "new":
            raise StreamError(f"the stream was already started (state: {self.state})")
        self.state = "open"
        try:
            ws = await self._drive(self._connecting(None))
        except BaseException:
            self.state = "failed"
            raise
        self._ws = ws
        self._task = asyncio.create_task(self._run(ws))

    async def _run(self, ws: Any) -> None:
        code, reason = None, ""
        try:
            code, reason = await self._drive(self._session(ws))
        finally:
            await self._queue.close()
            self._emit(Closed(code, reason))

    async def _drive(self, steps: Generator[_Step, Any, Any]) -> Any:
        """Perform `steps` with asyncio; return the generator's value."""
        value: Any = None
        error: BaseException | None = None
        while True:
            done, out = _advance(steps, value, error)
            if done:
                return out
            value, error = None, None
            try:
                value = await self._perform(*out)
            except BaseException as exc:  # cancellation included: the session handles it
                error = exc

    async def _perform(self, kind: str, arg: Any) -> Any:
        if kind == "serve":
            try:
                await self._serve(arg)
            except Exception as exc:  # how the connection ended
                return exc
        elif kind == "close":
            with contextlib.suppress(Exception):
                await asyncio.shield(arg.close())
        elif kind == "sleep":
            await asyncio.sleep(arg)
        elif kind == "connect":
            try:
                return await self._connect()
            except _Retry as exc:
                return exc
        elif kind == "wait_for_audio":
            await self._queue.wait_nonempty()
            if self._queue.closed:
                raise _Stopped
        return None

    async def _serve(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        sender = asyncio.create_task(self._sender(ws))
        receiver = asyncio.create_task(self._receiver(ws))
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sender, receiver):
                t.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
        task = receiver if receiver in done else sender
        exc = task.exception()
        if exc is None:
            if task is receiver:  # the socket ended without an exception
                raise self._close_outcome(ws.close_code, ws.close_reason or "")
            raise StreamError("internal error: the sender stopped")  # pragma: no cover
        if isinstance(exc, ConnectionClosed):
            raise self._close_outcome(ws.close_code, ws.close_reason or "") from None
        if isinstance(exc, OSError):
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        raise exc

    async def _sender(self, ws: Any) -> None:
        resume, self._resume = self._resume, []
        for old in resume:  # re-sent audio: not paced
            await ws.send(old.data)
            with self._plock:
                self.protocol.mark_written(old)
        while True:
            frame: Frame | None = self._retry_frame
            if frame is None:
                frame = await self._queue.get()
                self._retry_frame = frame
            delay = self._pace_delay(frame)
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(frame.data)
            with self._plock:
                self.protocol.mark_written(frame)
            self._retry_frame = None

    async def _receiver(self, ws: Any) -> None:
        while True:
            try:
                msg = await asyncio.wait_for(ws.recv(), self._final_wait())
            except asyncio.TimeoutError:
                raise _Done from None  # the final checkpoint was answered long enough ago
            self._handle_message(msg)

    # -- producer side
    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error
        if self.state in ("new",):
            raise StreamError("the stream is not started: use `async with` or `await start()`")
        if self.state != "open":
            raise StreamError(f"the stream is {self.state}; no more audio can be sent")

    async def send_pcm(self, pcm: bytes) -> None:
        async with self._send_lock:
            self._check_open()
            with self._plock:
                n = self.protocol.frames_for(len(pcm))
            await self._queue.wait_room(n)
            self._check_open()
            with self._plock:
                frames = self.protocol.send_audio(pcm)
            await self._queue.extend(frames)

    async def send_frame(self, make: Callable[[], Frame]) -> Frame:
        async with self._send_lock:
            self._check_open()
            await self._queue.wait_room(1)
            with self._plock:
                frame = make()
            await self._queue.extend([frame])
            return frame

    async def finish(self, timeout: float | None = None) -> Transcript:
        if self.state == "new":
            raise StreamError("the stream is not started: use `async with` or `await start()`")
        if self.state == "open":
            async with self._send_lock:
                with self._plock:
                    frames = self.protocol.finish(checkpoint=True)
                self.state = "finishing"
                await self._queue.wait_room(len(frames))
                await self._queue.extend(frames)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                await self.close()
                raise APITimeoutError(
                    f"the server did not finish the stream within {timeout} s"
                ) from None
        if self._error is not None:
            raise self._error
        return self.transcript

    async def close(self) -> None:
        """Stop now: no final pass; the transcript keeps what arrived."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        elif self._task is None and self.state == "new":
            self.state = "closed"

    async def iter_events(self) -> Any:
        """Yield events as they arrive; end after `Closed` (raise the stream's error, if any)."""
        while True:
            while self._events:
                ev = self._events.popleft()
                yield ev
                if isinstance(ev, Closed):
                    if self._error is not None:
                        raise self._error
                    return
            if self.state in ("new", "closed") and self._task is None:
                return
            self._event_flag.clear()
            if self._events:
                continue
            await self._event_flag.wait()


# =============================================================================== threads
class _ThreadFrameQueue:
    """Thread-safe bounded FIFO of frames with the same all-or-wait `put` as the async one."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._dq: deque[Frame] = deque()
        self._cond = threading.Condition()
        self.closed = False

    def __len__(self) -> int:
        return len(self._dq)

    def _fits(self, n: int) -> bool:
        return self.closed or not self._dq or len(self._dq) + n <= self.maxsize

    def wait_room(self, n: int, timeout: float | None) -> bool:
        with self._cond:  # the caller's thread: interruptible (Ctrl-C while sending)
            return _sync.wait_for(self._cond, lambda: self._fits(n), timeout)

    def extend(self, frames: Sequence[Frame]) -> None:
        with self._cond:
            self._dq.extend(frames)
            self._cond.notify_all()

    def wait_nonempty(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._dq) or self.closed, timeout)

    def get(self, timeout: float) -> Frame | None:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._dq) or self.closed, timeout):
                return None
            if not self._dq:
                return None
            frame = self._dq.popleft()
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class ThreadRunner(_RunnerBase):
    """The thread runner: a daemon session thread (receives, reconnects) and a daemon sender
    thread per connection, on `websockets.sync.client`. Safe to call from any thread."""

    _queue: _ThreadFrameQueue

    def __init__(self, options: StreamOptions) -> None:
        super().__init__(options)
        self._queue = _ThreadFrameQueue(options.queue_size)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._event_cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._sender_error: BaseException | None = None

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def _notify(self) -> None:
        with self._event_cond:
            self._event_cond.notify_all()

    def _connect(self) -> Any:
        from websockets.sync.client import connect

        extra: dict[str, Any] = {}
        if _sync_connect_takes_legacy():
            extra["legacy"] = True  # websockets >= 16: a plain connection, closed by us
        try:
            return connect(
                self.options.url,
                additional_headers=dict(self.options.headers),
                open_timeout=self.options.open_timeout,
                compression=None,
                max_size=None,
                **extra,
            )
        except Exception as exc:
            raise handshake_error(exc) from None

    def _stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self.state != "new":
            raise StreamError(f"the stream was already started (state: {self.state})")
        self.state = "open"
        try:
            ws = self._drive(self._connecting(None))
        except BaseException:
            self.state = "failed"
            raise
        self._ws = ws
        self._thread = threading.Thread(
            target=self._run, args=(ws,), name=f"{THREAD_PREFIX}-session", daemon=True
        )
        self._thread.start()

    def _run(self, ws: Any) -> None:
        code, reason = None, ""
        try:
            code, reason = self._drive(self._session(ws))
        finally:
            self._queue.close()
            self._emit(Closed(code, reason))

    def _drive(self, steps: Generator[_Step, Any, Any]) -> Any:
        """Perform `steps` on this thread; return the generator's value."""
        value: Any = None
        error: BaseException | None = None
        while True:
            done, out = _advance(steps, value, error)
            if done:
                return out
            value, error = None, None
            try:
                value = self._perform(*out)
            except BaseException as exc:
                error = exc

    def _perform(self, kind: str, arg: Any) -> Any:
        if kind == "serve":
            try:
                self._serve(arg)
            except Exception as exc:  # how the connection ended
                return exc
        elif kind == "close":
            with contextlib.suppress(Exception):
                arg.close()
        elif kind == "sleep":
            if self._stop.wait(arg):
                raise _Stopped
        elif kind == "connect":
            try:
                return self._connect()
            except _Retry as exc:
                return exc
        elif kind == "wait_for_audio":
            while not self._queue.wait_nonempty(0.2) or self._queue.closed:
                if self._stop.is_set() or self._queue.closed:
                    raise _Stopped
        return None

    def _serve(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        conn_stop = threading.Event()
        self._sender_error = None
        sender = threading.Thread(
            target=self._sender, args=(ws, conn_stop), name=f"{THREAD_PREFIX}-send", daemon=True
        )
        sender.start()
        try:
            try:
                while True:
                    try:
                        msg = ws.recv(timeout=self._final_wait())
                    except TimeoutError:
                        raise _Done from None  # the final checkpoint was answered long ago
                    self._handle_message(msg)
            except ConnectionClosed:
                pass
            except OSError as exc:
                raise _Retry(f"{type(exc).__name__}: {exc}") from None
            if self._stop.is_set():
                raise _Stopped
            if self._sender_error is not None and not isinstance(
                self._sender_error, ConnectionClosed | OSError
            ):
                raise self._sender_error
            raise self._close_outcome(ws.close_code, ws.close_reason or "")
        finally:
            conn_stop.set()
            with contextlib.suppress(Exception):
                ws.close()
            sender.join()

    def _sender(self, ws: Any, conn_stop: threading.Event) -> None:
        try:
            resume, self._resume = self._resume, []
            for old in resume:
                ws.send(old.data)
                with self._plock:
                    self.protocol.mark_written(old)
            while not conn_stop.is_set():
                frame: Frame | None = self._retry_frame
                if frame is None:
                    frame = self._queue.get(timeout=0.1)
                    if frame is None:
                        continue
                    self._retry_frame = frame
                delay = self._pace_delay(frame)
                if delay > 0 and conn_stop.wait(delay):
                    return
                ws.send(frame.data)
                with self._plock:
                    self.protocol.mark_written(frame)
                self._retry_frame = None
        except BaseException as exc:
            self._sender_error = exc
            with contextlib.suppress(Exception):
                ws.close()

    # -- producer side (any thread)
    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error
        if self.state == "new":
            raise StreamError("the stream is not started: use `with` or call start()")
        if self.state != "open":
            raise StreamError(f"the stream is {self.state}; no more audio can be sent")

    def _wait_room(self, n: int) -> None:
        timeout = self.options.send_timeout
        if not self._queue.wait_room(n, timeout):
            raise StreamError(
                f"the send queue stayed full for {timeout:g} s (the connection is not keeping "
                "up); this audio was not accepted, nothing queued before it was dropped"
            )
        self._check_open()

    def send_pcm(self, pcm: bytes) -> None:
        with self._send_lock:
            self._check_open()
            with self._plock:
                n = self.protocol.frames_for(len(pcm))
            self._wait_room(n)
            with self._plock:
                frames = self.protocol.send_audio(pcm)
            self._queue.extend(frames)

    def send_frame(self, make: Callable[[], Frame]) -> Frame:
        with self._send_lock:
            self._check_open()
            self._wait_room(1)
            with self._plock:
                frame = make()
            self._queue.extend([frame])
            return frame

    def finish(self, timeout: float | None = None) -> Transcript:
        if self._thread is not None and threading.current_thread() is self._thread:
            raise StreamError(
                "finish() waits for the runner thread, so it cannot be called from an on_event "
                "callback; call it from another thread (close() works from a callback)"
            )
        if self.state == "new":
            raise StreamError("the stream is not started: use `with` or call start()")
        if self.state == "open":
            with self._send_lock:
                with self._plock:
                    frames = self.protocol.finish(checkpoint=True)
                self.state = "finishing"
                self._queue.wait_room(len(frames), None)
                self._queue.extend(frames)
        if self._thread is not None:
            _sync.join(self._thread, timeout)
            if self._thread.is_alive():
                self.close()
                raise APITimeoutError(f"the server did not finish the stream within {timeout} s")
        if self._error is not None:
            raise self._error
        return self.transcript

    def close(self) -> None:
        """Stop now from any thread: no final pass; the transcript keeps what arrived."""
        self._stop.set()
        self._queue.close()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            _sync.join(t)
        if self.state == "new":
            self.state = "closed"

    def iter_events(self, timeout: float | None = None) -> Iterator[StreamEvent]:
        """Yield events as they arrive; end after `Closed` (raise the stream's error, if any).

        `timeout`: stop waiting after this many seconds without an event (None: no limit).
        """
        while True:
            with self._event_cond:
                if not self._events:
                    if self._thread is None:
                        return
                    if not _sync.wait_for(self._event_cond, lambda: bool(self._events), timeout):
                        return
                ev = self._events.popleft()
            yield ev
            if isinstance(ev, Closed):
                if self._error is not None:
                    raise self._error
                return

    def poll(self) -> list[StreamEvent]:
        """The events that arrived since the last poll/iteration, without waiting."""
        with self._event_cond:
            out = list(self._events)
            self._events.clear()
        return out


@functools.cache
def _sync_connect_takes_legacy() -> bool:
    import inspect

    from websockets.sync.client import connect

    return "legacy" in inspect.signature(connect).parameters


class _Stopped(Exception):
    """close() was called."""


__all__ = [
    "APIError",
    "AsyncRunner",
    "StreamOptions",
    "ThreadRunner",
]
