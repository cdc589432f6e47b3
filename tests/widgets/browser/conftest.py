"""Browser-test harness: JupyterLab / Notebook 7 on loopback, driven by headless Chromium.

Fixtures (see README.md in this folder for a walk-through):

- ``jupyter_server`` (session): JupyterLab on ``127.0.0.1:<free port>`` with a fixed token, in
  temp ``HOME``/``JUPYTER_*`` dirs. ``notebook7_server`` (session): the same with
  ``jupyter notebook`` (Notebook 7). Both are :class:`JupyterServer`.
- ``new_page`` (function): factory ``new_page(fake_audio=None, *, loop=False) -> Page``; a
  Playwright page in Debian's ``/usr/bin/chromium`` whose fake microphone plays ``fake_audio``.
  Every page is screenshotted into ``test-artifacts/`` at teardown (plus its console log).
- ``browser_page`` (function): ``new_page()`` with no fake audio file.
- ``open_notebook`` (function): factory ``open_notebook(page, cells, *, server=None,
  name=None, run=True) -> NotebookSession``; writes the notebook, opens it, waits for the
  kernel, runs all cells. Kernels are shut down at teardown.
- ``artifacts_dir`` (session): ``<repo>/test-artifacts``.

Browser tests are skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "fw-asr-widgets-browser-tests"
MARKER = "@@FW_PROBE@@"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything in this folder ``browser`` and skip it when Chromium is missing."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} not installed"))


# --------------------------------------------------------------------------- Jupyter server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` or ``jupyter notebook`` on loopback."""

    app: str  # "lab" or "notebook"
    port: int
    root_dir: Path
    runtime_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    token: str = TOKEN

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """URL that opens notebook ``name`` (relative to ``root_dir``) in this server's UI."""
        if self.app == "lab":
            return f"{self.base_url}/lab/tree/{name}?reset&token={self.token}"
        return f"{self.base_url}/notebooks/{name}?token={self.token}"

    def api(self, path: str, method: str = "GET", body: object | None = None) -> Any:
        """Call the server's REST API (``/api/...``) with the token; returns decoded JSON."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def log_tail(self, n: int = 40) -> str:
        """Last ``n`` lines of the server log (for failure messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _start_jupyter(app: str, base: Path) -> JupyterServer:
    home, cfg, data, runtime, root = (
        base / d for d in ("home", "config", "data", "runtime", "root")
    )
    for d in (home, cfg, data, runtime, root):
        d.mkdir(parents=True, exist_ok=True)
    # Kernel: this very interpreter (the one with the package installed).
    _write_json(
        data / "kernels" / "python3" / "kernel.json",
        {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "metadata": {"debugger": False},
        },
    )
    # No news / update dialogs, no autosave (it writes outputs back), no restored tabs.
    settings = cfg / "lab" / "user-settings"
    _write_json(
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    _write_json(
        settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings",
        {"autosave": False},
    )
    _write_json(
        settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
        {"kernelShutdown": False},
    )
    _write_json(
        cfg / "jupyter_server_config.json",
        {
            "LabApp": {"expose_app_in_browser": True},
            "JupyterNotebookApp": {"expose_app_in_browser": True},
            "LanguageServerManager": {"autodetect": False},
        },
    )
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.pop("FIREWORKS_API_KEY", None)
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(cfg),
        JUPYTER_DATA_DIR=str(data),
        JUPYTER_RUNTIME_DIR=str(runtime),
        IPYTHONDIR=str(home / ".ipython"),
        JUPYTER_PLATFORM_DIRS="0",
        FW_ASR_QUIET="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    expose = "--LabApp.expose_app_in_browser=True"
    if app == "notebook":
        expose = "--JupyterNotebookApp.expose_app_in_browser=True"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        expose,
    ]
    log_path = base / f"jupyter-{app}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = JupyterServer(app, port, root, runtime, log_path, proc)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter {app} exited early:\n{server.log_tail()}")
        try:
            server.api("/api/status")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                _stop_jupyter(server)
                raise RuntimeError(f"jupyter {app} did not start:\n{server.log_tail()}") from None
            time.sleep(0.2)
    return server


def _stop_jupyter(server: JupyterServer) -> None:
    """Shut kernels down, then stop the server's process group and any leftover child."""
    import psutil

    with contextlib.suppress(Exception):
        for s in server.api("/api/sessions"):
            server.api(f"/api/sessions/{s['id']}", method="DELETE")
    try:
        children = psutil.Process(server.proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=5)
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


@contextlib.contextmanager
def _jupyter(app: str) -> Iterator[JupyterServer]:
    base = Path(tempfile.mkdtemp(prefix=f"fw-asr-{app}-"))
    server = _start_jupyter(app, base)
    try:
        yield server
    finally:
        _stop_jupyter(server)
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(server.log_path, ARTIFACTS / server.log_path.name)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def jupyter_server() -> Iterator[JupyterServer]:
    """JupyterLab 4 on loopback (session-wide)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed")
    with _jupyter("lab") as server:
        yield server


@pytest.fixture(scope="session")
def notebook7_server() -> Iterator[JupyterServer]:
    """Notebook 7 (``jupyter notebook``) on loopback (session-wide)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed")
    with _jupyter("notebook") as server:
        yield server


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``<repo>/test-artifacts`` (gitignored): screenshots, console logs, server logs."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser_factory(_playwright: Playwright) -> Iterator[Callable[..., Browser]]:
    """``browser_factory(fake_audio=None, loop=False) -> Browser``, one per audio file, cached."""
    browsers: dict[tuple[str | None, bool], Browser] = {}

    def get(fake_audio: Path | None = None, loop: bool = False) -> Browser:
        key = (str(fake_audio) if fake_audio else None, loop)
        if key not in browsers:
            args = list(CHROMIUM_ARGS)
            if fake_audio is not None:
                path = Path(fake_audio).resolve()
                if not path.exists():
                    raise FileNotFoundError(path)
                args.append(f"--use-file-for-fake-audio-capture={path}{'' if loop else '%noloop'}")
            browsers[key] = _playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=args
            )
        return browsers[key]

    yield get
    for b in browsers.values():
        with contextlib.suppress(Exception):
            b.close()


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1]).strip("_")[:120]


@dataclass
class _PageRecord:
    page: Page
    console: list[str]
    stem: str
    saved: bool = False


class _Pages:
    """Pages a test opened; their final screenshots are taken once, before kernels stop."""

    def __init__(self, base: str, artifacts: Path) -> None:
        self.base = base
        self.artifacts = artifacts
        self.records: list[_PageRecord] = []

    def add(self, page: Page, console: list[str]) -> None:
        n = len(self.records)
        self.records.append(_PageRecord(page, console, self.base if n == 0 else f"{self.base}-{n}"))

    def snapshot(self) -> None:
        for r in self.records:
            if r.saved:
                continue
            r.saved = True
            with contextlib.suppress(Exception):
                r.page.screenshot(path=str(self.artifacts / f"{r.stem}.png"), full_page=False)
            with contextlib.suppress(OSError):
                (self.artifacts / f"{r.stem}.console.log").write_text("\n".join(r.console))


@pytest.fixture
def _pages(request: pytest.FixtureRequest, artifacts_dir: Path) -> _Pages:
    return _Pages(_safe_name(request.node.nodeid), artifacts_dir)


@pytest.fixture
def new_page(
    browser_factory: Callable[..., Browser], _pages: _Pages
) -> Iterator[Callable[..., Page]]:
    """Factory ``new_page(fake_audio=None, *, loop=False) -> Page``.

    The fake microphone plays ``fake_audio`` (8/16/32-bit int or float WAV; other formats give
    silence without an error) once (``loop=False`` appends ``%noloop``) or in a loop. The page
    has microphone permission. At teardown (before any notebook kernel is shut down) each page
    is screenshotted to ``test-artifacts/<test>[-n].png`` and its console written to
    ``...console.log``.
    """

    def make(fake_audio: Path | None = None, *, loop: bool = False) -> Page:
        browser = browser_factory(fake_audio, loop)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        with contextlib.suppress(Exception):
            ctx.grant_permissions(["microphone"])
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        console: list[str] = []
        page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
        _pages.add(page, console)
        return page

    yield make
    _pages.snapshot()
    for r in _pages.records:
        with contextlib.suppress(Exception):
            r.page.context.close()


@pytest.fixture
def browser_page(new_page: Callable[..., Page]) -> Page:
    """A page with no fake audio file (Chromium's default fake microphone: a beep)."""
    return new_page()


# --------------------------------------------------------------------------- notebooks

_FIND_PANEL_JS = """
(name) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  const match = (w) => w && w.context && w.context.path === name && w.sessionContext;
  let panel = match(app.shell.currentWidget) ? app.shell.currentWidget : null;
  if (!panel && app.shell.widgets) {
    for (const w of app.shell.widgets('main')) { if (match(w)) { panel = w; break; } }
  }
  if (!panel) return null;
  window.__fwPanels = window.__fwPanels || {};
  window.__fwPanels[name] = panel;
  return panel.id;
}
"""

_KERNEL_IDLE_JS = """
async (name) => {
  const panel = window.__fwPanels[name];
  await panel.context.ready;
  await panel.sessionContext.ready;
  const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return k ? k.status : null;
}
"""

_RUN_JS = """
async ([name, command, timeoutMs]) => {
  const app = window.jupyterapp;
  const panel = window.__fwPanels[name];
  app.shell.activateById(panel.id);
  const run = app.commands.execute(command);
  const timeout = new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), timeoutMs));
  return await Promise.race([run, timeout]);
}
"""

_START_JS = """
([name, command]) => {
  const app = window.jupyterapp;
  app.shell.activateById(window.__fwPanels[name].id);
  app.commands.execute(command);
  return true;
}
"""

_OUTPUTS_JS = """
([name, index]) => {
  const panel = window.__fwPanels[name];
  const cell = panel.content.widgets[index];
  if (!cell || !cell.model.outputs) return [];
  return cell.model.outputs.toJSON();
}
"""

_APPEND_JS = """
([name, source]) => {
  const panel = window.__fwPanels[name];
  const nb = panel.content;
  const index = nb.model.sharedModel.cells.length;
  nb.model.sharedModel.insertCell(index, {cell_type: 'code', source: source});
  nb.activeCellIndex = index;
  return index;
}
"""


@dataclass
class NotebookSession:
    """An open notebook in a page: run cells, read outputs, query the kernel."""

    page: Page
    server: JupyterServer
    name: str
    path: Path
    _kc: Any = field(default=None, repr=False)

    # -- browser side
    def wait_kernel_idle(self, timeout: float = 60) -> None:
        """Wait until the notebook's kernel is up and idle."""
        deadline = time.monotonic() + timeout
        while self.page.evaluate(_KERNEL_IDLE_JS, self.name) != "idle":
            if time.monotonic() > deadline:
                raise TimeoutError(f"kernel of {self.name} not idle:\n{self.server.log_tail()}")
            time.sleep(0.1)

    def run_all(self, timeout: float = 120) -> None:
        """Run every cell (``notebook:run-all-cells``) and wait until the run finishes."""
        self.page.evaluate(_RUN_JS, [self.name, "notebook:run-all-cells", int(timeout * 1000)])

    def append_cell(
        self, source: str, run: bool = True, timeout: float = 60, wait: bool = True
    ) -> int:
        """Add a code cell at the end (optionally run it); returns its index.

        `wait=False` starts the run and returns at once (e.g. to watch the page while the
        kernel is busy); the cell's output can be polled with `output_text(index)`.
        """
        index: int = self.page.evaluate(_APPEND_JS, [self.name, source])
        if run and wait:
            self.page.evaluate(_RUN_JS, [self.name, "notebook:run-cell", int(timeout * 1000)])
        elif run:
            self.page.evaluate(_START_JS, [self.name, "notebook:run-cell"])
        return index

    def outputs(self, index: int) -> list[dict[str, Any]]:
        """nbformat outputs of cell ``index`` as the front end holds them."""
        out: list[dict[str, Any]] = self.page.evaluate(_OUTPUTS_JS, [self.name, index])
        return out

    def output_text(self, index: int) -> str:
        """Stream text, ``text/plain`` results and error tracebacks of cell ``index``."""
        parts: list[str] = []
        for o in self.outputs(index):
            if o.get("output_type") == "stream":
                t = o.get("text", "")
                parts.append("".join(t) if isinstance(t, list) else t)
            elif o.get("output_type") == "error":
                parts.append("\n".join(o.get("traceback", [])))
            elif "data" in o and "text/plain" in o["data"]:
                t = o["data"]["text/plain"]
                parts.append("".join(t) if isinstance(t, list) else t)
        return "\n".join(parts)

    def cell(self, index: int) -> Any:
        """Locator of cell ``index`` in the page (``.jp-Cell``)."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def screenshot(self, label: str) -> Path:
        """Save a screenshot ``test-artifacts/<label>.png``."""
        ARTIFACTS.mkdir(exist_ok=True)
        p = ARTIFACTS / f"{label}.png"
        self.page.screenshot(path=str(p))
        return p

    # -- kernel side (a second client on the kernel's connection file)
    @property
    def kernel_id(self) -> str:
        for s in self.server.api("/api/sessions"):
            if s.get("path") == self.name or s.get("notebook", {}).get("path") == self.name:
                return str(s["kernel"]["id"])
        raise LookupError(f"no kernel session for {self.name}")

    def _client(self) -> Any:
        if self._kc is None:
            from jupyter_client import BlockingKernelClient

            kc = BlockingKernelClient(
                connection_file=str(self.server.runtime_dir / f"kernel-{self.kernel_id}.json")
            )
            kc.load_connection_file()
            kc.start_channels()
            # Prove the IOPub subscription is live without wait_for_ready() (a streaming
            # widget keeps the kernel's status busy/idle and never lets it settle).
            deadline = time.monotonic() + 30
            ready = False
            while not ready:
                if time.monotonic() > deadline:
                    raise TimeoutError("kernel client did not connect")
                mid = kc.kernel_info()
                end = time.monotonic() + 1.0
                while time.monotonic() < end and not ready:
                    try:
                        m = kc.get_iopub_msg(timeout=0.2)
                    except Exception:
                        continue
                    ready = m.get("parent_header", {}).get("msg_id") == mid
            self._kc = kc
        return self._kc

    def kernel_exec(self, code: str, timeout: float = 60) -> str:
        """Run ``code`` in the notebook's kernel (not in a cell); return its stdout.

        Raises ``RuntimeError`` with the traceback if the code fails.
        """
        kc = self._client()
        mid = kc.execute(code, store_history=False, allow_stdin=False)
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"kernel_exec timed out: {code[:80]!r}")
            try:
                m = kc.get_iopub_msg(timeout=min(left, 1.0))
            except Exception:
                continue
            if m.get("parent_header", {}).get("msg_id") != mid:
                continue
            t, c = m["msg_type"], m["content"]
            if t == "stream" and c.get("name") == "stdout":
                out.append(c["text"])
            elif t == "error":
                tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(c.get("traceback", [])))
                raise RuntimeError(f"kernel error: {c.get('ename')}: {c.get('evalue')}\n{tb}")
            elif t == "status" and c.get("execution_state") == "idle":
                return "".join(out)

    def kernel_json(self, expr: str, timeout: float = 60) -> Any:
        """Evaluate ``expr`` in the kernel and return it JSON-decoded (``default=str``)."""
        text = self.kernel_exec(
            f"import json as _j\nprint({MARKER!r} + _j.dumps(({expr}), default=str))", timeout
        )
        for line in text.splitlines():
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER) :])
        raise RuntimeError(f"no probe output for {expr!r}: {text!r}")

    def wait_kernel(
        self, expr: str, until: Callable[[Any], bool], timeout: float = 60, every: float = 0.5
    ) -> Any:
        """Poll ``kernel_json(expr)`` until ``until(value)`` is true; return the value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.kernel_json(expr)
            if until(value):
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expr!r} still {value!r} after {timeout} s")
            time.sleep(every)

    def close(self) -> None:
        """Disconnect the kernel client and shut the notebook's kernel down."""
        if self._kc is not None:
            with contextlib.suppress(Exception):
                self._kc.stop_channels()
            self._kc = None
        with contextlib.suppress(Exception):
            for s in self.server.api("/api/sessions"):
                if s.get("path") == self.name:
                    self.server.api(f"/api/sessions/{s['id']}", method="DELETE")


def write_notebook(path: Path, cells: list[str]) -> None:
    """Write an nbformat-4 notebook of code cells with python3 kernelspec metadata."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": uuid.uuid4().hex[:8],
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": src,
            }
            for src in cells
        ],
    }
    path.write_text(json.dumps(nb, indent=1))


@pytest.fixture
def open_notebook(
    request: pytest.FixtureRequest, _pages: _Pages
) -> Iterator[Callable[..., NotebookSession]]:
    """Factory ``open_notebook(page, cells, *, server=None, name=None, run=True)``.

    ``server`` defaults to ``jupyter_server`` (JupyterLab); pass ``notebook7_server`` for
    Notebook 7. Writes ``cells`` as a notebook into the server's root, opens it in ``page``,
    waits for the kernel to be idle and (``run=True``) runs all cells to completion.
    """
    sessions: list[NotebookSession] = []

    def open_(
        page: Page,
        cells: list[str],
        *,
        server: JupyterServer | None = None,
        name: str | None = None,
        run: bool = True,
        timeout: float = 120,
    ) -> NotebookSession:
        srv = server or request.getfixturevalue("jupyter_server")
        nb_name = name or f"{_safe_name(request.node.name)}-{uuid.uuid4().hex[:6]}.ipynb"
        path = srv.root_dir / nb_name
        write_notebook(path, cells)
        page.goto(srv.notebook_url(nb_name))
        page.wait_for_function(_FIND_PANEL_JS, arg=nb_name, timeout=timeout * 1000)
        session = NotebookSession(page, srv, nb_name, path)
        sessions.append(session)
        session.wait_kernel_idle(timeout)
        if run:
            session.run_all(timeout)
        return session

    yield open_
    _pages.snapshot()  # the final state, while the kernels still run
    for s in sessions:
        s.close()
