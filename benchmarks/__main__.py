"""`python -m benchmarks [--quick] [--only NAME ...] [--output PATH]`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks import FIGURES
from benchmarks._util import REPO, FigureResult, load_average, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (< 2 min on 2 cores)")
    parser.add_argument("--only", nargs="+", choices=FIGURES, metavar="NAME", help="figures")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the table (default: benchmarks/RESULTS.md for a full run of all "
        "figures, a temp file otherwise)",
    )
    args = parser.parse_args(argv)
    os.environ.pop("FIREWORKS_API_KEY", None)
    names = args.only or list(FIGURES)
    results: list[FigureResult] = []
    load_start = load_average()
    t_all = time.perf_counter()
    for name in names:
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        mod = importlib.import_module(f"benchmarks.{name}")
        try:
            res: FigureResult = mod.run(quick=args.quick)
        except Exception as exc:  # reported in the table, the other figures still run
            res = FigureResult(name=getattr(mod, "NAME", name), error=f"{exc!r}")
            traceback.print_exc()
        res.seconds = time.perf_counter() - t0
        print(f"[benchmarks] {name}: {res.seconds:.1f} s", file=sys.stderr, flush=True)
        results.append(res)
    total = time.perf_counter() - t_all
    mode = "python -m benchmarks" + (" --quick" if args.quick else "")
    if args.only:
        mode += " --only " + " ".join(args.only)
    title = "Benchmark results" + (
        " (quick mode: small sizes, not the committed figures)" if args.quick else ""
    )
    text = render(results, title=title, mode=mode, total=total, load_start=load_start)
    print(text)
    out = args.output
    if out is None:
        if args.quick or args.only:
            out = Path(tempfile.gettempdir()) / "fw-asr-benchmarks" / "RESULTS-quick.md"
        else:
            out = REPO / "benchmarks" / "RESULTS.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"[benchmarks] table written to {out} (total {total:.0f} s)", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
