"""Run coroutines from synchronous code, even inside a running event loop (Jupyter).

`asyncio.run` fails in a notebook cell because the kernel's loop is already running. The
sync `Client` instead hands every coroutine to one private event loop that runs forever in a
daemon thread (`asyncio.run_coroutine_threadsafe`) and blocks the caller on the result.
The calling thread's own loop (if any) is never touched, so this works from plain scripts,
from inside `asyncio.run(...)`, and from a Jupyter cell alike.

Interrupting the wait (Ctrl-C, the notebook's stop button) cancels the coroutine on the
private loop before re-raising. Every blocking wait here is cut into `WAIT_SLICE` steps:
a plain `Future.result()` or `Thread.join()` with no timeout does not wake for a simulated
interrupt (`_thread.interrupt_main()`, what Windows kernels send) and so would block until
the work ended by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

WAIT_SLICE = 0.1
"""Longest uninterruptible step of a blocking wait, in seconds."""

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _run_forever(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


def get_loop() -> asyncio.AbstractEventLoop:
    """The process-wide private loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(
                target=_run_forever, args=(loop, ready), name="fw-asr-widgets-loop", daemon=True
            )
            thread.start()
            ready.wait()
            _loop, _thread = loop, thread
        return _loop


def in_loop_thread() -> bool:
    """True when called from the private loop's own thread (where blocking would deadlock)."""
    return _thread is not None and threading.current_thread() is _thread


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the private loop and wait for its result (or exception)."""
    if in_loop_thread():
        coro.close()
        raise RuntimeError("a sync Client method was called from the client's own event loop")
    fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, get_loop())
    try:
        while True:
            try:
                return fut.result(timeout=WAIT_SLICE)
            except TimeoutError:
                if fut.done():  # the coroutine itself raised TimeoutError
                    raise
    except BaseException:
        fut.cancel()
        raise


def _slices(timeout: float | None) -> Iterator[float]:
    """Wait steps of at most `WAIT_SLICE` s until `timeout` s have passed (None: forever)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        step = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - time.monotonic())
        if step <= 0:
            return
        yield step


def wait_for(
    cond: threading.Condition, predicate: Callable[[], bool], timeout: float | None
) -> bool:
    """`cond.wait_for(predicate, timeout)` in interruptible slices (hold `cond` to call it)."""
    return any(cond.wait_for(predicate, step) for step in _slices(timeout)) or predicate()


def join(thread: threading.Thread, timeout: float | None = None) -> None:
    """`thread.join(timeout)` in interruptible slices."""
    for step in _slices(timeout):
        if not thread.is_alive():
            return
        thread.join(step)


def iterate(agen: AsyncIterator[T]) -> Iterator[T]:
    """Drive an async iterator on the private loop from a plain generator.

    Closing the generator early (a `break` in the caller) closes the async iterator on the
    loop, so its clean-up (cancelling workers) runs.
    """

    async def _next() -> tuple[bool, T | None]:
        try:
            return True, await agen.__anext__()
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            ok, item = run(_next())
            if not ok:
                return
            yield item  # type: ignore[misc]
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):
                run(aclose())
