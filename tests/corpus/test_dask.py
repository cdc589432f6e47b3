"""cluster=: a 2-worker Dask LocalCluster (separate processes, each with its own embedded
engine) writes the same rows as the in-process run; the key never enters a task."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.corpus._dask import ApiKeyPlugin
from tests.corpus._gen import make_corpus
from tests.corpus.conftest import FAST

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
REPO = Path(__file__).resolve().parents[2]


def _rows(out: Path) -> dict[str, list[tuple]]:
    c = fw.open_corpus(out)
    files = c.sql(
        "SELECT file_id, path, status, error_type, n_segments, n_words, round(duration, 2)"
        " FROM files ORDER BY file_id"
    ).fetchall()
    files = [tuple(None if v != v else v for v in row) for row in files]  # NaN -> None
    segs = c.sql(
        'SELECT file_id, round(start, 1), round("end", 1), text FROM segments'
        " ORDER BY file_id, start, segment_id"
    ).fetchall()
    words = c.sql("SELECT file_id, word_index, text FROM words ORDER BY file_id, word_index")
    return {"files": files, "segments": segs, "words": words.fetchall()}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_local_cluster_gives_the_same_rows_as_in_process(tmp_path: Path) -> None:
    good, bad = make_corpus(tmp_path / "src", 14, 2, seed=23)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dc,
    ):
        run = fw.transcribe_corpus(
            tmp_path / "src", tmp_path / "dask", cluster=dc, batch_size=4, progress=False, **FAST
        )
        # the workers ran their own engines: two worker processes wrote parts
        pids = dc.run(lambda: __import__("os").getpid())
        assert len(set(pids.values())) == 2
    assert run.ok == len(good) and run.failed == len(bad)
    parts = list((tmp_path / "dask" / "files").glob("part-*.parquet"))
    assert len(parts) >= 2
    # In-process, in a fresh process with the workers' thread settings (Dask's nanny sets
    # OMP/MKL/OpenBLAS threads to 1; other BLAS thread counts can change a decoded word).
    env = {**os.environ, "PYTHONPATH": str(REPO), "FW_ASR_QUIET": "1"}
    env.update(
        {k: str(v) for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()}
    )
    code = (
        "import sys, fw_asr_widgets as fw; "
        "r = fw.transcribe_corpus(sys.argv[1], sys.argv[2], progress=False, "
        "temperature=0.0, language='en'); print(r.ok)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "src"), str(tmp_path / "local")],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == run.ok
    a, b = _rows(tmp_path / "dask"), _rows(tmp_path / "local")
    assert a["files"] == b["files"]
    assert a["segments"] == b["segments"]
    assert a["words"] == b["words"]
    assert len(a["words"]) > 20


def test_the_key_travels_in_a_redacted_plugin_not_in_tasks() -> None:
    key = "fw-test-key-0123456789"
    plugin = ApiKeyPlugin(key)
    assert key not in repr(plugin) and key not in str(plugin)
    clone = pickle.loads(pickle.dumps(plugin))
    clone.setup()
    from fw_asr_widgets.corpus import _dask

    assert _dask._worker_key is not None and _dask._worker_key.get() == key
    assert key not in repr(_dask._worker_key)
    clone.teardown()
    assert _dask._worker_key is None
