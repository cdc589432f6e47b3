"""The on-disk corpus: three Parquet tables, one file per written batch, a commit marker.

Layout under `out/`::

    files/part-<n>-<uuid>.parquet      one row per file and attempt (ok / failed / submitted)
    segments/part-<n>-<uuid>.parquet   Transcript.to_pandas() columns + file_id, path, attempt
    words/part-<n>-<uuid>.parquet      to_pandas("word") columns + file_id, path, attempt,
                                       word_index (position of the word in its file)

Decisions:
- Every part is written to a hidden temp file in the same folder and renamed with
  `os.replace` (atomic on POSIX): a reader or a rerun never sees half a file. Readers glob
  `part-*.parquet` only, so a temp file left by `kill -9` is ignored (and swept on the next
  run once it is an hour old).
- The `files` row is the commit marker. A batch writes its segments part, then its words
  part, then its files part. Each attempt at a file carries a fresh `attempt` id, and the
  current state of a file is its latest `files` row (by `written_at`); segment and word rows
  count only when their `(file_id, attempt)` is that row and its status is `ok`. A kill
  between the parts therefore leaves orphan rows that every reader ignores, and the rerun
  writes the file again under a new attempt: never a duplicate, never a lost file.
- Strings stay strings on disk (speaker is not a dictionary type): the tables are read by
  DuckDB, pyarrow, pandas and Dask alike. Column order is the `to_pandas` order after the
  keys; a column `to_pandas` adds later is written as a string column.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fw_asr_widgets.transcript._frames import SEGMENT_COLUMNS, WORD_COLUMNS

TABLES = ("files", "segments", "words")
STATUSES = ("ok", "failed", "submitted")
_TS = pa.timestamp("us", tz="UTC")

FILES_SCHEMA = pa.schema(
    [
        ("file_id", pa.string()),
        ("path", pa.string()),
        ("size_bytes", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("status", pa.string()),
        ("attempt", pa.string()),
        ("duration", pa.float64()),
        ("language", pa.string()),
        ("model", pa.string()),
        ("n_segments", pa.int64()),
        ("n_words", pa.int64()),
        ("error_type", pa.string()),
        ("error_message", pa.string()),
        ("batch_account_id", pa.string()),
        ("batch_id", pa.string()),
        ("batch_endpoint", pa.string()),
        ("submitted_at", _TS),
        ("finished_at", _TS),
        ("written_at", _TS),
    ]
)
"""Columns of `files`. `duration` is the audio length in seconds (NaN when unknown)."""

_FLOATS = {"start", "end", "duration", "confidence", "avg_logprob", "no_speech_prob",
           "compression_ratio", "temperature", "probability"}  # fmt: skip
_KEYS = [("file_id", pa.string()), ("path", pa.string()), ("attempt", pa.string())]


def _field(name: str) -> tuple[str, pa.DataType]:
    if name in _FLOATS:
        return name, pa.float64()
    if name == "is_final":
        return name, pa.bool_()
    if name.startswith("n_"):
        return name, pa.int64()
    return name, pa.string()


SEGMENTS_SCHEMA = pa.schema([*_KEYS, *(_field(c) for c in SEGMENT_COLUMNS)])
WORDS_SCHEMA = pa.schema([*_KEYS, ("word_index", pa.int64()), *(_field(c) for c in WORD_COLUMNS)])
SCHEMAS = {"files": FILES_SCHEMA, "segments": SEGMENTS_SCHEMA, "words": WORDS_SCHEMA}

_TMP_MAX_AGE = 3600.0


def now_us() -> int:
    """The time now in microseconds since the epoch (the `*_at` columns' unit)."""
    return time.time_ns() // 1000


def frame_to_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A to_pandas-style frame (plus key columns) as an arrow table with exactly `schema`."""
    cols = []
    for f in schema:
        if f.name in df.columns:
            s = df[f.name]
            if isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype(object)
            arr = pa.array(s, from_pandas=True)
            if not arr.type.equals(f.type):
                arr = (
                    arr.cast(f.type)
                    if not pa.types.is_null(arr.type)
                    else pa.nulls(len(df), f.type)
                )
        else:
            arr = pa.nulls(len(df), f.type)
        cols.append(arr)
    return pa.Table.from_arrays(cols, schema=schema)


def rows_to_table(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Plain dict rows (missing keys are null) as an arrow table with `schema`."""
    return pa.Table.from_pylist(
        [{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema
    )


class DatasetWriter:
    """Writes parts into `out/<table>/` atomically. Safe to use from several processes."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.root = Path(out)
        for t in TABLES:
            (self.root / t).mkdir(parents=True, exist_ok=True)
        self._n = 0
        self._tag = uuid.uuid4().hex[:8]

    def sweep_temp(self) -> None:
        """Delete temp files older than an hour (left by a killed writer)."""
        cutoff = time.time() - _TMP_MAX_AGE
        for t in TABLES:
            for p in (self.root / t).glob(".tmp-*"):
                try:
                    if p.stat().st_mtime < cutoff:
                        p.unlink()
                except OSError:
                    pass

    def write(self, table: str, data: pa.Table) -> Path | None:
        """Write one part of `table` (nothing for an empty table); return its path."""
        if data.num_rows == 0:
            return None
        self._n += 1
        name = f"part-{time.time_ns():020d}-{self._n:05d}-{self._tag}{uuid.uuid4().hex[:8]}.parquet"
        folder = self.root / table
        tmp = folder / f".tmp-{name}"
        final = folder / name
        pq.write_table(data, tmp, compression="zstd")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return final


def part_paths(root: str | os.PathLike[str], table: str) -> list[str]:
    """The committed part files of `table` (sorted: oldest first)."""
    return sorted(str(p) for p in (Path(root) / table).glob("part-*.parquet"))


def read_table(
    root: str | os.PathLike[str], table: str, columns: list[str] | None = None
) -> pa.Table:
    """All parts of `table` concatenated (an empty table with the schema when none)."""
    schema = SCHEMAS[table]
    paths = part_paths(root, table)
    if not paths:
        return schema.empty_table() if columns is None else schema.empty_table().select(columns)
    import pyarrow.dataset as ds

    return ds.dataset(paths, schema=schema, format="parquet").to_table(columns=columns)


def latest_files(root: str | os.PathLike[str]) -> pd.DataFrame:
    """The current row of every file (its latest `files` row), as pandas."""
    df = read_table(root, "files").to_pandas()
    if df.empty:
        return df
    df = df.sort_values(["written_at"], kind="stable")
    return df.drop_duplicates("file_id", keep="last").reset_index(drop=True)
