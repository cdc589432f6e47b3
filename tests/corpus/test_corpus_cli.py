"""`fw-asr corpus` end to end in a subprocess, and the lazy import promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fw_asr_widgets as fw

REPO = Path(__file__).resolve().parents[2]


def _fw_asr(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FW_ASR_QUIET": "1"}
    env.pop("FIREWORKS_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "fw_asr_widgets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_corpus_writes_a_dataset_and_reports_failures(engine, tmp_path, data_dir) -> None:
    src = tmp_path / "calls"
    (src / "a").mkdir(parents=True)
    (src / "a" / "jfk.wav").write_bytes((data_dir / "jfk.wav").read_bytes())
    (src / "english.wav").write_bytes((data_dir / "english.wav").read_bytes())
    (src / "broken.mp3").write_bytes(b"not audio at all")
    (src / "notes.txt").write_text("skipped: not an audio extension")
    out = tmp_path / "calls.transcripts"
    r = _fw_asr("corpus", str(src), "--out", str(out), "--base-url", engine.url)
    assert r.returncode == 1, r.stderr  # one file failed
    assert "3 files" in r.stdout and "2 ok" in r.stdout and "1 failed" in r.stdout
    assert "AudioDecodeError" in r.stderr
    assert "file/s" in r.stderr or "s/file" in r.stderr  # the tqdm bar, on stderr
    assert "h audio" in r.stderr
    corpus = fw.open_corpus(out)
    assert corpus.summary()["ok"] == 2
    assert len(corpus.search("country")) == 2

    again = _fw_asr("corpus", str(src / "**" / "*.wav"), "--out", str(out), "-q",
                    "--base-url", engine.url)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "2 already done" in again.stdout and again.stderr == ""

    missing = _fw_asr("corpus", str(tmp_path / "nope"), "--out", str(out))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_importing_the_package_loads_no_corpus_dependency() -> None:
    code = (
        "import sys, fw_asr_widgets, fw_asr_widgets.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('duckdb', 'dask', 'distributed', 'fw_asr_widgets.corpus._run')"
        " if m in sys.modules))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout.strip() == "[]", r.stderr
    assert callable(fw.transcribe_corpus) and callable(fw.open_corpus)
