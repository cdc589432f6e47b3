"""Transcript.diff against jiwer's own alignment counts, with times and positions."""

from __future__ import annotations

from pathlib import Path

import jiwer
import pytest

from fw_asr_widgets.transcript import Transcript, normalize_text
from fw_asr_widgets.transcript._diff import diff_counts


def _tr(*segs: tuple[float, str, str]) -> Transcript:
    out = []
    for i, (t0, spk, text) in enumerate(segs):
        words = [
            dict(word=" " + w, start=t0 + k * 0.3, end=t0 + k * 0.3 + 0.25, speaker_id=spk)
            for k, w in enumerate(text.split())
        ]
        out.append(
            dict(id=i, start=t0, end=t0 + 0.3 * len(words), text=text, speaker_id=spk, words=words)
        )
    return Transcript.from_response(dict(text="", segments=out))


def _jiwer(a: Transcript, b: Transcript) -> dict[str, int]:
    def text(t: Transcript) -> str:
        return normalize_text(" ".join(s.text for s in t.segments) or t.text)

    ta, tb = text(a), text(b)
    if not ta or not tb:  # jiwer refuses empty input
        n_a, n_b = len(ta.split()), len(tb.split())
        return {"match": 0, "substitution": 0, "insertion": n_b, "deletion": n_a}
    o = jiwer.process_words(ta, tb)
    return {
        "match": o.hits,
        "substitution": o.substitutions,
        "insertion": o.insertions,
        "deletion": o.deletions,
    }


def test_diff_rows_times_and_positions() -> None:
    a = _tr((0.0, "A", "Hello there, my friend."), (3.0, "B", "How are you today?"))
    b = _tr((0.0, "X", "hello the my good friend"), (3.0, "Y", "how you today"))
    d = a.diff(b)
    assert list(d.op) == [
        "match",
        "substitution",
        "match",
        "insertion",
        "match",
        "match",
        "deletion",
        "match",
        "match",
    ]
    sub = d[d.op == "substitution"].iloc[0]
    assert (sub.a_word, sub.b_word, sub.a_start, sub.b_start) == ("there,", "the", 0.3, 0.3)
    assert (sub.a_segment, sub.a_word_index, sub.b_segment, sub.b_word_index) == (0, 1, 0, 1)
    ins = d[d.op == "insertion"].iloc[0]
    assert ins.b_word == "good" and ins.a_word is pd_na() and ins.b_start == pytest.approx(0.9)
    dele = d[d.op == "deletion"].iloc[0]
    assert (dele.a_word, dele.a_segment, dele.a_word_index, dele.a_speaker) == ("are", 1, 1, "B")
    assert diff_counts(d) == _jiwer(a, b)


def pd_na() -> object:
    import pandas as pd

    return pd.NA


@pytest.mark.parametrize("seed", range(12))
def test_diff_counts_equal_jiwer(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    vocab = ["the", "a", "cat", "sat", "on", "mat", "Dog,", "ran", "far", "away.", "is", "it"]
    ref = [rnd.choice(vocab) for _ in range(rnd.randint(5, 30))]
    hyp = list(ref)
    for _ in range(rnd.randint(0, 10)):
        k = rnd.randrange(len(hyp) + 1)
        r = rnd.random()
        if r < 0.33 and hyp:
            del hyp[min(k, len(hyp) - 1)]
        elif r < 0.66:
            hyp.insert(k, rnd.choice(vocab))
        elif hyp:
            hyp[min(k, len(hyp) - 1)] = rnd.choice(vocab)
    if not hyp:
        hyp = ["x"]
    a = _tr((0.0, "A", " ".join(ref[: len(ref) // 2])), (20.0, "B", " ".join(ref[len(ref) // 2 :])))
    b = _tr((0.0, "A", " ".join(hyp)))
    assert diff_counts(a.diff(b)) == _jiwer(a, b)
    assert diff_counts(b.diff(a)) == _jiwer(b, a)


def test_diff_with_an_stm_reference_spreads_word_times(data_dir: Path) -> None:
    stm = Transcript.from_stm(data_dir / "two_speakers.stm")
    hyp = _tr((6.68, "S0", "hello"), (7.6, "S1", "hello"), (8.4, "S0", "oh hello"))
    d = stm.diff(hyp)
    first = d.iloc[0]
    assert (first.op, first.a_start, first.a_end, first.a_speaker) == ("match", 6.68, 7.16, "Diane")
    assert d.a_word_index.isna().all()  # the STM has no timed words
    assert diff_counts(d) == _jiwer(stm, hyp)
    assert diff_counts(Transcript(text="").diff(hyp)) == {
        "match": 0,
        "substitution": 0,
        "insertion": 4,
        "deletion": 0,
    }
