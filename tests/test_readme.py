"""The README's first command, verbatim, in a fresh virtual environment.

`.ci/run` proves the second command (the test suite) the same way; this proves the main job:
install with the embedded engine only, then `fw-asr demo` prints a diarized DataFrame of the
bundled two-speaker call, offline.
"""

from __future__ import annotations

import os
import re
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [b.strip() for b in blocks]


def test_readme_has_the_two_commands() -> None:
    first, second = readme_commands()[:2]
    assert first == 'pip install -e ".[local]" && fw-asr demo'
    assert second == 'pip install -e ".[test]" && pytest'
    assert second in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_main_job_in_a_fresh_venv(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    for var in ("PYTHONPATH", "FIREWORKS_API_KEY", "VIRTUAL_ENV"):
        env.pop(var, None)
    work = tmp_path / "work"
    work.mkdir()
    command = readme_commands()[0].replace('-e ".', f'-e "{ROOT}')
    res = subprocess.run(
        ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=850
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    out = res.stdout
    assert "SPEAKER_00" in out and "SPEAKER_01" in out
    assert "Talk time per speaker" in out
    assert (work / "fw-asr-demo" / "two_speakers.srt").is_file()
    assert (work / "fw-asr-demo" / "two_speakers.html").is_file()
    assert "notebooks" in out
