"""The worker machinery: job slots (429 beyond the queue), worker threads, cancellation.

Decisions:
- A job runs in a worker thread (`anyio.to_thread`) once one of `max_concurrent_jobs` slots
  is free; up to `max_queued_jobs` more wait; beyond that the request gets a 429 with
  `Retry-After`.
- A job whose client disconnects is cancelled: the watcher sets the job's `threading.Event`
  (the engine stops at its next check) and the slot goes to the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any

from fastapi import Request

from fw_asr_widgets.local import engine
from fw_asr_widgets.local.server.errors import ApiError
from fw_asr_widgets.local.server.forms import FileRequest

DISCONNECT_POLL_SECONDS = 0.2
"""How often a running job checks whether its client is still connected."""


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
        watcher = asyncio.create_task(watch_disconnect(request, cancel)) if request else None
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


async def watch_disconnect(request: Request, cancel: threading.Event) -> None:
    """Set `cancel` when the client of `request` disconnects (polled every 0.2 s)."""
    with contextlib.suppress(asyncio.CancelledError):
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await asyncio.sleep(DISCONNECT_POLL_SECONDS)


def run_file(
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
                seg=result.extra.get("segmentation"),
                redecode=functools.partial(
                    engine.redecode_speech,
                    opts=req.options,
                    model_name=result.model_name,
                    cancel=cancel,
                ),
            )
        except ValueError as exc:  # the diarizer's own check of the speaker counts
            raise engine.EngineInputError(f"diarization: {exc}") from None
        result.audio = None
    return result
