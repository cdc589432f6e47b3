"""The `fw-asr` command line, run as a user would: in a subprocess, on real audio."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fw_asr_widgets.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from fw_asr_widgets.transcript import wer
from tests.conftest import JFK_REFERENCE


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess:
    env = {**os.environ, "FW_ASR_QUIET": "1"}
    env.pop("FIREWORKS_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "fw_asr_widgets.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


@pytest.mark.parametrize("sub", ["", "transcribe", "translate", "stream", "serve", "demo"])
def test_help(sub: str) -> None:
    res = run_cli(*([sub] if sub else []), "--help")
    assert res.returncode == 0, res.stderr
    assert "usage: fw-asr" in res.stdout
    if not sub:
        assert "Exit codes" in res.stdout


def test_usage_errors() -> None:
    res = run_cli("transcribe", "x.wav", "-o", "out.docx")
    assert res.returncode == EXIT_USAGE
    assert "unknown output format" in res.stderr
    assert run_cli().returncode == EXIT_USAGE  # no command


def test_transcribe_folder_to_parquet_with_a_corrupt_file(
    tmp_path: Path, data_dir: Path, local_server: object
) -> None:
    """20 files, concurrency 4, one Parquet with `source`; a corrupt file is reported, others go on."""
    folder = tmp_path / "calls"
    folder.mkdir()
    samples = ["english.wav", "jfk.wav"]
    for i in range(19):
        name = samples[i % 2]
        shutil.copy(data_dir / name, folder / f"{i:02d}_{name}")
    # Seeded random bytes (some random strings hold valid MPEG frame headers by chance).
    (folder / "10_broken.mp3").write_bytes(np.random.default_rng(7).bytes(4096))
    out = tmp_path / "all.parquet"
    res = run_cli(
        "transcribe",
        str(folder),
        "-o",
        str(out),
        "--concurrency",
        "4",
        "--base-url",
        local_server.url,  # type: ignore[attr-defined]
        "--quiet",
    )
    assert res.returncode == EXIT_FAILED, res.stderr
    assert "1 of 20 file(s) failed" in res.stderr
    assert "10_broken.mp3" in res.stderr
    df = pd.read_parquet(out)
    assert "source" in df.columns
    sources = set(df["source"])
    assert len(sources) == 19
    assert not any("broken" in s for s in sources)
    jfk_rows = df[df["source"].str.endswith("01_jfk.wav")]
    assert wer(JFK_REFERENCE, " ".join(jfk_rows["text"])) <= 0.15


def test_transcribe_single_file_to_srt(
    tmp_path: Path, data_dir: Path, local_server: object
) -> None:
    out = tmp_path / "jfk.srt"
    res = run_cli(
        "transcribe", str(data_dir / "jfk.wav"), "-o", str(out),
        "--base-url", local_server.url, "-q",  # type: ignore[attr-defined]
    )  # fmt: skip
    assert res.returncode == EXIT_OK, res.stderr
    text = out.read_text()
    assert text.startswith("1\n00:00:")
    assert "-->" in text and "country" in text


def test_stream_prints_the_transcript(data_dir: Path, local_server: object) -> None:
    res = run_cli(
        "stream", str(data_dir / "jfk.wav"), "--speed", "0",
        "--base-url", local_server.url,  # type: ignore[attr-defined]
    )  # fmt: skip
    assert res.returncode == EXIT_OK, res.stderr
    final = res.stdout.strip().splitlines()[-1]
    assert wer(JFK_REFERENCE, final) <= 0.2


def test_demo_runs_offline(tmp_path: Path) -> None:
    """The README's main job: a diarized DataFrame of the bundled call with two speakers."""
    res = run_cli("demo", "--out", "out", cwd=tmp_path)
    assert res.returncode == EXIT_OK, res.stderr
    assert "SPEAKER_00" in res.stdout and "SPEAKER_01" in res.stdout
    assert "Talk time per speaker" in res.stdout
    srt = (tmp_path / "out" / "two_speakers.srt").read_text()
    assert "[SPEAKER_0" in srt
    page = (tmp_path / "out" / "two_speakers.html").read_text()
    assert "data:audio/" in page and "SPEAKER_01" in page
