"""The wheel ships what users need at run time, and the code stays ruff clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = out.glob("fw_asr_widgets-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_wheel_has_assets_models_and_samples(wheel_names: set[str]) -> None:
    must = [
        "fw_asr_widgets/py.typed",
        "fw_asr_widgets/local/voice_encoder.npz",
        "fw_asr_widgets/local/VOICE_ENCODER_NOTICE.txt",
        "fw_asr_widgets/local/weights/segmentation-3.0.onnx",
        "fw_asr_widgets/local/weights/campplus.onnx",
        "fw_asr_widgets/local/weights/NOTICE.txt",
        "fw_asr_widgets/local/weights/MANIFEST.json",
        "fw_asr_widgets/voices/cohort.npz",
        "fw_asr_widgets/samples/ATTRIBUTION.md",
        "fw_asr_widgets/samples/two_speakers.wav",
        "fw_asr_widgets/samples/two_speakers.rttm",
        "fw_asr_widgets/samples/jfk.wav",
    ]
    for widget in ("recorder", "uploader", "viewer", "timeline"):
        must += [f"fw_asr_widgets/widgets/{widget}.js", f"fw_asr_widgets/widgets/{widget}.css"]
    must += ["fw_asr_widgets/widgets/_shared.js", "fw_asr_widgets/widgets/_shared.css"]  # bundled
    missing = [m for m in must if m not in wheel_names]
    assert not missing, missing
    assert not [n for n in wheel_names if n.startswith(("tests/", "benchmarks/", "notebooks/"))]
    assert any(n.endswith("entry_points.txt") for n in wheel_names)


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff_clean(args: list[str]) -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is part of the test extra and must be installed")
    res = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-1000:]
