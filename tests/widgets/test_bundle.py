"""The ES modules share their helpers through _shared.js, inlined by `bundle` (one copy)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fw_asr_widgets.widgets import CompareView, Recorder, Timeline, TranscriptViewer, Uploader
from fw_asr_widgets.widgets._base import HERE, bundle
from fw_asr_widgets.widgets.search import CorpusSearch

SHARED = ("h", "fmtTime", "lastLE", "bytesOf", "speakerColor")


def test_helpers_are_defined_once_in_the_repository() -> None:
    for js in HERE.glob("*.js"):
        src = js.read_text()
        for name in SHARED:
            defs = re.findall(rf"^(?:export )?function {name}\(", src, flags=re.MULTILINE)
            if js.name == "_shared.js":
                assert len(defs) == 1, name
            elif js.name != "recorder.js":  # recorder's own fmtTime shows tenths of a second
                assert not defs, f"{js.name} defines {name}() again: import it from _shared.js"


@pytest.mark.parametrize(
    "cls", [TranscriptViewer, Timeline, Uploader, CompareView, CorpusSearch, Recorder]
)
def test_bundled_modules_inline_the_helpers(cls: type, tmp_path: Path) -> None:
    src = cls._esm
    assert isinstance(src, str)
    code = "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith("//"))
    assert "./_shared.js" not in code  # the import line is replaced
    assert "const shared = (() => {" in src and src.count("function h(") == 1
    node = shutil.which("node")
    if node:  # a syntax check where Node is installed (the browser tests run the modules)
        f = tmp_path / "m.mjs"
        f.write_text(src)
        subprocess.run([node, "--check", str(f)], check=True, capture_output=True)


def test_a_module_without_the_import_is_returned_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fw_asr_widgets.widgets import _base

    plain = tmp_path / "plain.js"
    plain.write_text("// @ts-check\nexport default { render() {} };\n")
    monkeypatch.setattr(_base, "asset", lambda name: tmp_path / name)
    assert bundle("plain.js") == plain.read_text()
    monkeypatch.undo()
    assert bundle("recorder.css") == (HERE / "recorder.css").read_text()  # no @import either


@pytest.mark.parametrize("cls", [TranscriptViewer, Timeline, Uploader, CompareView])
def test_stylesheets_inline_the_shared_rules_once(cls: type) -> None:
    css = cls._css
    assert isinstance(css, str)
    assert "@import" not in css  # the browser would try to fetch it
    assert css.count("/* buttons */") == 1  # _shared.css, inlined once
    own = (HERE / f"{cls.__module__.rsplit('.', 1)[-1]}.css").read_text()
    assert own.startswith('@import "./_shared.css";\n')
    assert css.endswith(own.split("\n", 1)[1])


def test_shared_rules_are_not_repeated_in_a_widget_stylesheet() -> None:
    for css in HERE.glob("*.css"):
        if css.name in ("_shared.css", "recorder.css", "search.css"):
            continue
        src = css.read_text()
        assert "var(--jp-ui-font-family" not in src, css.name  # the shared box rule has it
        assert src.count("border: 1px solid var(--jp-border-color1") <= 1, css.name
