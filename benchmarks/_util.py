"""Shared helpers: result rows, timing, peak-RSS measurement, child processes, the table."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_CHILD_MARK = "@@BENCH-RESULT@@"


def data_dir() -> Path:
    """`../shared/data` next to the repo, else the package's bundled samples."""
    shared = REPO.parent / "shared" / "data"
    if (shared / "jfk.wav").exists():
        return shared
    return REPO / "fw_asr_widgets" / "samples"


@dataclass
class Row:
    """One line of the results table: a figure next to its baseline and goal."""

    figure: str
    measure: str
    ours: str
    baseline: str = "—"
    baseline_value: str = "—"
    ratio: str = "—"
    goal: str = "—"
    met: bool | None = None
    note: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "—"}[self.met]


@dataclass
class FigureResult:
    """All rows of one figure plus free-text notes and how long it took."""

    name: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def ratio(ours: float, base: float, digits: int = 2) -> str:
    if not base:
        return "—"
    return f"{ours / base:.{digits}f}×"


def fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_mb(nbytes: float) -> str:
    mib = nbytes / 2**20
    return f"{mib:.1f} MiB" if abs(mib) < 10 else f"{mib:.0f} MiB"


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (`p` in 0..100) of a non-empty sequence."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Memory


def current_rss() -> int:
    """Resident set size of this process, bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _vm_hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakRSS:
    """Peak RSS of this process while the block runs: kernel high-water mark (VmHWM, reset
    via /proc/self/clear_refs) where available, else a 5 ms sampling thread.

    After the block: `.start` (RSS at entry), `.peak`, `.growth` (peak - start), bytes.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.start = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hwm = False

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, current_rss())

    def __enter__(self) -> PeakRSS:
        import gc

        gc.collect()
        self.start = current_rss()
        self.peak = self.start
        self._hwm = _reset_hwm()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, current_rss())
        if self._hwm:
            self.peak = max(self.peak, _vm_hwm())

    @property
    def growth(self) -> int:
        return self.peak - self.start


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    """`with timer() as t: ...` then `t[0]` is the elapsed wall time in seconds."""
    out: list[float] = []
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# Child processes (fresh interpreters, so RSS growth is clean)


def run_child(target: str, *args: Any, timeout: float = 1800.0) -> Any:
    """Run `module:function(*args)` in a fresh interpreter; return its JSON-able result.

    The child prints its result as one marked JSON line on stdout; anything else it prints is
    ignored. A failing child raises `RuntimeError` with the tail of its stderr.
    """
    cmd = [sys.executable, "-m", "benchmarks._util", target, json.dumps(list(args))]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FW_ASR_QUIET": "1"}
    env.pop("FIREWORKS_API_KEY", None)
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_CHILD_MARK):
            return json.loads(line[len(_CHILD_MARK) :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    raise RuntimeError(f"{target} failed (exit {proc.returncode}):\n{tail}")


def _child_main(argv: list[str]) -> None:
    target, raw = argv
    mod_name, func_name = target.split(":")
    func: Callable[..., Any] = getattr(importlib.import_module(mod_name), func_name)
    result = func(*json.loads(raw))
    sys.stdout.write(_CHILD_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Machine description and the table


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine(load_start: str | None = None) -> list[str]:
    """Lines describing the machine and the key package versions."""
    import importlib.metadata as md

    pkgs = []
    for p in (
        "fw-asr-widgets",
        "faster-whisper",
        "ctranslate2",
        "httpx",
        "websockets",
        "openai",
        "uvicorn",
        "numpy",
        "pandas",
        "av",
        "playwright",
    ):
        try:
            pkgs.append(f"{p} {md.version(p)}")
        except md.PackageNotFoundError:
            pkgs.append(f"{p} (not installed)")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {_cpu_model()}, {affinity} cores available ({os.cpu_count()} logical)",
        f"- RAM: {_ram()}",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
        f"- Packages: {', '.join(pkgs)}",
        f"- Load average (1/5/15 min) at the start: {load_start or 'n/a'}, "
        f"at the end: {load_average()} "
        "(other work on the machine shares the cores; ratios against same-run baselines "
        "are the robust figures)",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(
    results: Sequence[FigureResult],
    *,
    title: str,
    mode: str,
    total: float,
    load_start: str | None = None,
) -> str:
    """The Markdown report: machine, the table, notes per figure, runtimes."""
    lines = [f"# {title}", "", f"Mode: `{mode}`, total runtime {total:.0f} s.", ""]
    lines += ["## Machine", "", *machine(load_start), ""]
    lines += [
        "## Results",
        "",
        "| Figure | Measure | Ours | Baseline | Baseline value | Ratio | Goal | Met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        if res.error is not None:
            lines.append(
                f"| {res.name} | error | {_cell(res.error.splitlines()[0][:120])} "
                "| — | — | — | — | ✗ |"
            )
            continue
        for r in res.rows:
            cells = (r.figure, r.measure, r.ours, r.baseline, r.baseline_value, r.ratio, r.goal)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | {r.mark} |")
    lines += ["", "## Notes", ""]
    for res in results:
        notes = list(res.notes) + [r.note for r in res.rows if r.note]
        if res.error is not None:
            notes.append("failed: " + res.error)
        lines.append(f"**{res.name}** ({res.seconds:.0f} s)")
        lines.append("")
        lines += [f"- {n}" for n in notes] or ["- (no notes)"]
        lines.append("")
    return "\n".join(lines) + "\n"


def to_jsonable(res: FigureResult) -> dict[str, Any]:
    return asdict(res)


if __name__ == "__main__":
    _child_main(sys.argv[1:])
