"""`Corpus.link_speakers`: the same label for the same voice in every file of a corpus.

    corpus = fw.open_corpus("calls.transcripts/")
    voices = corpus.link_speakers(voices=bank)      # file_id, path, speaker, voice, score, ...
    corpus.sql("SELECT voice, sum(duration) FROM segments JOIN speaker_map"
               " USING (file_id, speaker) GROUP BY 1")

Decisions:
- Voiceprints are computed where the audio is: one CAM++ centroid per file speaker (the
  `fw.Voices` embedding, from each speaker's solo speech at the corpus' segment times), read
  from the file's `path`. They are kept in a `voiceprints/` table of the dataset (float32,
  192 per file speaker, never audio), keyed by `(file_id, attempt)`: linking again, or after
  more files were transcribed, embeds only the new or re-transcribed files. A file whose
  audio is gone or unreadable gets one row with its `error` (no speaker, no voice), not an
  exception, and the rest are linked; the next call tries that file again (put the audio back
  and link again).
- The clustering is `fw_asr_widgets.voices.link_centroids` (the one `fw.link_speakers` uses:
  calibrated threshold, two speakers of one file never joined, enrolled names with
  `voices=`; exact up to `EXACT_LIMIT` voices, online beyond).
- The map is written as one `speaker_map.parquet` (replaced atomically on every link) and is
  a view `speaker_map` of the corpus, so SQL joins it to `segments` by `(file_id, speaker)`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fw_asr_widgets.corpus._dataset import now_us

if TYPE_CHECKING:
    from fw_asr_widgets.corpus._query import Corpus
    from fw_asr_widgets.voices import Voices

VOICEPRINTS = "voiceprints"
MAP_FILE = "speaker_map.parquet"
MAP_COLUMNS = ["file_id", "path", "speaker", "voice", "score", "seconds", "error"]

VOICEPRINTS_SCHEMA = pa.schema(
    [
        ("file_id", pa.string()),
        ("attempt", pa.string()),
        ("speaker", pa.string()),
        ("embedding", pa.list_(pa.float32())),
        ("seconds", pa.float64()),
        ("error", pa.string()),
        ("written_at", pa.timestamp("us", tz="UTC")),
    ]
)
"""One row per file speaker (or one row with `error` and no speaker for a file that failed)."""


def _write_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _stored(root: Path) -> pd.DataFrame:
    parts = sorted((root / VOICEPRINTS).glob("part-*.parquet"))
    if not parts:
        return VOICEPRINTS_SCHEMA.empty_table().to_pandas()
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)


def _embed_file(path: str, segments: pd.DataFrame) -> tuple[list[dict[str, Any]], str | None]:
    from fw_asr_widgets.voices import _embed

    try:
        audio = _embed.load_audio(path)
    except Exception as exc:  # a missing or unreadable file: reported, the rest go on
        return [], f"{type(exc).__name__}: {exc}"
    named = segments[segments.speaker.map(lambda s: isinstance(s, str) and bool(s))]
    cents = _embed.speaker_centroids(named.itertuples(), audio)  # rows: speaker, start, end
    return [
        {"speaker": spk, "embedding": vec.astype(np.float32), "seconds": sec}
        for spk, (vec, _n, sec) in cents.items()
    ], None


def link_speakers(
    corpus: Corpus,
    *,
    voices: Voices | None = None,
    threshold: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Link the speakers of every `ok` file (see the module doc); returns the speaker map."""
    from fw_asr_widgets.corpus._work import CorpusBar
    from fw_asr_widgets.voices._bank import THRESHOLD
    from fw_asr_widgets.voices._link import link_centroids

    root = corpus.path
    files = corpus.sql("SELECT file_id, attempt, path FROM files WHERE status = 'ok'").df()
    stored = _stored(root)
    done = stored[stored.error.isna()] if len(stored) else stored
    have = set(zip(done["file_id"], done["attempt"], strict=True))
    todo = files[[(f, a) not in have for f, a in zip(files.file_id, files.attempt, strict=True)]]
    bar = CorpusBar(len(todo), progress, desc="voiceprints")
    rows: list[dict[str, Any]] = []
    # One scan of the segments for every file to embed (a query per file would read the
    # whole table once per file).
    timed = corpus.sql(
        'SELECT file_id, speaker, start, "end" FROM segments'
        ' WHERE start IS NOT NULL AND "end" IS NOT NULL'
    ).df()
    timed = timed[timed.file_id.isin(set(todo.file_id))]
    by_file = dict(iter(timed.groupby("file_id", sort=False)))
    none = timed.iloc[0:0]
    try:
        for f in todo.itertuples():
            found, error = _embed_file(f.path, by_file.get(f.file_id, none))
            stamp = now_us()
            base = {"file_id": f.file_id, "attempt": f.attempt, "written_at": stamp}
            if error is not None or not found:
                rows.append(
                    {**base, "speaker": None, "embedding": None, "seconds": None, "error": error}
                )
            rows += [{**base, **r, "error": None} for r in found]
            bar.update(1, failed=int(error is not None))
    finally:
        bar.close()
        if rows:
            table = pa.Table.from_pylist(rows, schema=VOICEPRINTS_SCHEMA)
            part = root / VOICEPRINTS / f"part-{now_us()}-{uuid.uuid4().hex[:8]}.parquet"
            _write_atomic(table, part)
    prints = _stored(root)
    if len(prints):  # a file tried again: only its latest rows count
        last = prints.groupby(["file_id", "attempt"])["written_at"].transform("max")
        prints = prints[prints.written_at == last]
    current = files.merge(prints, on=["file_id", "attempt"], how="inner")
    current = current.sort_values(["path", "speaker"], kind="stable", na_position="last")
    good = current[current.speaker.notna()].reset_index(drop=True)
    failed = current[current.error.notna()]
    if len(good):
        vecs = np.stack([np.asarray(v, dtype=np.float32) for v in good.embedding])
        file_index = pd.factorize(good.file_id)[0].tolist()
        labels, scores = link_centroids(
            vecs,
            file_index,
            voices=voices,
            threshold=THRESHOLD if threshold is None else float(threshold),
        )
    else:
        labels, scores = [], []
    out = pd.DataFrame(
        {
            "file_id": good.file_id.astype(str),
            "path": good.path.astype(str),
            "speaker": good.speaker.astype(str),
            "voice": pd.Series(labels, dtype=object),
            "score": pd.Series(scores, dtype=float),
            "seconds": good.seconds.astype(float),
            "error": pd.Series([None] * len(good), dtype=object),
        },
        columns=MAP_COLUMNS,
    )
    if len(failed):  # one row per file that could not be embedded, saying why
        bad = failed[["file_id", "path", "error"]].astype(object).reset_index(drop=True)
        out = pd.concat([out, bad.reindex(columns=MAP_COLUMNS)], ignore_index=True)
    schema = pa.schema(
        [(c, pa.float64() if c in ("score", "seconds") else pa.string()) for c in MAP_COLUMNS]
    )
    _write_atomic(pa.Table.from_pandas(out, schema=schema, preserve_index=False), root / MAP_FILE)
    corpus.refresh()
    return out
