"""The machinery under `transcribe_corpus`, shared by in-process, batch and Dask runs:
the progress bar, the per-batch `Sink`, argument checks and the in-process loop."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pandas as pd

from fw_asr_widgets.corpus._dataset import (
    FILES_SCHEMA,
    SEGMENTS_SCHEMA,
    WORDS_SCHEMA,
    DatasetWriter,
    frame_to_table,
    now_us,
    rows_to_table,
)
from fw_asr_widgets.corpus._sources import SourceFile
from fw_asr_widgets.transcript import Transcript


# ------------------------------------------------------------------------------ progress bar
class CorpusBar:
    """One tqdm.auto bar: files done, files/s, ETA, and audio hours + failures as postfix."""

    def __init__(self, total: int, enabled: bool, desc: str = "transcribing") -> None:
        self._bar: Any = None
        self.audio_seconds = 0.0
        self.failed = 0
        if enabled and total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="file", dynamic_ncols=True)

    def update(self, n: int = 1, audio_seconds: float = 0.0, failed: int = 0) -> None:
        self.audio_seconds += audio_seconds
        self.failed += failed
        if self._bar is None:
            return
        post = f"{self.audio_seconds / 3600:.2f} h audio"
        if self.failed:
            post += f", {self.failed} failed"
        self._bar.set_postfix_str(post, refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# ------------------------------------------------------------------------------ the sink
def _duration(tr: Transcript) -> float:
    d = tr.duration
    if d is None or not math.isfinite(d):
        return tr.end_time if tr.segments else float("nan")
    return float(d)


def error_row(exc: BaseException) -> dict[str, str]:
    """`error_type` and `error_message` of a failure (the client already removed any key)."""
    msg = str(exc) or repr(exc)
    return {"error_type": type(exc).__name__, "error_message": msg[:2000]}


class Sink:
    """Buffers per-file results and writes them as one part per table (files part last)."""

    def __init__(self, writer: DatasetWriter, batch_size: int, flush_seconds: float) -> None:
        self.writer = writer
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self._files: list[dict[str, Any]] = []
        self._segs: list[pd.DataFrame] = []
        self._words: list[pd.DataFrame] = []
        self._since = time.monotonic()

    @staticmethod
    def base_row(sf: SourceFile, status: str, **extra: Any) -> dict[str, Any]:
        row = {
            "file_id": sf.file_id,
            "path": sf.path,
            "size_bytes": sf.size,
            "mtime_ns": sf.mtime_ns,
            "status": status,
            "attempt": uuid.uuid4().hex,
            "duration": float("nan"),
        }
        row.update(extra)
        return row

    def add_transcript(self, sf: SourceFile, tr: Transcript, **extra: Any) -> float:
        """Buffer an ok file; return its audio seconds."""
        row = self.base_row(sf, "ok", **extra)
        keys = {"file_id": sf.file_id, "path": sf.path, "attempt": row["attempt"]}
        seg = tr.to_pandas("segment")
        words = tr.to_pandas("word")
        for df in (seg, words):
            for k, v in keys.items():
                df[k] = v
        words["word_index"] = np.arange(len(words), dtype=np.int64)
        seg["source"] = sf.path
        words["source"] = sf.path
        dur = _duration(tr)
        row.update(
            duration=dur,
            language=tr.language,
            n_segments=len(seg),
            n_words=len(words),
            finished_at=row.get("finished_at") or now_us(),
        )
        self._segs.append(seg)
        self._words.append(words)
        self._files.append(row)
        self._maybe_flush()
        return 0.0 if math.isnan(dur) else dur

    def add_row(self, row: dict[str, Any]) -> None:
        """Buffer a `files` row without transcript (failed / submitted)."""
        row.setdefault("finished_at", now_us())
        self._files.append(row)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if (
            len(self._files) >= self.batch_size
            or time.monotonic() - self._since >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write the buffered batch: segments, words, then the files part (the commit)."""
        self._since = time.monotonic()
        if not self._files:
            return
        if self._segs:
            self.writer.write("segments", frame_to_table(_concat(self._segs), SEGMENTS_SCHEMA))
            self.writer.write("words", frame_to_table(_concat(self._words), WORDS_SCHEMA))
        written = now_us()
        for r in self._files:
            r["written_at"] = written
        self.writer.write("files", rows_to_table(self._files, FILES_SCHEMA))
        self._files, self._segs, self._words = [], [], []


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f.astype({"speaker": object}) if "speaker" in f.columns else f for f in frames]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# ------------------------------------------------------------------------------ arguments
def check_kwargs(kwargs: dict[str, Any], diarize: bool, concurrency: int) -> dict[str, Any]:
    """`transcribe` keyword arguments for the corpus, checked now (bad ones raise here)."""
    from fw_asr_widgets.api.client import check_batch_args

    kw = dict(kwargs)
    if diarize:
        kw["diarize"] = True
    fmt = kw.get("response_format")
    if fmt is not None and fmt != "verbose_json":
        raise ValueError(
            f"transcribe_corpus stores timed segments and words: response_format must be "
            f"'verbose_json' (or unset), not {fmt!r}"
        )
    if kw.get("timestamp_granularities") is None and not diarize:
        kw["timestamp_granularities"] = ["word", "segment"]
    check_batch_args(concurrency, kw)
    return kw


def _async_client(client: Any) -> Any:
    """The `AsyncClient` to run on: `client` itself, or a `Client`'s public `async_client`
    (the work then runs on that client's private loop, see `run_sync`)."""
    from fw_asr_widgets.api.client import AsyncClient, Client

    if isinstance(client, Client):
        return client.async_client
    if isinstance(client, AsyncClient):
        return client
    raise TypeError(
        f"client must be a fw_asr_widgets Client or AsyncClient, not {type(client).__name__}"
    )


# ------------------------------------------------------------------------------ in-process run
async def _sync_results(
    aclient: Any, todo: list[SourceFile], concurrency: int, kw: dict[str, Any]
) -> AsyncIterator[tuple[SourceFile, Any, BaseException | None]]:
    from fw_asr_widgets.api._batch import iter_batch

    paths = [sf.path for sf in todo]
    async for r in iter_batch(aclient.transcribe, paths, concurrency, kw):
        yield todo[r.index], r.transcript, r.error


def run_sync(
    aclient: Any,
    todo: list[SourceFile],
    sink: Sink,
    concurrency: int,
    kw: dict[str, Any],
    bar: CorpusBar,
) -> dict[str, Any]:
    """Transcribe `todo` and write every outcome through `sink`; return the counts."""
    from fw_asr_widgets.api import _sync

    counts: dict[str, Any] = {"ok": 0, "failed": 0, "audio_seconds": 0.0, "errors": {}}
    model = kw.get("model", "whisper-v3")
    try:
        for sf, tr, err in _sync.iterate(_sync_results(aclient, todo, concurrency, kw)):
            if err is None and isinstance(tr, Transcript):
                secs = sink.add_transcript(sf, tr, model=model)
                counts["ok"] += 1
                counts["audio_seconds"] += secs
                bar.update(1, secs)
            else:
                exc = (
                    err
                    if err is not None
                    else TypeError("the server returned text, not a transcript")
                )
                sink.add_row(sink.base_row(sf, "failed", model=model, **error_row(exc)))
                counts["failed"] += 1
                name = type(exc).__name__
                counts["errors"][name] = counts["errors"].get(name, 0) + 1
                bar.update(1, failed=1)
    finally:
        sink.flush()
    return counts


def iter_chunks(items: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
