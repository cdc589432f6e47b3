"""Batch: 20 short files through `Client.transcribe_many` with concurrency 1, 2 and 4 against
the embedded engine; throughput and its scaling against concurrency 1."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._util import FigureResult, Row, data_dir, run_child

NAME = "Batch"
SAMPLES = ("jfk.wav", "english.wav")


def child(files: list[str], levels: list[int], jobs: int) -> dict[str, Any]:
    from fw_asr_widgets import Client
    from fw_asr_widgets.audio import probe
    from fw_asr_widgets.local import serve

    audio_s = sum(probe(f).duration or 0.0 for f in files)
    out: dict[str, Any] = {"audio_s": audio_s, "levels": {}}
    with serve(max_concurrent_jobs=jobs) as srv, Client(base_url=srv.url) as c:
        c.transcribe(files[0], language="en")  # warm-up: the model loads
        for n in levels:
            t0 = time.perf_counter()
            results = list(c.transcribe_many(files, concurrency=n, progress=False, language="en"))
            dt = time.perf_counter() - t0
            out["levels"][str(n)] = {
                "seconds": dt,
                "ok": sum(r.ok for r in results),
                "errors": [repr(r.error) for r in results if not r.ok][:3],
            }
    return out


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    n_files = 4 if quick else 20
    levels = [1, 2] if quick else [1, 2, 4]
    with tempfile.TemporaryDirectory(prefix="fw-bench-batch-") as tmp:
        files = []
        for i in range(n_files):
            name = SAMPLES[i % len(SAMPLES)]
            dst = Path(tmp) / f"{i:02d}-{name}"
            shutil.copyfile(data_dir() / name, dst)
            files.append(str(dst))
        for jobs in (1,) if quick else (1, 2):
            m = run_child("benchmarks.batch:child", files, levels, jobs, timeout=1200)
            base = m["levels"]["1"]["seconds"]
            for n in levels:
                lv = m["levels"][str(n)]
                speed = m["audio_s"] / lv["seconds"]
                res.rows.append(
                    Row(
                        NAME,
                        f"{n_files} files, concurrency {n}, server jobs {jobs}",
                        f"{n_files / lv['seconds']:.2f} files/s ({speed:.0f}× real time)",
                        "concurrency 1",
                        f"{n_files / base:.2f} files/s",
                        f"{base / lv['seconds']:.2f}×",
                        "scaling reported" if n > 1 else "—",
                        None,
                    )
                )
                if lv["ok"] != n_files:
                    res.notes.append(f"concurrency {n}, jobs {jobs}: failures {lv['errors']}")
        res.notes.append(
            f"{n_files} copies of {', '.join(SAMPLES)} ({m['audio_s']:.0f} s of audio in all), "
            "`Client.transcribe_many(files, concurrency=N, language='en')` against the embedded "
            "server in the same fresh interpreter, after a warm-up. 'server jobs' is the "
            "server's `max_concurrent_jobs` (1 is the default: one decode at a time, using "
            "both cores); no goal was set, the ratio is the scaling over concurrency 1."
        )
    return res
