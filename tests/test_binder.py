"""Binder's environment, built the way repo2docker builds it, in a fresh virtual environment.

repo2docker installs `binder/requirements.txt`, then runs `binder/postBuild` from the
repository root. Doing the same here proves the notebooks' environment installs and that the
embedded engine works in it (models from PyPI packages, nothing downloaded at run time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_binder_environment_builds_and_runs(tmp_path: Path) -> None:
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}" or runtime == (
        "python-3.11"
    )
    env_dir = tmp_path / "binder-env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    env.pop("FIREWORKS_API_KEY", None)

    def run(*cmd: str) -> str:
        res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        assert res.returncode == 0, f"{cmd}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
        return res.stdout

    run("python", "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    run("bash", "binder/postBuild")
    out = run(
        "python",
        "-c",
        "import sys, fw_asr_widgets as fw, jupyterlab, matplotlib;"
        "from fw_asr_widgets.local import models;"
        "print(sys.prefix); print(models.multilingual_available());"
        "c = fw.Client(); tr = c.transcribe(fw.samples.path('english.wav'));"
        "print(tr.text)",
    )
    prefix, multilingual, text = out.strip().splitlines()[-3:]
    assert Path(prefix).resolve() == env_dir.resolve()
    assert multilingual == "True"
    assert "three" in text.lower() or "3" in text
