"""The thread runner: `_stream_runners`' session performed on daemon threads.

A session thread performs the session's steps (connect, receive, reconnect) on
`websockets.sync.client`; each connection gets a sender thread (queue → socket, paced). Used
by `SyncStream`: it keeps running after a notebook cell returns and may be fed from any thread.

Decisions: the sync stream keeps this runner rather than driving `AsyncRunner` on the sync
HTTP client's private event loop (`_sync.run`), which was measured side by side (2026-11,
2-core machine loaded by other work, `benchmarks/streaming_overhead.py` and
`benchmarks/live_latency.py`, whose children take a "loop" variant for this):
- send path (48 kHz numpy chunk handed to `send()` → its frame written): the loop variant
  was slower at the median in every same-run pair, 1.28× and 1.44× (1,500 chunks: p50 256 vs
  201 µs, 594 vs 411 µs) and 1.3-1.6× in four quick runs; p99 went either way (2.0 vs 2.6 ms,
  4.9 vs 4.5 ms). Each `send()` then waits for a wake-up of the loop thread and its answer,
  where the thread runner hands the frame to its sender with one condition notify;
- live latency (jfk.wav at 1× to the embedded engine, three pairs): the same within noise
  (word end → first partial 0.65/0.63/0.59 s on the loop vs 0.76/0.64/0.61 s here; commit
  1.83/1.80/1.77 vs 1.88/1.83/1.81 s);
- behaviour: on the loop, `on_event` callbacks (widget updates) would run on the thread every
  sync HTTP call of the process shares, so a slow callback would stall uploads and this
  stream's own sends; here they run on the session thread while the sender keeps writing.
  The notebook fault test also checks the session thread by name.
So the thread runner stays. It is not generated from `AsyncRunner` (as httpcore's unasync
does): what the two have in common, the session, error mapping and message handling, is one
copy in `_stream_runners`; what is left here is the thread-shaped I/O (a sender thread, a
stop event instead of cancellation, condition-variable queues), which has no async twin to
generate it from line by line.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from fw_asr_widgets.api import _sync
from fw_asr_widgets.api._stream_events import Closed, Frame, StreamEvent
from fw_asr_widgets.api._stream_runners import (
    # The same names as the other runner imports (duplicates pairs the two lists): each runner
    # performs the same session steps. `_run`, `_drive` and `_perform` below are twins of the
    # other runner's, differing in await versus blocking waits, as httpx twins its send loops.
    THREAD_PREFIX,
    StreamOptions,
    _advance,
    _Done,
    _FrameQueue,
    _Retry,
    _RunnerBase,
    _Step,
    _Stopped,
    handshake_error,
)
from fw_asr_widgets.api.errors import APITimeoutError, StreamError
from fw_asr_widgets.transcript import Transcript


class _ThreadFrameQueue(_FrameQueue):
    """Thread-safe bounded FIFO of frames with the same all-or-wait rule as the async one."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self._cond = threading.Condition()

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
    _start_hint = "use `with` or call start()"

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
            return connect(self.options.url, **self._connect_args(), **extra)
        except Exception as exc:
            raise handshake_error(exc) from None

    def _stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._begin_start()
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
        # The twin of AsyncRunner._drive, which awaits where this one blocks.
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
            for old in self._take_resume():
                ws.send(old.data)
                self._written(old)
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
                self._written(frame)
                self._retry_frame = None
        except BaseException as exc:
            self._sender_error = exc
            with contextlib.suppress(Exception):
                ws.close()

    # -- producer side (any thread)
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
            self._wait_room(self._frames_for(pcm))
            self._queue.extend(self._audio_frames(pcm))

    def send_frame(self, make: Callable[[], Frame]) -> Frame:
        with self._send_lock:
            self._check_open()
            self._wait_room(1)
            frame = self._make_frame(make)
            self._queue.extend([frame])
            return frame

    def finish(self, timeout: float | None = None) -> Transcript:
        if self._thread is not None and threading.current_thread() is self._thread:
            raise StreamError(
                "finish() waits for the runner thread, so it cannot be called from an on_event "
                "callback; call it from another thread (close() works from a callback)"
            )
        if self.state == "new":
            raise self._not_started()
        if self.state == "open":
            with self._send_lock:
                frames = self._final_frames()
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
            if self._ended(ev):
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


__all__ = ["ThreadRunner"]
