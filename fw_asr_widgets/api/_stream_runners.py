"""I/O around `StreamProtocol`: an asyncio runner and a background-thread runner.

Both do the same thing: connect (auth header from the config), write queued frames (bounded
queue: a producer waits when it is full, audio is never dropped), read server messages into the
protocol, deliver events, and on a dropped connection reconnect with backoff and resume from
`StreamProtocol.begin_reconnect()`.

Connection outcomes (decisions):
- handshake HTTP 401/403 → `AuthenticationError` / `PermissionDeniedError`, other 4xx → the
  matching typed error; nothing is retried;
- handshake 429/5xx, refused/reset/timed-out connections, and a socket closed with 1000, 1001,
  1006, 1011-1014 before the final echo → reconnect (`backoff` delays, `max_reconnects`
  attempts in a row without a message received in between), then `APIConnectionError`;
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
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fw_asr_widgets.api import _sync
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
MAX_RETRY_AFTER = 30.0
FINAL_TRACE_GRACE = 2.0
"""Seconds to wait for the final trace echo after the final checkpoint was answered."""


@dataclass(frozen=True)
class StreamOptions:
    """Runner settings (see `AsyncStream` for their meaning)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    chunk_ms: float = 100.0
    queue_size: int = 100
    pace: float | None = None
    max_reconnects: int = 4
    backoff: Sequence[float] = (0.2, 0.5, 1.0, 2.0)
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

    def delay(self, attempt: int) -> float:
        if not self.backoff:
            return 0.0
        return float(self.backoff[min(attempt - 1, len(self.backoff) - 1)])


class _Retry(Exception):
    """A connection failure worth another attempt."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Done(Exception):
    """The final echo arrived."""


def _error_message(body: bytes | None, default: str) -> tuple[str, str | None]:
    if not body:
        return default, None
    try:
        data = json.loads(body)
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, dict):
            return str(err.get("message") or default), err.get("type")
        if isinstance(data, dict) and data.get("detail"):
            return str(data["detail"]), None
    except ValueError:
        pass
    return default, None


def handshake_error(exc: BaseException) -> BaseException:
    """Map a failed WebSocket opening to a typed error, or `_Retry` for transient failures."""
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    if isinstance(exc, InvalidStatus):
        resp = exc.response
        status = int(resp.status_code)
        msg, _ = _error_message(
            bytes(resp.body or b""), f"the server refused the stream (HTTP {status})"
        )
        rid = resp.headers.get("x-request-id") if resp.headers is not None else None
        if status == 429 or status >= 500:
            after = resp.headers.get("Retry-After") if resp.headers is not None else None
            try:
                retry_after = min(float(after), MAX_RETRY_AFTER) if after else None
            except ValueError:
                retry_after = None
            return _Retry(f"HTTP {status}: {msg}", retry_after)
        return status_error_class(status)(msg, status_code=status, request_id=rid)
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

    def _next_attempt(self, attempt: int, reason: str, retry_after: float | None = None) -> float:
        """Return the backoff delay for `attempt` (at least the server's Retry-After), or raise
        when attempts are exhausted."""
        if attempt > self.options.max_reconnects:
            raise APIConnectionError(
                f"could not connect to the streaming server after {attempt} attempts "
                f"(last error: {reason})"
            )
        delay = max(self.options.delay(attempt), retry_after or 0.0)
        self._emit(Reconnecting(attempt, delay, reason))
        return delay


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
        self._ws: Any = None

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

    async def _connect_retrying(self, reason: str | None, attempt: int) -> tuple[Any, int]:
        """Connect; on transient failures back off and retry. `reason`: why (None: first)."""
        after: float | None = None
        while True:
            if reason is not None:
                attempt += 1
                await asyncio.sleep(self._next_attempt(attempt, reason, after))
            try:
                return await self._connect(), attempt
            except _Retry as exc:
                reason, after = exc.reason, exc.retry_after

    async def start(self) -> None:
        if self.state != "new":
            raise StreamError(f"the stream was already started (state: {self.state})")
        self.state = "open"
        try:
            ws, _ = await self._connect_retrying(None, 0)
        except BaseException:
            self.state = "failed"
            raise
        self._ws = ws
        self._task = asyncio.create_task(self._run(ws))

    async def _run(self, ws: Any) -> None:
        code: int | None = None
        reason = ""
        attempt = 0
        try:
            while True:
                self._ws = ws
                self._got_message = False
                try:
                    await self._serve(ws)
                except _Done:
                    await ws.close()
                    code, reason = ws.close_code, ws.close_reason or ""
                    break
                except _Retry as exc:
                    code, reason = ws.close_code, ws.close_reason or ""
                    with contextlib.suppress(Exception):
                        await ws.close()
                    if self._got_message:
                        attempt = 0
                    if self._idle_close(code):
                        # The server closed an idle stream: reconnect when there is more to send.
                        await self._queue.wait_nonempty()
                        if self._queue.closed:
                            raise asyncio.CancelledError from None
                        self._emit(Reconnecting(1, 0.0, _idle_reason(code, reason)))
                        ws, attempt = await self._connect_retrying(None, 0)
                    else:
                        ws, attempt = await self._connect_retrying(exc.reason, attempt)
                    self._begin_reconnect()
            self.state = "done"
        except asyncio.CancelledError:
            self.state = "closed"
            with contextlib.suppress(Exception):
                await asyncio.shield(ws.close())
            code, reason = ws.close_code, ws.close_reason or ""
        except BaseException as exc:
            self.state = "failed"
            self._error = exc
            with contextlib.suppress(Exception):
                await ws.close()
        finally:
            await self._queue.close()
            self._emit(Closed(code, reason))

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
        self._ws: Any = None
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

    def _connect_retrying(self, reason: str | None, attempt: int) -> tuple[Any, int]:
        after: float | None = None
        while True:
            if reason is not None:
                attempt += 1
                if self._stop.wait(self._next_attempt(attempt, reason, after)):
                    raise _Stopped
            try:
                return self._connect(), attempt
            except _Retry as exc:
                reason, after = exc.reason, exc.retry_after

    def start(self) -> None:
        if self.state != "new":
            raise StreamError(f"the stream was already started (state: {self.state})")
        self.state = "open"
        try:
            ws, _ = self._connect_retrying(None, 0)
        except BaseException:
            self.state = "failed"
            raise
        self._ws = ws
        self._thread = threading.Thread(
            target=self._run, args=(ws,), name=f"{THREAD_PREFIX}-session", daemon=True
        )
        self._thread.start()

    def _run(self, ws: Any) -> None:
        code: int | None = None
        reason = ""
        attempt = 0
        try:
            while True:
                self._ws = ws
                self._got_message = False
                try:
                    self._serve(ws)
                except _Done:
                    ws.close()
                    code, reason = ws.close_code, ws.close_reason or ""
                    break
                except _Retry as exc:
                    if self._stop.is_set():
                        raise _Stopped from None
                    code, reason = ws.close_code, ws.close_reason or ""
                    with contextlib.suppress(Exception):
                        ws.close()
                    if self._got_message:
                        attempt = 0
                    if self._idle_close(code):
                        # The server closed an idle stream: reconnect when there is more to send.
                        while not self._queue.wait_nonempty(0.2):
                            if self._stop.is_set() or self._queue.closed:
                                raise _Stopped from None
                        self._emit(Reconnecting(1, 0.0, _idle_reason(code, reason)))
                        ws, attempt = self._connect_retrying(None, 0)
                    else:
                        ws, attempt = self._connect_retrying(exc.reason, attempt)
                    self._begin_reconnect()
            self.state = "done"
        except _Stopped:
            self.state = "closed"
            with contextlib.suppress(Exception):
                ws.close()
            code, reason = ws.close_code, ws.close_reason or ""
        except BaseException as exc:
            self.state = "failed"
            self._error = exc
            with contextlib.suppress(Exception):
                ws.close()
        finally:
            self._queue.close()
            self._emit(Closed(code, reason))

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
