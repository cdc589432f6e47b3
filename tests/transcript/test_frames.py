"""DataFrames: schemas, round trips, utterances, concat and the `df.asr` accessor."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import fw_asr_widgets  # noqa: F401  (registers df.asr)
from fw_asr_widgets.transcript import (
    SEGMENT_COLUMNS,
    UTTERANCE_COLUMNS,
    WORD_COLUMNS,
    Segment,
    Transcript,
    Word,
    concat,
)

from .strategies import transcripts

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _diarized() -> Transcript:
    def seg(i: int, a: float, b: float, spk: str | None, text: str) -> Segment:
        toks = text.split()
        step = (b - a) / len(toks)
        ws = tuple(
            Word(t, a + k * step, a + (k + 1) * step, spk, 0.9, "en") for k, t in enumerate(toks)
        )
        return Segment(str(i), a, b, text, spk, ws, "en", avg_logprob=-0.1)

    return Transcript.from_segments(
        [
            seg(0, 0.0, 2.0, "A", "hello there how are you"),
            seg(1, 2.2, 3.0, "A", "fine thanks"),
            seg(2, 2.8, 5.0, "B", "well I am fine too"),
            seg(3, 7.0, 8.0, "A", "good to hear"),
        ],
        language="en",
        duration=8.0,
        source="call.wav",
    )


def test_segment_schema() -> None:
    df = _diarized().to_pandas()
    assert tuple(df.columns) == SEGMENT_COLUMNS
    dt = df.dtypes
    assert dt["start"] == dt["end"] == dt["duration"] == np.float64
    assert isinstance(dt["speaker"], pd.CategoricalDtype)
    assert list(df["speaker"].cat.categories) == ["A", "B"]
    for c in ("segment_id", "text", "language", "source"):
        assert dt[c] == pd.StringDtype(), c
    # per segment: the mean probability of its own words, not the window-level avg_logprob
    assert df["confidence"].tolist() == pytest.approx([0.9] * 4)
    assert df["duration"].tolist() == pytest.approx([2.0, 0.8, 2.2, 1.0])
    assert (df["source"] == "call.wav").all()


def test_word_schema_and_undiarized_nas() -> None:
    df = _diarized().to_pandas("word")
    assert tuple(df.columns) == WORD_COLUMNS
    assert df["text"].tolist()[:3] == ["hello", "there", "how"]
    assert df["segment_id"].tolist()[5:7] == ["1", "1"]
    assert df["probability"].dtype == np.float64 and df["is_final"].dtype == "boolean"
    plain = Transcript.from_response(
        {"text": "hi", "segments": [{"start": 0, "end": 1, "text": " hi"}]}
    )
    p = plain.to_pandas()
    assert p["speaker"].isna().all() and isinstance(p["speaker"].dtype, pd.CategoricalDtype)
    assert p["source"].isna().all() and p["source"].dtype == pd.StringDtype()
    assert math.isnan(p["confidence"][0])
    with pytest.raises(ValueError, match="level must be"):
        plain.to_pandas("sentence")


def test_utterances_merge_consecutive_segments_of_one_speaker() -> None:
    tr = _diarized()
    u = tr.to_pandas("utterance", max_gap=1.0)
    assert tuple(u.columns) == UTTERANCE_COLUMNS
    assert u["speaker"].tolist() == ["A", "B", "A"]
    assert u["text"].tolist() == [
        "hello there how are you fine thanks",
        "well I am fine too",
        "good to hear",
    ]
    assert u["n_segments"].tolist() == [2, 1, 1]
    assert u["segment_id"].tolist() == ["0", "2", "3"]
    assert (u["start"].tolist(), u["end"].tolist()) == ([0.0, 2.8, 7.0], [3.0, 5.0, 8.0])
    # a gap larger than max_gap splits a speaker's run
    assert tr.to_pandas("utterance", max_gap=0.1)["n_segments"].tolist() == [1, 1, 1, 1]


@SETTINGS
@given(transcripts())
def test_segment_frame_round_trip(tr: Transcript) -> None:
    df = tr.to_pandas()
    back = Transcript.from_pandas(df)
    assert back.segments == tuple(dataclasses.replace(s, words=()) for s in tr.segments)
    assert (back.source, back.language, back.duration) == (tr.source, tr.language, tr.duration)
    # confidence comes from the segment's words, which a segment frame does not carry
    again = back.to_pandas()
    pd.testing.assert_frame_equal(again.drop(columns="confidence"), df.drop(columns="confidence"))
    linked = {w.segment_id for w in tr.words}
    no_words = np.array([not s.words and s.id not in linked for s in tr.segments], dtype=bool)
    np.testing.assert_array_equal(again["confidence"][no_words], df["confidence"][no_words])


@SETTINGS
@given(transcripts())
@pytest.mark.filterwarnings("ignore::fw_asr_widgets.transcript.NoWordTimestampsWarning")
def test_word_frame_round_trip(tr: Transcript) -> None:
    df = tr.to_pandas("word")
    back = Transcript.from_pandas(df)
    assert back.words == tr.words
    assert [s.id for s in back.segments] == list(dict.fromkeys(w.segment_id for w in tr.words))
    pd.testing.assert_frame_equal(back.to_pandas("word"), df)
    # a frame without its attrs (e.g. read from CSV) still round-trips its rows
    df2 = df.copy()
    df2.attrs = {}
    pd.testing.assert_frame_equal(
        Transcript.from_pandas(df2).to_pandas("word"), df, check_like=True
    )


def test_from_pandas_plain_frame_and_errors() -> None:
    df = pd.DataFrame(
        {"start": [0.0, 1.0], "end": [1.0, 2.5], "speaker": ["x", None], "text": ["a", "b c"]}
    )
    tr = Transcript.from_pandas(df)
    assert [s.id for s in tr.segments] == ["0", "1"]
    assert [s.speaker for s in tr.segments] == ["x", None]
    assert tr.text == "a b c"
    words = Transcript.from_pandas(
        pd.DataFrame(
            {
                "start": [0, 1, 2],
                "end": [1, 2, 3],
                "speaker": ["a", "a", "b"],
                "text": ["x", "y", "z"],
            }
        ),
        level="word",
    )
    assert [(s.id, s.text, s.speaker) for s in words.segments] == [
        ("0", "x y", "a"),
        ("1", "z", "b"),
    ]
    with pytest.raises(ValueError, match="'start' and 'end'"):
        Transcript.from_pandas(pd.DataFrame({"text": ["a"]}))
    with pytest.raises(TypeError):
        Transcript.from_pandas([1, 2])  # type: ignore[arg-type]


def test_concat_keeps_sources_and_categorical_speakers() -> None:
    a = _diarized()
    b = Transcript.from_segments([Segment("0", 0, 1, "hi", "C", (Word("hi", 0, 1, "C"),))])
    df = concat([a, b])
    assert df["source"].tolist() == ["call.wav"] * 4 + ["1"]
    assert list(df["speaker"].cat.categories) == ["A", "B", "C"]
    by_name = concat({"x": a, "y": b}, level="word")
    assert set(by_name["source"]) == {"x", "y"} and len(by_name) == len(a.words) + 1
    assert tuple(concat([]).columns) == SEGMENT_COLUMNS
    tt = df[df["source"] == "call.wav"].asr.talk_time()
    assert set(tt.index) == {"A", "B"}


# ---------------------------------------------------------------------- accessor
def _stm_lines(path: Path) -> list[list[str]]:
    return [ln.split(maxsplit=5) for ln in path.read_text().splitlines() if ln.strip()]


def test_talk_time_matches_hand_computation_from_stm(shared_data: Path) -> None:
    path = shared_data / "two_speakers.stm"
    lines = _stm_lines(path)
    seconds: dict[str, float] = {}
    words: dict[str, int] = {}
    turns: dict[str, int] = {}
    prev = None
    for f in sorted(lines, key=lambda f: float(f[3])):
        spk = f[2]
        seconds[spk] = seconds.get(spk, 0.0) + float(f[4]) - float(f[3])
        words[spk] = words.get(spk, 0) + len(f[5].split())
        if spk != prev:
            turns[spk] = turns.get(spk, 0) + 1
        prev = spk
    tt = Transcript.from_stm(path).to_pandas().asr.talk_time()
    assert set(tt.index) == {"Diane", "Sheila"}
    total = sum(seconds.values())
    for spk in seconds:
        assert tt.loc[spk, "seconds"] == pytest.approx(seconds[spk])
        assert tt.loc[spk, "share"] == pytest.approx(seconds[spk] / total)
        assert tt.loc[spk, "words"] == words[spk]
        assert tt.loc[spk, "turns"] == turns[spk]
        assert tt.loc[spk, "wpm"] == pytest.approx(words[spk] / seconds[spk] * 60)
    assert tt.index[0] == max(seconds, key=seconds.__getitem__)  # sorted by seconds


def test_overlaps_find_the_rttm_overlaps(shared_data: Path) -> None:
    path = shared_data / "two_speakers.rttm"
    rows = []
    for ln in path.read_text().splitlines():
        f = ln.split()
        rows.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    expected = set()
    for i, (a0, a1, sa) in enumerate(rows):
        for b0, b1, sb in rows[i + 1 :]:
            if sa != sb and max(a0, b0) < min(a1, b1):
                expected.add((round(max(a0, b0), 3), round(min(a1, b1), 3)))
    ov = Transcript.from_rttm(path).to_pandas().asr.overlaps()
    got = {(round(a, 3), round(b, 3)) for a, b in zip(ov["start"], ov["end"], strict=True)}
    assert got == expected
    assert (18.15, 18.59) in got
    row = ov[ov["start"].round(3) == 18.15].iloc[0]
    assert {row["speaker_a"], row["speaker_b"]} == {"speaker90", "speaker91"}
    assert row["duration"] == pytest.approx(0.44)


def test_interruptions_exclude_backchannels(shared_data: Path) -> None:
    df = Transcript.from_rttm(shared_data / "two_speakers.rttm").to_pandas()
    it = df.asr.interruptions(within=1.0)
    # 18.15-18.59 (speaker91 inside speaker90's 18.05-21.49) is a backchannel, not counted
    assert 18.15 not in it["time"].round(2).tolist()
    assert it["time"].round(2).tolist() == [8.32, 9.92, 10.57, 14.49, 27.85]
    assert it["interrupter"].tolist() == [
        "speaker90",
        "speaker91",
        "speaker90",
        "speaker91",
        "speaker90",
    ]
    assert df.asr.interruptions(within=0.2)["time"].round(2).tolist() == [8.32, 9.92]


def test_turns_silences_and_word_frames() -> None:
    tr = _diarized()
    w = tr.to_pandas("word")
    turns = w.asr.turns()
    assert turns["speaker"].tolist() == ["A", "B", "A"]
    assert turns["text"].tolist()[1] == "well I am fine too"
    tt = w.asr.talk_time()
    assert tt.loc["A", "words"] == 10 and tt.loc["B", "words"] == 5
    assert tt.loc["A", "turns"] == 2
    assert tt.loc["A", "seconds"] == pytest.approx(3.8)
    sil = tr.to_pandas().asr.silences(min_gap=0.5)
    assert sil[["start", "end"]].values.tolist() == [[5.0, 7.0]]
    assert (sil["speaker_before"][0], sil["speaker_after"][0]) == ("B", "A")
    assert tr.to_pandas().asr.silences(min_gap=0.1)["start"].tolist() == [2.0, 5.0]
    assert w.asr.overlaps()[["speaker_a", "speaker_b"]].values.tolist() == [["A", "B"]]
    with pytest.raises(ValueError, match="needs the column"):
        pd.DataFrame({"x": [1]}).asr.talk_time()


def test_talk_time_without_speakers_and_empty() -> None:
    df = pd.DataFrame({"start": [0.0, 2.0], "end": [1.0, 4.0], "text": ["a b", "c"]})
    tt = df.asr.talk_time()
    assert len(tt) == 1 and pd.isna(tt.index[0])
    assert tt["seconds"].iloc[0] == 3.0 and tt["words"].iloc[0] == 3
    empty = Transcript(text="").to_pandas()
    assert empty.asr.talk_time().empty and empty.asr.overlaps().empty
    assert empty.asr.silences().empty and empty.asr.turns().empty


def test_search_words_and_segments() -> None:
    tr = _diarized()
    w = tr.to_pandas("word")
    hits = w.asr.search("fine", context=1)
    assert hits["segment_id"].tolist() == ["1", "2"]
    assert hits["context"].tolist() == ["you fine thanks", "am fine too"]  # across segments
    assert hits["speaker"].tolist() == ["A", "B"]
    phrase = w.asr.search("how are", context=0)
    assert phrase["start"][0] == pytest.approx(0.8) and phrase["end"][0] == pytest.approx(1.6)
    rx = tr.to_pandas().asr.search(r"\bf\w+", regex=True)
    assert rx["match"].tolist() == ["fine", "fine"]
    assert rx["start"].tolist() == [2.2, 2.8]
    assert tr.to_pandas().asr.search("HELLO", case=True).empty
    assert len(tr.to_pandas().asr.search("a", whole_word=True)) == 0
    with pytest.raises(ValueError, match="invalid regular expression"):
        w.asr.search("(", regex=True)


def test_rename_speakers_and_exports() -> None:
    df = _diarized().to_pandas()
    r = df.asr.rename_speakers({"A": "Alice", "B": "Bob"})
    assert r["speaker"].tolist() == ["Alice", "Alice", "Bob", "Alice"]
    assert df["speaker"].tolist()[0] == "A"  # original untouched
    merged = df.asr.rename_speakers({"B": "A"})
    assert list(merged["speaker"].cat.categories) == ["A"]
    assert r.asr.to_text().splitlines()[0] == "Alice: hello there how are you fine thanks"
    assert "<v Bob>well I am fine too" in r.asr.to_vtt()
    assert "[Bob] well I am fine too" in r.asr.to_srt()
    assert (
        r.asr.to_rttm(file_id="f").splitlines()[2]
        == "SPEAKER f 1 2.800 2.200 <NA> <NA> Bob <NA> <NA>"
    )


def test_importing_the_package_registers_the_accessor() -> None:
    import subprocess
    import sys

    code = (
        "import pandas as pd, fw_asr_widgets\n"
        "df = pd.DataFrame({'start': [0.0, 1.0], 'end': [1.0, 3.0], 'speaker': ['a', 'b']})\n"
        "print(df.asr.talk_time()['seconds'].tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[2.0, 1.0]"
