"""Smoke test of the benchmarks: `python -m benchmarks --quick` runs end to end and prints a
Markdown table with a row for every figure. No timing assertions: speed is for the table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import FIGURES
from benchmarks.upload import make_sparse_wav

REPO = Path(__file__).resolve().parents[1]


def test_sparse_wav_is_valid_audio(tmp_path: Path) -> None:
    from fw_asr_widgets.audio import probe

    path = make_sparse_wav(tmp_path / "big.wav", 3_200_044)
    assert path.stat().st_size == 3_200_044
    info = probe(path)
    assert info.duration == pytest.approx(100.0, abs=0.01)  # 3.2 MB of 16 kHz PCM16


@pytest.mark.slow
def test_quick_mode_prints_a_row_per_figure(tmp_path: Path) -> None:
    import importlib

    committed = REPO / "benchmarks" / "RESULTS.md"
    before = committed.read_bytes() if committed.exists() else None
    out = tmp_path / "quick.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout
    assert "| Figure | Measure | Ours | Baseline | Baseline value | Ratio | Goal | Met |" in table
    for name in FIGURES:
        label = importlib.import_module(f"benchmarks.{name}").NAME
        rows = [line for line in table.splitlines() if line.startswith(f"| {label} |")]
        assert rows, f"no row for {label}"
        assert not any("| error |" in r for r in rows), rows
    written = out.read_text(encoding="utf-8")
    assert written.strip() == table.strip()
    assert "## Machine" in written and "- CPU: " in written
    after = committed.read_bytes() if committed.exists() else None
    assert after == before, "quick mode must not overwrite benchmarks/RESULTS.md"
