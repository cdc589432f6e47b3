"""`transcribe_corpus(mode="batch")`: submit every file to the Batch API, then collect.

Decisions:
- The job ids are written (`files` rows with status `submitted`, `batch_account_id`,
  `batch_id`, `batch_endpoint` = the server the job lives on) as submissions complete and
  before any polling, so a crash while waiting loses no job: a rerun polls the recorded jobs
  and submits only files that have no job.
- Collecting: every pending job is polled (at most `concurrency` polls at once) each
  `poll_interval` s until all are done or `wait` s have passed (`wait=0`: one pass;
  None: until done). A completed job becomes an `ok` row with its segments and words, a
  failed one a `failed` row (retried, i.e. resubmitted, by the next run). A job the server
  does not know (404: e.g. an embedded engine that was restarted) is a failure too; a
  server that cannot be reached leaves the job pending for the next call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pandas as pd

from fw_asr_widgets.corpus._sources import SourceFile
from fw_asr_widgets.corpus._work import CorpusBar, Sink, error_row


async def _events(
    aclient: Any,
    submit: list[SourceFile],
    pending: list[tuple[SourceFile, Any, dict[str, Any]]],
    concurrency: int,
    kw: dict[str, Any],
    wait: float | None,
    poll_interval: float,
    batch_url: str | None,
) -> AsyncIterator[tuple[Any, ...]]:
    from fw_asr_widgets.api import batch_jobs as bj
    from fw_asr_widgets.errors import APIConnectionError

    sem = asyncio.Semaphore(concurrency)
    queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    async def one_submit(sf: SourceFile) -> None:
        async with sem:
            try:
                job = await bj.submit_transcription(aclient, sf.path, batch_url=batch_url, **kw)
            except Exception as exc:
                await queue.put(("submit_failed", sf, exc))
            else:
                await queue.put(("submitted", sf, job))

    tasks = [asyncio.create_task(one_submit(sf)) for sf in submit]
    jobs: list[tuple[SourceFile, Any, dict[str, Any]]] = list(pending)
    try:
        for _ in tasks:
            ev = await queue.get()
            if ev[0] == "submitted":
                jobs.append((ev[1], ev[2], {}))
            yield ev
        yield ("flush",)
        deadline = None if wait is None else time.monotonic() + wait

        async def one_poll(item: tuple[SourceFile, Any, dict[str, Any]]) -> None:
            sf, job, extra = item
            async with sem:
                try:
                    st = await bj.get_batch_job(aclient, job)
                    if not st.done:
                        await queue.put(("processing", item))
                        return
                    tr = st.transcript(source=sf.path)
                except APIConnectionError:
                    await queue.put(("processing", item))
                except Exception as exc:  # NotFoundError, BatchJobFailed, bad bodies
                    await queue.put(("job_failed", sf, job, exc, extra))
                else:
                    await queue.put(("done", sf, job, tr, extra))

        while jobs:
            polls = [asyncio.create_task(one_poll(it)) for it in jobs]
            still = []
            try:
                for _ in polls:
                    ev = await queue.get()
                    if ev[0] == "processing":
                        still.append(ev[1])
                    else:
                        yield ev
            finally:
                for p in polls:
                    p.cancel()
            jobs = still
            yield ("pending", len(jobs))
            if not jobs or (deadline is not None and time.monotonic() + poll_interval > deadline):
                break
            await asyncio.sleep(poll_interval)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run_batch(
    aclient: Any,
    todo: list[SourceFile],
    pending_ids: set[str],
    state: pd.DataFrame,
    sink: Sink,
    concurrency: int,
    kw: dict[str, Any],
    progress: bool,
    *,
    wait: float | None,
    poll_interval: float,
    batch_url: str | None,
) -> dict[str, Any]:
    """Submit the files of `todo` that have no job, collect every job; return the counts."""
    from fw_asr_widgets.api import _sync
    from fw_asr_widgets.api.batch_jobs import BatchJob

    model = kw.get("model", "whisper-v3")
    rows = {}
    if pending_ids and not state.empty:
        rows = {r["file_id"]: r for r in state[state.status == "submitted"].to_dict("records")}
    pending, submit = [], []
    for sf in todo:
        r = rows.get(sf.file_id)
        if sf.file_id in pending_ids and r is not None and r.get("batch_id"):
            job = BatchJob(r["batch_account_id"], r["batch_id"], "", r["batch_endpoint"])
            extra = {"submitted_at": r.get("submitted_at")}
            pending.append((sf, job, extra))
        else:
            submit.append(sf)
    counts: dict[str, Any] = {
        "ok": 0, "failed": 0, "submitted": 0, "pending": 0, "audio_seconds": 0.0, "errors": {},
    }  # fmt: skip
    bar = CorpusBar(len(submit), progress, desc="submitting")
    submitted_at: dict[str, int] = {}

    def fail(sf: SourceFile, exc: BaseException, **extra: Any) -> None:
        sink.add_row(sink.base_row(sf, "failed", model=model, **extra, **error_row(exc)))
        counts["failed"] += 1
        name = type(exc).__name__
        counts["errors"][name] = counts["errors"].get(name, 0) + 1

    def job_cols(job: Any) -> dict[str, Any]:
        return {
            "batch_account_id": job.account_id,
            "batch_id": job.batch_id,
            "batch_endpoint": job.batch_url,
        }

    try:
        events = _events(aclient, submit, pending, concurrency, kw, wait, poll_interval, batch_url)
        for ev in _sync.iterate(events):
            kind = ev[0]
            if kind == "submitted":
                _, sf, job = ev
                from fw_asr_widgets.corpus._dataset import now_us

                t = now_us()
                submitted_at[job.batch_id] = t
                sink.add_row(
                    sink.base_row(sf, "submitted", model=model, submitted_at=t, **job_cols(job))
                )
                counts["submitted"] += 1
                bar.update(1)
            elif kind == "submit_failed":
                fail(ev[1], ev[2])
                bar.update(1, failed=1)
            elif kind == "flush":
                sink.flush()
                bar.close()
                bar = CorpusBar(len(pending) + counts["submitted"], progress, desc="collecting")
            elif kind == "done":
                _, sf, job, tr, extra = ev
                at = extra.get("submitted_at") or submitted_at.get(job.batch_id)
                secs = sink.add_transcript(
                    sf, tr, model=model, submitted_at=_at(at), **job_cols(job)
                )
                counts["ok"] += 1
                counts["audio_seconds"] += secs
                bar.update(1, secs)
            elif kind == "job_failed":
                _, sf, job, exc, extra = ev
                at = extra.get("submitted_at") or submitted_at.get(job.batch_id)
                fail(sf, exc, submitted_at=_at(at), **job_cols(job))
                bar.update(1, failed=1)
            elif kind == "pending":
                counts["pending"] = ev[1]
    finally:
        sink.flush()
        bar.close()
    return counts


def _at(value: Any) -> int | None:
    """A submitted_at value from state (Timestamp) or this run (int µs), as int µs."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return int(value.value // 1000)
    return int(value)
