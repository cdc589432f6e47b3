"""The shipped notebooks: what a reader sees, what they need installed, and Run All.

nbval (`pytest notebooks/`) checks that every notebook runs and that tagged outputs stay the
same; these tests check what nbval cannot: the saved notebooks are clean for a reader (no test
plumbing in the code, no stale ports or stderr boxes, widgets saved with their state and a
readable fallback), the one install command covers every import, and Run All leaves the
recorder of notebook 02 ready to press.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fw_asr_widgets.cli import NOTEBOOK_INSTALL

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_test_plumbing_in_user_cells(path: Path) -> None:
    """nbval markers are cell tags; the code a reader sees has no `# NBVAL_…` comments."""
    nb = load(path)
    for cell in nb.cells:
        assert "NBVAL" not in cell.source, cell.source
    tags = [t for c in code_cells(nb) for t in c.metadata.get("tags", [])]
    assert "nbval-check-output" in tags  # every notebook checks some output


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_outputs_have_no_stderr_and_no_ports(path: Path) -> None:
    nb = load(path)
    for cell in code_cells(nb):
        for out in cell.outputs:
            assert not (out.output_type == "stream" and out.name == "stderr"), out
    text = json.dumps(nbformat.writes(nb))
    assert not re.search(r"(127\.0\.0\.1|localhost):\d+", text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_widgets_are_saved_with_state_and_a_readable_fallback(path: Path) -> None:
    nb = load(path)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    views = [
        out.data
        for cell in code_cells(nb)
        for out in cell.outputs
        if WIDGET_VIEW in out.get("data", {})
    ]
    if path.name.startswith(("01", "02", "03")):
        assert views, "this notebook shows a widget"
    for data in views:
        assert data[WIDGET_VIEW]["model_id"] in state
        plain = data["text/plain"]
        assert " object at 0x" not in plain, plain
        assert re.search(r"\w", plain)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_starts_with_the_install_command(path: Path) -> None:
    assert NOTEBOOK_INSTALL in load(path).cells[0].source


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _closure(requirements: list[str], extras_of_self: set[str]) -> set[str]:
    """Normalised names of the distributions `requirements` pull in (installed metadata)."""
    pyproject = _pyproject()
    own = pyproject["name"]
    seen: set[str] = set()
    todo = [(Requirement(r), frozenset()) for r in requirements]
    while todo:
        req, env_extras = todo.pop()
        if req.marker is not None and not any(
            req.marker.evaluate({"extra": e}) for e in (env_extras or {""})
        ):
            continue
        name = canonicalize_name(req.name)
        if name == own:  # the project's own extras, from pyproject.toml
            for extra in req.extras - extras_of_self:
                extras_of_self.add(extra)
                todo += [
                    (Requirement(r), frozenset()) for r in pyproject["optional-dependencies"][extra]
                ]
            continue
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue
        todo += [(Requirement(r), frozenset(req.extras)) for r in dist.requires or []]
    return {k.split("[")[0] for k in seen}


def test_the_notebook_install_command_covers_every_import() -> None:
    """Every module the notebooks import comes with `pip install -e ".[notebooks]"`."""
    assert NOTEBOOK_INSTALL == 'pip install -e ".[notebooks]"'
    pyproject = _pyproject()
    extras: set[str] = set()
    installed = _closure([*pyproject["dependencies"], "fw-asr-widgets[notebooks]"], extras)
    installed |= {"jupyterlab"}  # the command's second half runs it
    owners = md.packages_distributions()
    imported: set[str] = set()
    for path in NOTEBOOKS:
        for cell in code_cells(load(path)):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
    assert {"matplotlib", "pandas", "fw_asr_widgets"} <= imported
    missing = {}
    for module in imported - {"fw_asr_widgets"}:
        if module in __import__("sys").stdlib_module_names:
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [module])}
        if not dists & installed:
            missing[module] = dists
    assert not missing, f"imported by the notebooks but not installed by the command: {missing}"
    # Notebook 04 translates French: the multilingual model comes with the same command.
    assert "multilingual" in extras and "local" in extras


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_run_all_of_02_leaves_the_recorder_ready_and_prints_no_notice(tmp_path: Path) -> None:
    """Run All, as a user would: the recorder the text says to press is still there at the
    end, and no stderr box (the embedded engine's notice) appears in any cell."""
    from nbclient import NotebookClient

    nb = load(ROOT / "notebooks" / "02_live_recorder.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell("print(rec.comm is not None, rec.recording)"))
    env = {k: v for k, v in os.environ.items() if k not in ("FW_ASR_QUIET", "FIREWORKS_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute(
        env=env
    )
    for cell in code_cells(nb):
        for out in cell.outputs:
            assert not (out.output_type == "stream" and out.name == "stderr"), out
    assert nb.cells[-1].outputs[0].text.strip() == "True False"
