"""What both streaming runners share: options, error mapping and the session, sans I/O.

The session (`_RunnerBase._session`) is a generator of steps (serve a connection, close it,
sleep, connect, wait for audio); `_stream_async.AsyncRunner` performs them with asyncio and
`_stream_thread.ThreadRunner` on daemon threads. Both do the same thing: connect (auth
header from the config), write queued frames (bounded queue: a producer waits when it is
full, audio is never dropped), read server messages into the protocol, deliver events, and on
a dropped connection reconnect with backoff and resume from `StreamProtocol.begin_reconnect()`.

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
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    speakers: bool = False  # label segments the server sends without speakers (client-side)

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


class _FrameQueue:
    """A runner's bounded FIFO of frames: the state and the all-or-wait rule both runners'
    queues (`_stream_async`, `_stream_thread`) share; they add the waiting."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._dq: deque[Frame] = deque()
        self.closed = False

    def __len__(self) -> int:
        return len(self._dq)

    def _fits(self, n: int) -> bool:
        """`n` frames may go in now: all at once, never split (or the queue is closed, or
        empty, so a batch larger than the queue still goes through)."""
        return self.closed or not self._dq or len(self._dq) + n <= self.maxsize


class _RunnerBase:
    """State shared by both runners: protocol, events, metrics."""

    _queue: _FrameQueue

    def __init__(self, options: StreamOptions) -> None:
        self.options = options
        self.protocol = StreamProtocol(chunk_ms=options.chunk_ms, speakers=options.speakers)
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

    # -- the parts of the runners' I/O methods that do not wait: each runner's `start`,
    # `_connect`, `_sender`, `send_pcm`, `send_frame`, `finish` and `iter_events` call these
    # and add only its own waiting (await or block)
    _start_hint = "start it first"
    """How to start a stream, in the words of the runner's users (each runner sets it)."""

    def _begin_start(self) -> None:
        if self.state != "new":
            raise StreamError(f"the stream was already started (state: {self.state})")
        self.state = "open"

    def _not_started(self) -> StreamError:
        return StreamError(f"the stream is not started: {self._start_hint}")

    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error
        if self.state == "new":
            raise self._not_started()
        if self.state != "open":
            raise StreamError(f"the stream is {self.state}; no more audio can be sent")

    def _connect_args(self) -> dict[str, Any]:
        """Keyword arguments of `websockets`' `connect` (asyncio and sync alike) after the URL."""
        return {
            "additional_headers": dict(self.options.headers),
            "open_timeout": self.options.open_timeout,
            "compression": None,
            "max_size": None,
        }

    def _take_resume(self) -> list[Frame]:
        """The frames to write again first on a new connection (re-sent audio is not paced)."""
        resume, self._resume = self._resume, []
        return resume

    def _written(self, frame: Frame) -> None:
        with self._plock:
            self.protocol.mark_written(frame)

    def _frames_for(self, pcm: bytes) -> int:
        with self._plock:
            return self.protocol.frames_for(len(pcm))

    def _audio_frames(self, pcm: bytes) -> list[Frame]:
        with self._plock:
            return self.protocol.send_audio(pcm)

    def _make_frame(self, make: Callable[[], Frame]) -> Frame:
        with self._plock:
            return make()

    def _ended(self, ev: StreamEvent) -> bool:
        """After handing `ev` out: True at `Closed` (the last event), raising the stream's
        error if it failed."""
        if not isinstance(ev, Closed):
            return False
        if self._error is not None:
            raise self._error
        return True

    def _final_frames(self) -> list[Frame]:
        """The end of audio to queue (checkpoint "final", then trace "final"); → finishing."""
        with self._plock:
            frames = self.protocol.finish(checkpoint=True)
        self.state = "finishing"
        return frames

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


class _Stopped(Exception):
    """close() was called."""


__all__ = [
    "FINAL_TRACE_GRACE",
    "MAX_BUFFERED_EVENTS",
    "RETRYABLE_CLOSE",
    "THREAD_PREFIX",
    "StreamOptions",
    "close_error",
    "handshake_error",
]
