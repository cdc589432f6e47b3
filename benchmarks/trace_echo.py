"""Trace echoes on the embedded engine: a `stt.input.trace` every 500 ms on 1 and 2 concurrent
real-time streams, echo latency next to the same streams without traces (same run)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from benchmarks._util import FigureResult, Row, data_dir, percentile, run_child

NAME = "Trace echo latency"
CHUNK_S = 0.05  # the reference page's chunk length
TRACE_EVERY_S = 0.5


class _DecodeCounter(logging.Handler):
    """Counts the engine's per-decode DEBUG records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("decoded "):
            self.count += 1


def child_runs(name: str, seconds: float | None) -> dict[str, dict[str, Any]]:
    """Every configuration (1 and 2 streams, without and with traces) one after the other
    in this process, on the first `seconds` of `name` (all of it for None)."""
    from fw_asr_widgets.audio import decode, float_to_pcm16
    from fw_asr_widgets.local import models

    pcm = float_to_pcm16(decode(data_dir() / name))
    if seconds is not None:
        pcm = pcm[: int(seconds * 32000)]
    models.load(models.ENGLISH)  # loaded before the clock starts, as in a warm notebook
    return {f"{n}-{traces}": _streams(pcm, n, traces) for n in (1, 2) for traces in (False, True)}


def _streams(pcm: bytes, n_streams: int, traces: bool) -> dict[str, Any]:
    """Serve the engine in this process; stream `pcm` at 1x on `n_streams` sockets at once
    with a plain websockets client, a trace every 500 ms if `traces`, then a checkpoint."""
    from fw_asr_widgets.local import serve

    decodes = _DecodeCounter()
    engine_log = logging.getLogger("fw_asr_widgets.local.streaming")
    engine_log.addHandler(decodes)
    engine_log.setLevel(logging.DEBUG)
    with serve(max_concurrent_streams=max(2, n_streams)) as srv:
        url = (
            srv.url.replace("http://", "ws://")
            + "/v1/audio/transcriptions/streaming?language=en&timestamp_granularities=word"
        )
        results = asyncio.run(_all(url, pcm, n_streams, traces))
    engine_log.removeHandler(decodes)
    return {
        "decodes": decodes.count,
        "echo": [x for r in results for x in r["echo"]],
        "word": [x for r in results for x in r["word"]],
        "checkpoint": [r["checkpoint"] for r in results],
        "traces_sent": sum(r["traces_sent"] for r in results),
        "duration": len(pcm) / 32000,
    }


async def _all(url: str, pcm: bytes, n: int, traces: bool) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(_one(url, pcm, traces, k) for k in range(n))))


async def _one(url: str, pcm: bytes, traces: bool, k: int) -> dict[str, Any]:
    import websockets

    step = int(CHUNK_S * 32000)
    sent_at: dict[str, float] = {}
    echo: list[float] = []
    word: list[float] = []
    seen: set[tuple[str, float]] = set()
    audio_sent: list[tuple[float, float]] = []  # (audio seconds sent so far, wall time)
    done = asyncio.Event()
    checkpoint: dict[str, float] = {}

    def sent_time(pos: float) -> float | None:
        for upto, t in audio_sent:
            if upto >= pos:
                return t
        return None

    async with websockets.connect(url, max_size=None) as ws:

        async def receive() -> None:
            async for raw in ws:
                now = time.perf_counter()
                msg = json.loads(raw)
                if msg.get("object") == "stt.output.trace":
                    echo.append(now - sent_at.pop(msg["trace_id"]))
                for w in msg.get("words") or []:
                    key = (w["word"], w["start"])
                    if key in seen:
                        continue
                    seen.add(key)
                    t = sent_time(w["end"])
                    if t is not None:
                        word.append(now - t)
                if msg.get("checkpoint_id") == "final":
                    checkpoint["latency"] = now - checkpoint["sent"]
                    done.set()
                    return

        receiver = asyncio.create_task(receive())
        t0 = time.perf_counter()
        next_trace = TRACE_EVERY_S
        n_traces = 0
        for i in range(0, len(pcm), step):
            await ws.send(pcm[i : i + step])
            pos = (i + len(pcm[i : i + step])) / 32000
            audio_sent.append((pos, time.perf_counter()))
            if traces and pos >= next_trace:
                trace_id = f"s{k}-{n_traces}"
                sent_at[trace_id] = time.perf_counter()
                await ws.send(
                    json.dumps(
                        {"event_id": trace_id, "object": "stt.input.trace", "trace_id": trace_id}
                    )
                )
                n_traces += 1
                next_trace += TRACE_EVERY_S
            await asyncio.sleep(max(0.0, t0 + pos - time.perf_counter()))
        checkpoint["sent"] = time.perf_counter()
        await ws.send(json.dumps({"checkpoint_id": "final"}))
        await asyncio.wait_for(done.wait(), 120)
        await receiver
    if sent_at:  # a trace never echoed counts as a failure of the figure
        raise RuntimeError(f"{len(sent_at)} traces were never echoed")
    return {
        "echo": echo,
        "word": word,
        "checkpoint": checkpoint["latency"],
        "traces_sent": n_traces,
    }


def _fmt(xs: list[float]) -> str:
    return f"{percentile(xs, 50):.2f} s / {percentile(xs, 95):.2f} s"


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    name, seconds = ("jfk.wav", 4.0) if quick else ("two_speakers.wav", None)
    out = run_child("benchmarks.trace_echo:child_runs", name, seconds, timeout=900)
    runs = {(n, t): out[f"{n}-{t}"] for n in (1, 2) for t in (False, True)}
    for n in (1, 2):
        base, traced = runs[(n, False)], runs[(n, True)]
        p95 = percentile(traced["echo"], 95)
        base_p95 = percentile(base["word"], 95)
        res.rows.append(
            Row(
                NAME,
                f"{n} stream{'s' if n > 1 else ''} at 1×, trace every 0.5 s: "
                "trace → echo p50 / p95",
                _fmt(traced["echo"]),
                "same streams without traces: word end → first shown p50 / p95",
                _fmt(base["word"]),
                f"{p95 / base_p95:.2f}× (p95)" if base_p95 else "—",
                "p95 ≤ 2 s",
                p95 <= 2.0,
            )
        )
        word_p95 = percentile(traced["word"], 95)
        res.rows.append(
            Row(
                NAME,
                f"{n} stream{'s' if n > 1 else ''} at 1×, trace every 0.5 s: "
                "word end → first shown p50 / p95",
                _fmt(traced["word"]),
                "same streams without traces: word end → first shown p50 / p95",
                _fmt(base["word"]),
                f"{word_p95 / base_p95:.2f}× (p95)" if base_p95 else "—",
                "—",
                None,
            )
        )
        res.notes.append(
            f"{n} stream(s): {traced['traces_sent']} traces, all echoed; decodes in the "
            f"session(s): {traced['decodes']} with traces, {base['decodes']} without; checkpoint "
            f"`final` answered {max(traced['checkpoint']):.2f} s after it was sent with traces, "
            f"{max(base['checkpoint']):.2f} s without (slowest stream)."
        )
    res.notes.append(
        f"{name} ({runs[(1, False)]['duration']:.1f} s) streamed by a plain `websockets` client "
        "per stream (50 ms PCM16 chunks at real-time pace, `timestamp_granularities=word`) to "
        "the embedded engine served in the benchmark's child process, then "
        '`{"checkpoint_id": "final"}`. Echo latency: trace sent → `stt.output.trace` received. '
        "A trace is echoed after the next decode: the regular one (every second of audio), or "
        "one started for it when no decode is in flight (the decodes it adds are counted above). "
        "Baseline, same run: the "
        "same streams without traces, word end (the moment the audio up to it was sent) → the "
        "first message showing the word. The configurations run one after the other in one "
        "process (model loaded first)."
    )
    return res
