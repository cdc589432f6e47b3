"""Tables a user reads: file-name sources, per-segment confidence, ms times in CSV, and the
hallucination flag computed from what any response carries."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fw_asr_widgets  # noqa: F401  (registers df.asr)
from fw_asr_widgets import _quality
from fw_asr_widgets.transcript import Transcript, concat

# What tiny.en made of french.aiff: one window, the loop the guard has to catch.
LOOP = "Thank you for watching, see you in the next video, " + "see you in the next video, " * 30
JFK = (
    "And so, my fellow Americans ask not what your country can do for you, "
    "ask what you can do for your country."
)


def _seg(i: int, a: float, b: float, text: str, probs: list[float], **kw: Any) -> dict[str, Any]:
    step = (b - a) / len(probs)
    words = [
        {"word": w, "start": a + k * step, "end": a + (k + 1) * step, "probability": p}
        for k, (w, p) in enumerate(zip(text.split(), probs, strict=False))
    ]
    return {"id": i, "start": a, "end": b, "text": text, "words": words, **kw}


def _window_response(source: str = "/home/someone/recordings/2024/team/call.wav") -> Transcript:
    # Two segments decoded in one Whisper window share avg_logprob and compression_ratio.
    window = {"avg_logprob": -0.3053, "compression_ratio": 1.3418, "no_speech_prob": 0.06}
    return Transcript.from_response(
        {
            "text": "",
            "segments": [
                _seg(0, 1.0, 3.48, "ask not what", [0.9, 0.8, 0.7], **window),
                _seg(1, 3.48, 5.0, "ask what you", [0.3, 0.2, 0.1], **window),
            ],
        },
        source=source,
    )


def test_source_column_is_the_file_name_and_the_full_path_survives() -> None:
    tr = _window_response()
    for df in (tr.to_pandas(), tr.to_pandas("word"), tr.to_pandas().asr.turns()):
        assert set(df["source"]) == {"call.wav"}
    back = Transcript.from_pandas(tr.to_pandas())
    assert back.source == tr.source
    # a user-chosen label is kept as it is
    labelled = concat({"a": tr, "b": tr})
    assert set(labelled["source"]) == {"a", "b"}
    # two files of one name in different folders stay apart
    twin = tr.with_source("/elsewhere/call.wav")
    both = concat([tr, twin])
    assert set(both["source"]) == {tr.source, "/elsewhere/call.wav"}


def test_confidence_is_per_segment_not_the_window_value() -> None:
    df = _window_response().to_pandas()
    assert df["confidence"].tolist() == pytest.approx([0.8, 0.2])
    # the window-level value keeps its own name
    assert df["avg_logprob"].tolist() == [-0.3053, -0.3053]
    # words given only at top level (linked to segments by time) count for their segment
    top = Transcript.from_response(
        {
            "text": "",
            "segments": [
                {"id": 0, "start": 0.0, "end": 1.0, "text": "a b", "avg_logprob": -0.2},
                {"id": 1, "start": 1.0, "end": 2.0, "text": "c", "avg_logprob": -0.2},
                {"id": 2, "start": 2.0, "end": 3.0, "text": "d", "avg_logprob": -0.2},
            ],
            "words": [
                {"word": "a", "start": 0.0, "end": 0.5, "probability": 0.9},
                {"word": "b", "start": 0.5, "end": 1.0, "probability": 0.5},
                {"word": "c", "start": 1.0, "end": 2.0, "probability": 0.3},
                {"word": "d", "start": 2.0, "end": 3.0},  # no probability: window value
            ],
        }
    )
    assert top.to_pandas()["confidence"].tolist() == pytest.approx([0.7, 0.3, math.exp(-0.2)])


def test_csv_times_are_rounded_to_the_millisecond(tmp_path: Path) -> None:
    tr = _window_response()
    for level in ("segment", "word", "utterance"):
        p = tmp_path / f"{level}.csv"
        if level == "utterance":
            from fw_asr_widgets.transcript.formats import write_csv

            write_csv(tr.to_pandas(level), p)
        else:
            tr.save(p, level=level)
        text = p.read_text()
        assert "2.4800000000000004" not in text and "0.8266666" not in text, text
    seg_csv = (tmp_path / "segment.csv").read_text().splitlines()
    assert seg_csv[1].startswith("0,1.0,3.48,2.48,"), seg_csv[1]
    # even a plain DataFrame.to_csv of the frame shows no float noise in `duration`
    assert "2.4800000000000004" not in tr.to_pandas().to_csv(index=False)
    back = Transcript.load(tmp_path / "segment.csv")
    assert [(s.start, s.end) for s in back.segments] == [(1.0, 3.48), (3.48, 5.0)]


def test_repetition_and_compression_flag_looping_segments() -> None:
    from fw_asr_widgets._quality import is_hallucination, repetition

    assert repetition(LOOP) > 0.9
    assert is_hallucination(LOOP)
    assert not is_hallucination(JFK)
    assert not is_hallucination("no no no, I said no")
    # Chinese text has no spaces: characters are the tokens
    assert is_hallucination("砸自己的脚" * 6)
    assert not is_hallucination("砸自己的脚")
    # Whisper's "window is silence" rule
    assert is_hallucination("Thank you.", no_speech_prob=0.9, avg_logprob=-1.5)
    assert not is_hallucination("Thank you.", no_speech_prob=0.9, avg_logprob=-0.2)


def test_hallucination_column_in_segment_and_utterance_frames() -> None:
    tr = Transcript.from_response(
        {
            "text": "",
            "segments": [
                {"id": 0, "start": 0.0, "end": 2.0, "text": JFK, "compression_ratio": 1.3},
                # a short piece of a looping window: flagged from the window's ratio
                {"id": 1, "start": 2.0, "end": 4.0, "text": "see you", "compression_ratio": 12.4},
                {"id": 2, "start": 4.0, "end": 30.0, "text": LOOP},
            ],
        }
    )
    df = tr.to_pandas()
    assert df["hallucination"].dtype == "boolean"
    assert df["hallucination"].tolist() == [False, True, True]
    assert df[~df["hallucination"]]["text"].tolist() == [JFK]
    utt = tr.to_pandas("utterance")
    assert utt["hallucination"].tolist() == [True] and utt["n_segments"].tolist() == [3]
    assert pd.isna(tr.to_pandas().asr.turns(max_gap=0)["hallucination"]).sum() == 0


def test_hallucination_score_is_the_guard_verdict_else_the_no_speech_estimate() -> None:
    loop = "see you in the next video " * 6
    assert _quality.hallucination_score(loop, no_speech_prob=0.1) == 1.0
    assert _quality.hallucination_score("hello there", no_speech_prob=0.3) == 0.3
    # Whisper's silence rule (no speech AND low log-probability) is a guard verdict.
    assert _quality.hallucination_score("thank you", no_speech_prob=0.8, avg_logprob=-1.5) == 1.0
    # Unflagged text never reaches 1.0, whatever Whisper's estimate says.
    assert _quality.hallucination_score("hello there", no_speech_prob=1.0) == 0.99
    assert _quality.hallucination_score("hello there") == 0.0
    assert _quality.hallucination_score("hello", no_speech_prob=float("nan")) == 0.0
