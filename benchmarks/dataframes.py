"""DataFrames: a 1,000,000-word transcript to the word DataFrame and `df.asr.talk_time()`,
against a naive per-row baseline (list of dicts → DataFrame; a Python loop for talk time)."""

from __future__ import annotations

import time
from typing import Any

from benchmarks._util import FigureResult, Row, fmt_s, run_child

NAME = "DataFrames"
WORDS_PER_SEGMENT = 10


def make_transcript(n_words: int) -> Any:
    """`n_words` words in segments of 10, three speakers taking turns, 0.3 s per word."""
    from fw_asr_widgets.transcript import Segment, Transcript, Word

    segs = []
    vocab = ["ask", "not", "what", "your", "country", "can", "do", "for", "you", "today"]
    for i in range(n_words // WORDS_PER_SEGMENT):
        t0 = i * 3.2
        spk = f"SPEAKER_0{(i // 3) % 3}"
        sid = str(i)
        words = tuple(
            Word(w, t0 + k * 0.3, t0 + k * 0.3 + 0.25, spk, 0.9, "en", None, sid)
            for k, w in enumerate(vocab)
        )
        segs.append(Segment(sid, t0, t0 + 3.0, " ".join(vocab), spk, words, "en"))
    return Transcript.from_segments(segs, language="en", source="meeting.wav")


def _naive_frame(tr: Any) -> Any:
    import pandas as pd

    rows = []
    for w in tr.words:
        rows.append(
            {
                "segment_id": w.segment_id,
                "start": w.start,
                "end": w.end,
                "duration": w.end - w.start,
                "speaker": w.speaker,
                "text": w.word,
                "probability": w.probability,
                "language": w.language,
                "source": tr.source,
                "is_final": w.is_final,
            }
        )
    return pd.DataFrame(rows)


def _naive_talk_time(df: Any) -> Any:
    import pandas as pd

    acc: dict[Any, dict[str, float]] = {}
    prev = object()
    for row in df.sort_values("start").itertuples(index=False):
        a = acc.setdefault(row.speaker, {"seconds": 0.0, "turns": 0, "words": 0})
        a["seconds"] += max(row.end - row.start, 0.0)
        a["words"] += 1
        if row.speaker != prev:
            a["turns"] += 1
        prev = row.speaker
    total = sum(a["seconds"] for a in acc.values())
    out = pd.DataFrame.from_dict(acc, orient="index")
    out["share"] = out["seconds"] / total
    out["wpm"] = out["words"] / (out["seconds"] / 60)
    return out.sort_values("seconds", ascending=False)


def child(n_words: int, reps: int) -> dict[str, Any]:
    import fw_asr_widgets.transcript  # noqa: F401  (registers df.asr)

    tr = make_transcript(n_words)
    tr.to_pandas("word")  # warm-up (imports, caches)
    out: dict[str, list[float]] = {"frame": [], "talk": [], "naive_frame": [], "naive_talk": []}
    for _ in range(reps):
        t0 = time.perf_counter()
        df = tr.to_pandas("word")
        out["frame"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tt = df.asr.talk_time()
        out["talk"].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ndf = _naive_frame(tr)
    out["naive_frame"].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    ntt = _naive_talk_time(ndf)
    out["naive_talk"].append(time.perf_counter() - t0)
    same = all(
        abs(float(tt.loc[s, "seconds"]) - float(ntt.loc[s, "seconds"])) < 1e-6 * n_words
        and int(tt.loc[s, "turns"]) == int(ntt.loc[s, "turns"])
        for s in ntt.index
    )
    return {"times": out, "rows": len(df), "agree": same}


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    n = 100_000 if quick else 1_000_000
    m = run_child("benchmarks.dataframes:child", n, 1 if quick else 3)
    t = {k: min(v) for k, v in m["times"].items()}
    label = f"{n:,} words"
    res.rows.append(
        Row(
            NAME,
            f"word DataFrame, {label}",
            fmt_s(t["frame"]),
            "list of dicts → DataFrame",
            fmt_s(t["naive_frame"]),
            f"{t['frame'] / t['naive_frame']:.2f}×",
            "< 1 s at 1,000,000 words",
            None if quick else t["frame"] < 1.0,
        )
    )
    res.rows.append(
        Row(
            NAME,
            f"talk_time(), {label}",
            fmt_s(t["talk"]),
            "per-row Python loop",
            fmt_s(t["naive_talk"]),
            f"{t['talk'] / t['naive_talk']:.3f}×",
            "< 0.5 s at 1,000,000 words",
            None if quick else t["talk"] < 0.5,
        )
    )
    res.notes.append(
        f"Transcript of {m['rows']:,} words (segments of 10, three speakers taking turns) built "
        "beforehand in a fresh interpreter; times are the best of "
        f"{len(m['times']['frame'])} after a warm-up (the naive baselines run once). "
        f"talk_time() and the naive loop agree on seconds and turns per speaker: {m['agree']}."
    )
    return res
