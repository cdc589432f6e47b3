"""The asyncio runner: `_stream_runners`' session performed with asyncio tasks.

A session task performs the session's steps; each connection gets a sender task (queue →
socket, paced) and a receiver task (socket → protocol → events). Used by `AsyncStream`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator, Sequence
from typing import Any

from fw_asr_widgets.api._stream_events import Closed, Frame
from fw_asr_widgets.api._stream_runners import (
    # The same names as the other runner imports (duplicates pairs the two lists): each runner
    # performs the same session steps. `_run`, `_drive` and `_perform` below are twins of the
    # other runner's, differing in await versus blocking waits, as httpx twins its send loops.
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


class _AsyncFrameQueue(_FrameQueue):
    """Bounded FIFO of frames; `wait_room` waits until all fit (never drops, never splits)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self._cond = asyncio.Condition()

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
    _start_hint = "use `async with` or `await start()`"

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
            return await connect(self.options.url, **self._connect_args())
        except Exception as exc:
            raise handshake_error(exc) from None

    async def start(self) -> None:
        self._begin_start()
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
        # The twin of ThreadRunner._drive, which blocks where this one awaits.
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
        for old in self._take_resume():
            await ws.send(old.data)
            self._written(old)
        while True:
            frame: Frame | None = self._retry_frame
            if frame is None:
                frame = await self._queue.get()
                self._retry_frame = frame
            delay = self._pace_delay(frame)
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(frame.data)
            self._written(frame)
            self._retry_frame = None

    async def _receiver(self, ws: Any) -> None:
        while True:
            try:
                msg = await asyncio.wait_for(ws.recv(), self._final_wait())
            except asyncio.TimeoutError:
                raise _Done from None  # the final checkpoint was answered long enough ago
            self._handle_message(msg)

    # -- producer side
    async def send_pcm(self, pcm: bytes) -> None:
        async with self._send_lock:
            self._check_open()
            await self._queue.wait_room(self._frames_for(pcm))
            self._check_open()
            await self._queue.extend(self._audio_frames(pcm))

    async def send_frame(self, make: Callable[[], Frame]) -> Frame:
        async with self._send_lock:
            self._check_open()
            await self._queue.wait_room(1)
            frame = self._make_frame(make)
            await self._queue.extend([frame])
            return frame

    async def finish(self, timeout: float | None = None) -> Transcript:
        if self.state == "new":
            raise self._not_started()
        if self.state == "open":
            async with self._send_lock:
                frames = self._final_frames()
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
                if self._ended(ev):
                    return
            if self.state in ("new", "closed") and self._task is None:
                return
            self._event_flag.clear()
            if self._events:
                continue
            await self._event_flag.wait()


__all__ = ["AsyncRunner"]
