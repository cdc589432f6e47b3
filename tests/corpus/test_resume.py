"""transcribe_corpus: a run killed with SIGKILL part-way resumes without losing or
duplicating anything; failures are rows; a killed writer's orphan parts are ignored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.corpus._dataset import DatasetWriter, latest_files, read_table
from fw_asr_widgets.corpus._sources import file_hash
from tests.corpus.conftest import FAST

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import sys
import fw_asr_widgets as fw
src, out, url = sys.argv[1:4]
with fw.Client(base_url=url) as c:
    fw.transcribe_corpus(src, out, client=c, concurrency=2, batch_size=8, flush_seconds=2,
                         progress=False, temperature=0.0, language="en")
"""


def _committed_parts(out: Path) -> int:
    return len(list((out / "files").glob("part-*.parquet")))


@pytest.mark.slow
@pytest.mark.timeout(900)  # 200 real transcriptions: ~4 min on a loaded 2-core machine
def test_sigkill_then_resume_holds_every_file_once(big_corpus, engine, tmp_path: Path) -> None:
    root, good, bad = big_corpus
    out = tmp_path / "calls.transcripts"
    env = {**os.environ, "PYTHONPATH": str(REPO), "FW_ASR_QUIET": "1"}
    env.pop("FIREWORKS_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(out), engine.url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while _committed_parts(out) < 3 if out.exists() else True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the child wrote nothing in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = latest_files(out)
    done_before = int((before["status"] == "ok").sum())
    total = len(good) + len(bad)
    assert 0 < done_before < total, "the kill must land part-way"

    with fw.Client(base_url=engine.url) as c:
        run = fw.transcribe_corpus(root, out, client=c, concurrency=2, progress=False, **FAST)
    assert run.files == total
    assert run.skipped == done_before
    assert run.ok + run.failed == total - done_before
    assert run.failed == len(bad)

    corpus = fw.open_corpus(out)
    files = corpus.to_pandas("files")
    assert len(files) == total and files["file_id"].is_unique
    assert sorted(files.loc[files.status == "ok", "path"]) == sorted(str(p) for p in good)
    failed = files[files.status == "failed"]
    assert sorted(failed["path"]) == sorted(str(p) for p in bad)
    assert failed["error_type"].notna().all() and failed["error_message"].str.len().gt(0).all()
    assert (files.loc[files.status == "ok", "duration"] > 0.5).all()
    # keys are content hashes
    some = files.iloc[0]
    assert some["file_id"] == file_hash(some["path"])

    # never a duplicate: one committed ok row per file across all parts, and segment/word
    # rows of exactly one attempt per file, matching the files row's counts
    raw = read_table(out, "files").to_pandas()
    assert not raw[raw.status == "ok"]["file_id"].duplicated().any()
    seg = corpus.sql(
        "SELECT file_id, count(DISTINCT attempt) a, count(*) n FROM segments GROUP BY 1"
    ).df()
    assert (seg["a"] == 1).all()
    n_seg = dict(zip(files.file_id, files.n_segments, strict=True))
    assert all(n_seg[f] == n for f, n in zip(seg.file_id, seg.n, strict=True))
    words = corpus.sql("SELECT file_id, count(*) n, max(word_index) m FROM words GROUP BY 1").df()
    assert (words["n"] == words["m"] + 1).all()
    assert int(words["n"].sum()) == int(files["n_words"].sum()) > 100

    # a third run does nothing
    with fw.Client(base_url=engine.url) as c:
        again = fw.transcribe_corpus(root, out, client=c, progress=False, **FAST)
    assert again.skipped == len(good) and again.ok == 0 and again.failed == len(bad)


def test_orphan_parts_of_a_killed_writer_are_ignored(tmp_path: Path, data_dir: Path, engine):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("jfk.wav", "english.wav"):
        (src / name).write_bytes((data_dir / name).read_bytes())
    out = tmp_path / "out"
    with fw.Client(base_url=engine.url) as c:
        fw.transcribe_corpus(src, out, client=c, progress=False, **FAST)
    corpus = fw.open_corpus(out)
    n_seg, n_words = len(corpus.to_pandas("segments")), len(corpus.to_pandas("words"))
    # a writer killed after its segments/words parts but before its files part: copies of
    # the rows under a new attempt id, with no files row
    w = DatasetWriter(out)
    for t in ("segments", "words"):
        tbl = read_table(out, t)
        w.write(
            t,
            tbl.set_column(
                tbl.schema.get_field_index("attempt"), "attempt", [["orphan"] * tbl.num_rows]
            ),
        )
    (out / "files" / ".tmp-part-half-written.parquet").write_bytes(b"PAR1 truncated")
    assert len(corpus.to_pandas("segments")) == n_seg
    assert len(corpus.to_pandas("words")) == n_words
    hits = corpus.search("country")
    assert len(hits) == 2 and set(hits["path"]) == {str(src / "jfk.wav")}
    assert "ask not what your" in hits["before"].iloc[0]
    # and the raw part files really hold the orphans
    assert sum(pq.read_metadata(p).num_rows for p in (out / "words").glob("part-*")) == 2 * n_words


def test_bad_arguments_raise_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        fw.transcribe_corpus(tmp_path / "missing", tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="mode"):
        fw.transcribe_corpus(tmp_path, tmp_path / "out", mode="fast", progress=False)
    with pytest.raises(ValueError, match="verbose_json"):
        fw.transcribe_corpus(tmp_path, tmp_path / "out", response_format="text", progress=False)
    with pytest.raises(TypeError, match="transcribe_many"):
        fw.transcribe_corpus(tmp_path, tmp_path / "out", colour="red", progress=False)
    assert not (tmp_path / "out").exists()
