"""mode="batch" against the embedded engine's Batch API endpoints over loopback: submit
everything, persist the job ids, and a rerun that only collects."""

from __future__ import annotations

import json
import time
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


def _wait_job(h: httpx.Client, batch_id: str) -> dict:
    for _ in range(600):
        st = h.get(f"/v1/accounts/local/batch_job/{batch_id}").json()
        if st["status"] != "processing":
            return st
        time.sleep(0.1)
    raise AssertionError("the batch job did not finish")


def test_engine_batch_endpoints_and_failures(engine, tmp_path: Path, data_dir: Path) -> None:
    wav = (data_dir / "english.wav").read_bytes()
    with httpx.Client(base_url=engine.url, timeout=120) as h:
        sync = h.post("/v1/audio/transcriptions", files={"file": ("a.wav", wav)},
                      data={"response_format": "verbose_json", "temperature": "0"})  # fmt: skip
        ids = []
        for data, name, body in (
            ({"response_format": "verbose_json", "temperature": "0"}, "a.wav", wav),
            ({"temperature": "7"}, "a.wav", wav),  # checked when the job runs
            ({}, "noise.wav", b"RIFF" + bytes(200)),
        ):
            r = h.post(
                "/v1/audio/transcriptions",
                params={"endpoint_id": "audio-prod"},
                data=data,
                files={"file": (name, body)},
            )
            assert r.status_code == 200, r.text
            job = r.json()
            assert job["account_id"] == "local" and len(job["batch_id"]) >= 16
            ids.append(job["batch_id"])
        assert h.get("/v1/accounts/local/batch_job/nope").status_code == 404
        assert h.get(f"/v1/accounts/other/batch_job/{ids[0]}").status_code == 404
        ok, bad_field, noise = (_wait_job(h, i) for i in ids)
    assert ok["status"] == "completed" and ok["content_type"] == "application/json"
    # exactly the synchronous answer
    assert json.loads(ok["body"])["text"] == sync.json()["text"]
    assert json.loads(ok["body"])["segments"] == sync.json()["segments"]
    assert bad_field["status"] == "failed" and "temperature" in bad_field["body"]
    assert noise["status"] == "failed"
    status = bj.BatchJobStatus(noise["status"], noise["content_type"], noise["body"])
    with pytest.raises(bj.BatchJobFailed, match="noise.wav"):
        status.transcript()


def test_engine_batch_submissions_need_the_key(tmp_path: Path, data_dir: Path) -> None:
    from fw_asr_widgets.local import serve

    with serve(api_key="batch-secret") as srv, httpx.Client(base_url=srv.url, timeout=120) as h:
        files = {"file": ("a.wav", (data_dir / "english.wav").read_bytes())}
        r = h.post("/v1/audio/transcriptions", params={"endpoint_id": "x"}, files=files)
        assert r.status_code == 401
        assert h.get("/v1/accounts/local/batch_job/abc").status_code == 401
        auth = {"Authorization": "Bearer batch-secret"}
        r = h.post("/v1/audio/transcriptions", params={"endpoint_id": "x"}, files=files,
                   headers=auth)  # fmt: skip
        assert r.status_code == 200
        h.headers.update(auth)
        st = _wait_job(h, r.json()["batch_id"])  # (a job still running would outlive the server)
        assert st["status"] == "completed" and "one" in json.loads(st["body"])["text"].lower()
