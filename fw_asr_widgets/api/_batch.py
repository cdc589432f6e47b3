"""`transcribe_many`/`translate_many`: a bounded pool of concurrent requests, results as they
complete.

`concurrency` workers pull the next file from a shared queue, so at most that many uploads
are in flight and a long list costs no more than its length in memory. A failing file
becomes a `BatchResult` with `error` set; the others carry on. Leaving the iteration early
cancels the workers that are still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fw_asr_widgets.api import _params
from fw_asr_widgets.api._files import source_name
from fw_asr_widgets.transcript import Transcript


@dataclass(frozen=True)
class BatchResult:
    """One file's outcome: `transcript` (a `Transcript`, or `str` for text formats) or `error`.

    `source` names the input (the path or URL as given, `<bytes #i>` for bytes), `index` is
    its position in the input list.
    """

    source: str
    transcript: Transcript | str | None
    error: BaseException | None
    index: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def batch_source_name(file: object, index: int) -> str:
    """`source_name(file)`, with the position added to placeholder names (`<bytes #3>`)."""
    name = source_name(file)
    return f"{name[:-1]} #{index}>" if name.startswith("<") else name


BAR_DESC = {"transcribe": "transcribing", "translate": "translating"}
"""The progress bar's label per task."""


def items(files: Iterable[Any]) -> Sequence[Any]:
    """`files` as a list or tuple (an iterator is read once, here)."""
    return files if isinstance(files, list | tuple) else list(files)


def check_batch_args(
    concurrency: int, kwargs: Mapping[str, Any], *, task: str = "transcribe"
) -> None:
    """Validate `transcribe_many`/`translate_many` arguments up front (unknown or bad kwargs
    raise now). `task` is "transcribe" or "translate"."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
    validate = _params.transcription_fields if task == "transcribe" else _params.translation_fields
    try:
        validate(**kwargs)
    except TypeError as exc:
        raise TypeError(f"{task}_many: {exc}") from None


async def iter_batch(
    call: Callable[..., Awaitable[Transcript | str]],
    files: Sequence[Any],
    concurrency: int,
    kwargs: dict[str, Any],
) -> AsyncIterator[BatchResult]:
    """Yield one `BatchResult` per file, in completion order.

    `call(file, **kwargs)` does the work for one file: `AsyncClient.transcribe`,
    `AsyncClient.translate`, or any coroutine function with that shape.
    """
    todo: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    for item in enumerate(files):
        todo.put_nowait(item)
    done: asyncio.Queue[BatchResult] = asyncio.Queue()

    async def worker() -> None:
        while True:
            try:
                index, file = todo.get_nowait()
            except asyncio.QueueEmpty:
                return
            name = batch_source_name(file, index)
            try:
                tr = await call(file, **kwargs)
            except Exception as exc:  # one file's failure must not stop the batch
                await done.put(BatchResult(name, None, exc, index))
            else:
                if isinstance(tr, Transcript) and tr.source != name:
                    tr = tr.with_source(name)
                await done.put(BatchResult(name, tr, None, index))

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(files)))]
    try:
        for _ in range(len(files)):
            yield await done.get()
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


class _Bar:
    """A tqdm bar counting files, with the number of failures as postfix (or nothing)."""

    def __init__(self, total: int, enabled: bool, desc: str = "transcribing") -> None:
        self._bar: Any = None
        self.failed = 0
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="file")

    def update(self, result: BatchResult) -> None:
        if self._bar is None:
            return
        if result.error is not None:
            self.failed += 1
            self._bar.set_postfix(failed=self.failed, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def progress_bar(total: int, enabled: bool, desc: str = "transcribing") -> _Bar:
    return _Bar(total, enabled, desc)
