"""`transcribe_corpus`: many files -> one resumable Parquet dataset, in-process or on Dask.

Decisions:
- Results are buffered per batch (`batch_size` files, or `flush_seconds`, whichever comes
  first) and written as one part per table: memory holds at most one batch of transcripts,
  and a run that is interrupted (Ctrl-C, crash, `kill -9`) keeps every batch written so far.
  On Ctrl-C the batch in hand is written before the interrupt propagates.
- Resume: a file whose current `files` row is `ok` is skipped; `failed` is retried;
  `submitted` (a Fireworks Batch API job) is collected in batch mode and transcribed again in
  sync mode (the latest row wins, so a late job result never duplicates anything).
- Words are always asked for (`timestamp_granularities=["word", "segment"]` unless the
  caller sets granularities or a response format): search needs word times.
- The sync `Client`'s private event loop runs the requests; parts are written and the bar
  updated in the calling thread (as `transcribe_many` does), so a notebook's Stop works.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fw_asr_widgets.corpus._dataset import DatasetWriter, latest_files
from fw_asr_widgets.corpus._sources import expand_sources, with_ids
from fw_asr_widgets.corpus._work import CorpusBar, Sink, _async_client, check_kwargs, run_sync

MODES = ("sync", "batch")


@dataclass
class CorpusRun:
    """What one `transcribe_corpus` call did (counts of files; `audio_seconds` transcribed)."""

    out: str
    files: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    submitted: int = 0
    pending: int = 0
    duplicates: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = [f"{self.files} files", f"{self.skipped} already done", f"{self.ok} ok"]
        parts.append(f"{self.failed} failed")
        if self.submitted or self.pending:
            parts += [f"{self.submitted} submitted", f"{self.pending} still processing"]
        hours = self.audio_seconds / 3600
        done = f"{hours:.3f} h audio in {self.seconds:.1f} s"
        return f"CorpusRun({self.out!r}: {', '.join(parts)}; {done})"

    def add(self, other: dict[str, Any]) -> None:
        for k in ("ok", "failed", "submitted", "pending"):
            setattr(self, k, getattr(self, k) + int(other.get(k, 0)))
        self.audio_seconds += float(other.get("audio_seconds", 0.0))
        for k, v in other.get("errors", {}).items():
            self.errors[k] = self.errors.get(k, 0) + v


# ------------------------------------------------------------------------------ entry point
def transcribe_corpus(
    sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str] = "calls.transcripts/",
    *,
    client: Any = None,
    diarize: bool = False,
    concurrency: int = 4,
    mode: str = "sync",
    cluster: Any = None,
    progress: bool = True,
    batch_size: int = 32,
    flush_seconds: float = 10.0,
    wait: float | None = None,
    poll_interval: float = 5.0,
    batch_url: str | None = None,
    **transcribe_kwargs: Any,
) -> CorpusRun:
    """Transcribe every audio file in `sources` into the Parquet dataset `out`; resumable.

    `sources`: paths, folders (searched recursively for audio files) and glob patterns.
    `out` gets the tables `files`, `segments` and `words` (see `open_corpus`). Files are keyed
    by the SHA-256 of their bytes: a rerun skips files already `ok`, retries `failed` ones and
    never duplicates a row. `client` is a `Client`/`AsyncClient` (default: `Client()`, i.e.
    Fireworks with `FIREWORKS_API_KEY`, else the embedded engine). `concurrency` requests are
    in flight at once; results are written every `batch_size` files or `flush_seconds`.

    `mode="batch"` sends the files to the Fireworks Batch API (`batch_url`, default the
    documented batch host, or the client's own server) and records the jobs as `submitted`
    rows; it then polls every `poll_interval` s for `wait` s (None: until all are done, 0:
    one pass) and writes what has completed. A later call with the same arguments collects
    the rest without submitting anything again.

    `cluster`: a `dask.distributed.Client`; the files are split into tasks, each worker
    transcribes its share (its own embedded engine, or Fireworks with the key handed over
    by a worker plugin) and writes its parts into `out`, which must be a path every worker
    can reach. Other keyword arguments are `Client.transcribe`'s (`model`, `language`, ...).
    Returns a `CorpusRun` with the counts.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if mode == "batch" and cluster is not None:
        raise ValueError(
            "mode='batch' hands the work to Fireworks' Batch API: leave cluster=None with it"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    kw = check_kwargs(transcribe_kwargs, diarize, concurrency)
    t0 = time.perf_counter()
    out_s = os.fspath(out)
    files = expand_sources(sources)
    writer = DatasetWriter(out_s)
    writer.sweep_temp()
    state = latest_files(out_s)
    known: dict[tuple[str, int, int], str] = {}
    status: dict[str, str] = {}
    if not state.empty:
        for path, size, mt, fid, st in zip(
            state["path"],
            state["size_bytes"],
            state["mtime_ns"],
            state["file_id"],
            state["status"],
            strict=True,
        ):
            if size == size and mt == mt:  # not NaN (rows written by other tools may lack them)
                known[(path, int(size), int(mt))] = fid
            status[fid] = st
    ids = with_ids(files, known)
    run = CorpusRun(out_s, files=len(ids), duplicates=len(files) - len(ids))
    todo = [sf for sf in ids if status.get(sf.file_id) != "ok"]
    run.skipped = len(ids) - len(todo)
    sink = Sink(writer, batch_size, flush_seconds)
    try:
        if mode == "batch":
            from fw_asr_widgets.corpus._batchmode import run_batch

            own = client is None
            from fw_asr_widgets.api.client import Client

            c = Client() if own else client
            try:
                pending = {sf.file_id for sf in todo if status.get(sf.file_id) == "submitted"}
                run.add(
                    run_batch(
                        _async_client(c),
                        todo,
                        pending,
                        state,
                        sink,
                        concurrency,
                        kw,
                        progress,
                        wait=wait,
                        poll_interval=poll_interval,
                        batch_url=batch_url,
                    )
                )
            finally:
                if own:
                    c.close()
        elif cluster is not None:
            from fw_asr_widgets.corpus._dask import run_on_cluster

            run.add(
                run_on_cluster(
                    cluster,
                    client,
                    todo,
                    out_s,
                    concurrency,
                    kw,
                    progress,
                    batch_size,
                    flush_seconds,
                )
            )
        else:
            from fw_asr_widgets.api.client import Client

            own = client is None
            c = Client() if own else client
            bar = CorpusBar(len(todo), progress)
            try:
                run.add(run_sync(_async_client(c), todo, sink, concurrency, kw, bar))
            finally:
                bar.close()
                if own:
                    c.close()
    finally:
        run.seconds = time.perf_counter() - t0
    return run


__all__ = ["CorpusRun", "transcribe_corpus"]
