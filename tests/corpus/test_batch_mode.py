"""mode="batch" against the embedded engine's Batch API endpoints over loopback: submit
everything, persist the job ids, and a rerun that only collects."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.api import batch_jobs as bj
from fw_asr_widgets.corpus._dataset import read_table
from tests.corpus._gen import make_corpus
from tests.corpus.conftest import FAST


def test_batch_mode_submits_then_a_rerun_only_collects(engine, tmp_path: Path) -> None:
    good, bad = make_corpus(tmp_path / "src", 6, 2, seed=7)
    out = tmp_path / "out"
    with fw.Client(base_url=engine.url) as c:
        first = fw.transcribe_corpus(
            tmp_path / "src", out, client=c, mode="batch", wait=0, progress=False, **FAST
        )
        # not audio: refused by the client's check before anything is sent
        assert first.failed == len(bad) and first.submitted == len(good)
        raw = read_table(out, "files").to_pandas()
        sub = raw[raw.status == "submitted"]
        assert len(sub) == len(good) and sub["batch_id"].is_unique
        assert (sub["batch_account_id"] == "local").all()
        assert (sub["batch_endpoint"] == engine.url).all()
        ids = set(sub["batch_id"])

        second = fw.transcribe_corpus(
            tmp_path / "src", out, client=c, mode="batch", poll_interval=0.2, progress=False,
            **FAST,
        )  # fmt: skip
    assert second.submitted == 0, "a rerun must not submit again"
    assert second.pending == 0
    corpus = fw.open_corpus(out)
    files = corpus.to_pandas("files")
    ok = files[files.status == "ok"]
    assert sorted(ok["path"]) == sorted(str(p) for p in good)
    assert set(ok["batch_id"]) == ids  # collected the jobs of the first call
    assert ok["submitted_at"].notna().all() and (ok["finished_at"] >= ok["submitted_at"]).all()
    assert first.ok + second.ok == len(good)
    assert sorted(files.loc[files.status == "failed", "path"]) == sorted(str(p) for p in bad)
    # the same transcripts as the synchronous API
    with fw.Client(base_url=engine.url) as c:
        tr = c.transcribe(str(good[0]), **FAST)
    seg = corpus.sql(
        f"SELECT text FROM segments WHERE path = '{good[0]}' ORDER BY start"
    ).df()  # fmt: skip
    assert "".join(seg["text"]).strip() == tr.text.strip()


def test_engine_batch_endpoints_and_failures(engine, tmp_path: Path, data_dir: Path) -> None:
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"RIFF" + bytes(200))
    with httpx.Client(base_url=engine.url) as h:
        r = h.post(
            "/v1/audio/transcriptions",
            params={"endpoint_id": "audio-prod"},
            files={"file": ("noise.wav", noise.read_bytes())},
        )
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["account_id"] == "local" and job["batch_id"]
        bad_field = h.post(
            "/v1/audio/transcriptions",
            params={"endpoint_id": "audio-prod"},
            data={"temperature": "7"},
            files={"file": ("a.wav", (data_dir / "english.wav").read_bytes())},
        )
        assert bad_field.status_code == 400
        assert h.get("/v1/accounts/local/batch_job/nope").status_code == 404
        for _ in range(300):
            st = h.get(f"/v1/accounts/local/batch_job/{job['batch_id']}").json()
            if st["status"] != "processing":
                break
            import time

            time.sleep(0.1)
    assert st["status"] == "failed"
    assert "error" in json.loads(st["body"])
    status = bj.BatchJobStatus(st["status"], st["content_type"], st["body"])
    with pytest.raises(bj.BatchJobFailed, match="noise.wav"):
        status.transcript()
