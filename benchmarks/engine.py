"""Embedded engine: real-time factor (beam 5) and peak RSS on long files, through the server
and the client, against calling faster-whisper directly on the same file (whole file at once)."""

from __future__ import annotations

import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._util import FigureResult, PeakRSS, Row, current_rss, data_dir, fmt_mb, run_child

NAME = "Embedded engine"
SR = 16_000


def build_long_wav(path: Path, minutes: float) -> Path:
    """Real speech samples (jfk, two_speakers, english) with 1 s silences, repeated to
    `minutes`, written block by block as a 16 kHz mono PCM16 WAV."""
    from fw_asr_widgets.audio import decode, float_to_pcm16

    gap = np.zeros(SR, dtype=np.float32)
    pieces = [decode(data_dir() / n) for n in ("jfk.wav", "two_speakers.wav", "english.wav")]
    cycle = np.concatenate([x for p in pieces for x in (p, gap)])
    total = int(minutes * 60 * SR)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        done = 0
        while done < total:
            part = cycle[: total - done]
            w.writeframes(float_to_pcm16(part))
            done += part.size
    return path


def child_ours(path: str) -> dict[str, Any]:
    """The embedded server in this process, `Client.transcribe` over loopback HTTP."""
    from fw_asr_widgets import Client
    from fw_asr_widgets.local import serve

    with serve() as srv, Client(base_url=srv.url, max_retries=0, timeout=3600) as c:
        c.transcribe(data_dir() / "jfk.wav", language="en")  # warm-up: the model loads
        base = current_rss()
        with PeakRSS() as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            tr = c.transcribe(path, language="en", timestamp_granularities=["word", "segment"])
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": dt,
        "cpu": cpu,
        "peak": mem.peak,
        "growth": mem.peak - base,
        "words": len(tr.words),
    }


def child_direct(path: str) -> dict[str, Any]:
    """faster-whisper called directly: same model, same options, the whole file at once."""
    from fw_asr_widgets.local import models

    model = models.load(models.ENGLISH)
    opts = dict(
        language="en",
        beam_size=5,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=True,
        temperature=0.0,
    )
    segs, _ = model.transcribe(str(data_dir() / "jfk.wav"), **opts)  # warm-up
    list(segs)
    base = current_rss()
    with PeakRSS() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        segs, _ = model.transcribe(path, **opts)
        n = sum(len(s.words or ()) for s in segs)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": dt, "cpu": cpu, "peak": mem.peak, "growth": mem.peak - base, "words": n}


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    lengths = [1.0] if quick else [10.0, 60.0]
    peaks: dict[float, int] = {}
    with tempfile.TemporaryDirectory(prefix="fw-bench-engine-") as tmp:
        for minutes in lengths:
            path = str(build_long_wav(Path(tmp) / f"long-{minutes:g}min.wav", minutes))
            audio_s = minutes * 60
            ours = run_child("benchmarks.engine:child_ours", path, timeout=3600)
            direct = run_child("benchmarks.engine:child_direct", path, timeout=3600)
            peaks[minutes] = ours["peak"]
            rtf, rtf_d = audio_s / ours["seconds"], audio_s / direct["seconds"]
            overhead = ours["seconds"] / direct["seconds"] - 1
            cpu_over = ours["cpu"] / direct["cpu"] - 1
            label = f"{minutes:g} min"
            res.rows.append(
                Row(
                    NAME,
                    f"speed (wall clock), {label}, beam 5",
                    f"{rtf:.1f}× real time ({ours['seconds']:.0f} s)",
                    "faster-whisper direct",
                    f"{rtf_d:.1f}× real time ({direct['seconds']:.0f} s)",
                    f"{overhead:+.1%} time",
                    "≥ 20× real time",
                    rtf >= 20,
                )
            )
            res.rows.append(
                Row(
                    NAME,
                    f"CPU time, {label}",
                    f"{ours['cpu']:.0f} CPU-s ({audio_s * 2 / ours['cpu']:.1f}× real time "
                    "on 2 busy cores)",
                    "faster-whisper direct",
                    f"{direct['cpu']:.0f} CPU-s ({audio_s * 2 / direct['cpu']:.1f}×)",
                    f"{cpu_over:+.1%} CPU",
                    "overhead ≤ 10%",
                    cpu_over <= 0.10,
                )
            )
            res.rows.append(
                Row(
                    NAME,
                    f"peak RSS (growth), {label}",
                    f"{fmt_mb(ours['peak'])} (+{fmt_mb(ours['growth'])})",
                    "faster-whisper direct",
                    f"{fmt_mb(direct['peak'])} (+{fmt_mb(direct['growth'])})",
                    f"{ours['growth'] / max(direct['growth'], 1):.2f}× growth",
                    "flat with duration",
                    None,
                )
            )
            res.notes.append(
                f"{label}: {ours['words']} words (ours), {direct['words']} words (direct)."
            )
    if len(peaks) == 2:
        a, b = peaks[lengths[0]], peaks[lengths[1]]
        res.rows.append(
            Row(
                NAME,
                f"peak RSS {lengths[1]:g} min vs {lengths[0]:g} min (ours)",
                f"{b / a:.2f}×",
                "—",
                "—",
                "—",
                "flat (≤ 1.2×)",
                b / a <= 1.2,
            )
        )
    res.notes.append(
        "Files: jfk.wav, two_speakers.wav and english.wav (resampled) with 1 s silences, "
        "repeated to length, 16 kHz PCM16 WAV. Ours: the embedded server (served in the "
        "child's process) and `Client.transcribe(language='en')` over loopback HTTP, beam 5, "
        "word timestamps, Silero VAD, pieces of ~3 min. Baseline: `WhisperModel.transcribe` of "
        "the same model (tiny.en int8, 2 threads) with the same options on the whole file. "
        "Each side runs in a fresh interpreter after a jfk.wav warm-up; peak RSS is the process "
        "high-water mark while transcribing (server + client in one process for ours); growth "
        "is over the RSS after warm-up. The overhead goal is judged on CPU time (all threads "
        "of the process, `time.process_time()`), which other work on a shared machine disturbs "
        "far less than wall time; 'real time on 2 busy cores' is audio seconds × 2 / CPU "
        "seconds, the speed two dedicated cores would give if both stayed busy."
    )
    return res
