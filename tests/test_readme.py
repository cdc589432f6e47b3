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


def test_ci_runs_exactly_the_readme_commands_in_clean_environments() -> None:
    """`.ci/run` holds the README's main-job, notebook and test commands verbatim, and checks
    that README.md still shows each of them as a whole line; the notebook command is the one
    `fw-asr demo`, Binder and every notebook's first cell give."""
    from fw_asr_widgets.cli import NOTEBOOK_INSTALL

    commands = readme_commands()
    notebook_line = f"{NOTEBOOK_INSTALL} && jupyter lab notebooks/"
    assert notebook_line in commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert "MAIN_CMD='pip install -e \".[local]\" && fw-asr demo'" in ci
    assert f"NOTEBOOK_CMD='{NOTEBOOK_INSTALL}'" in ci
    assert 'NOTEBOOK_LINE="$NOTEBOOK_CMD && jupyter lab notebooks/"' in ci
    assert 'grep -qxF "$cmd" README.md' in ci
    for line in ('in_clean_env "$tmp/main" "$MAIN_CMD"', 'in_clean_env "$tmp/nb" "$NOTEBOOK_CMD"'):
        assert line in ci
    assert "--nbval-kernel-name fw-asr-clean" in ci
    # Nowhere else gives another install command for the notebooks.
    readme = (ROOT / "README.md").read_text()
    assert "jupyterlab`" not in readme and '[local,multilingual]" jupyterlab' not in readme
    assert NOTEBOOK_INSTALL in (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" not in (ROOT / "binder" / "requirements.txt").read_text().replace(
        NOTEBOOK_INSTALL, ""
    )


def test_ci_fails_when_the_readme_command_changes(tmp_path: Path) -> None:
    """The grep in `.ci/run` is real: a README without the notebook command stops CI."""
    import shutil

    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    readme = (ROOT / "README.md").read_text()
    (tmp_path / "README.md").write_text(readme.replace('".[notebooks]"', '".[local]" jupyterlab'))
    res = subprocess.run(
        ["bash", str(tmp_path / ".ci" / "run"), "clean-envs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert 'README.md no longer shows: pip install -e ".[notebooks]"' in res.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    os.environ.get("FW_ASR_CI_CLEAN_ENVS_DONE") == "1",
    reason=".ci/run ran the main-job command in a clean venv in this same run",
)
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
