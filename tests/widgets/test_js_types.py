"""The widgets' ES modules type-check: `// @ts-check` + JSDoc, checked by TypeScript's `tsc`
with `fw_asr_widgets/widgets/jsconfig.json` (no build step: nothing is emitted).

`.ci/run` installs a pinned TypeScript from npm and points `FW_ASR_TSC` at it; elsewhere the
test uses `tsc` from PATH, and skips when there is none."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WIDGETS = Path(__file__).resolve().parents[2] / "fw_asr_widgets" / "widgets"


def _tsc() -> str | None:
    return os.environ.get("FW_ASR_TSC") or shutil.which("tsc")


def test_every_es_module_opts_in_to_type_checking() -> None:
    for js in sorted(WIDGETS.glob("*.js")):
        head = js.read_text(encoding="utf-8").splitlines()[:3]
        assert "// @ts-check" in head, f"{js.name} lacks // @ts-check at its top"


@pytest.mark.skipif(_tsc() is None, reason="TypeScript's tsc is not installed (.ci/run has it)")
def test_es_modules_type_check() -> None:
    proc = subprocess.run(
        [str(_tsc()), "-p", str(WIDGETS / "jsconfig.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
