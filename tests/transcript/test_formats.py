"""SRT, WebVTT, RTTM, STM, JSON, text, CSV and Parquet: writers, parsers, round trips."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from fw_asr_widgets import FwAsrError
from fw_asr_widgets.transcript import Segment, Transcript, TranscriptFormatError, Word

from .strategies import transcripts

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MS = 0.0005 + 1e-9


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= MS * max(1.0, abs(b) / 1000)


def _sample() -> Transcript:
    words = (
        Word(" Hello", 0.5, 0.9, "SPEAKER_00", 0.9),
        Word(" there,", 0.9, 1.4, "SPEAKER_00", 0.8),
        Word(" <friend> & co", 1.4, 2.0, "SPEAKER_00", 0.7),
    )
    return Transcript.from_segments(
        [
            Segment("0", 0.5, 2.0, "Hello there, <friend> & co", "SPEAKER_00", words),
            Segment("1", 1.8, 3661.25, "Ça va? 你好", "Dr Who"),
            Segment("2", 4000.0, 4001.0, "no speaker"),
        ],
        language="en",
        source="clip.wav",
    )


# ---------------------------------------------------------------------- SRT
def test_srt_layout() -> None:
    srt = _sample().to_srt()
    blocks = srt.split("\n\n")
    assert blocks[0] == "1\n00:00:00,500 --> 00:00:02,000\n[SPEAKER_00] Hello there, <friend> & co"
    assert blocks[1] == "2\n00:00:01,800 --> 01:01:01,250\n[Dr Who] Ça va? 你好"
    assert blocks[2] == "3\n01:06:40,000 --> 01:06:41,000\nno speaker\n"
    assert "[" not in _sample().to_srt(speaker_labels=False)


def test_srt_line_length_and_duration_splits_use_word_times() -> None:
    tr = _sample()
    srt = tr.to_srt(max_line_length=16, max_lines=1, speaker_labels=False)
    lines = [ln for ln in srt.splitlines() if ln and "-->" not in ln and not ln.isdigit()]
    assert lines[:2] == ["Hello there,", "<friend> & co"]
    assert all(len(line) <= 16 for line in lines)
    cues = Transcript.from_srt(srt).segments
    # the cut falls on the start of the word "<friend> & co"; the segment's ends are kept
    assert [(c.start, c.end) for c in cues[:2]] == [(0.5, 1.4), (1.4, 2.0)]
    by_time = Transcript.from_srt(tr.to_srt(max_duration=600)).segments
    long = [c for c in by_time if c.speaker == "Dr Who"]
    # three tokens of ~1220 s each: one cue per token (a token is never split)
    assert [c.text for c in long] == ["Ça", "va?", "你好"]
    assert long[0].start == 1.8 and long[-1].end == 3661.25
    assert all(x.end == y.start for x, y in itertools.pairwise(long))
    with pytest.raises(ValueError, match="max_duration"):
        tr.to_srt(max_duration=0)


@SETTINGS
@given(transcripts())
def test_srt_round_trip_to_the_millisecond(tr: Transcript) -> None:
    back = Transcript.from_srt(tr.to_srt(max_line_length=None))
    assert len(back.segments) == len(tr.segments)
    for a, b in zip(tr.segments, back.segments, strict=True):
        assert _close(b.start, a.start) and _close(b.end, a.end)
        assert b.text == a.text
        assert b.speaker == a.speaker


@SETTINGS
@given(transcripts(max_segments=4))
def test_wrapped_srt_and_vtt_cover_each_segment(tr: Transcript) -> None:
    for text, parse in (
        (tr.to_srt(), Transcript.from_srt),
        (tr.to_vtt(max_duration=30), Transcript.from_vtt),
    ):
        cues = parse(text).segments
        i = 0
        for seg in tr.segments:
            parts = [cues[i]]
            i += 1
            while " ".join(p.text for p in parts if p.text) != seg.text:
                parts.append(cues[i])
                i += 1
            assert all(p.speaker == seg.speaker for p in parts)
            assert _close(parts[0].start, seg.start) and _close(parts[-1].end, seg.end)
            assert all(x.end == y.start for x, y in itertools.pairwise(parts))
        assert i == len(cues)


# ---------------------------------------------------------------------- VTT
def test_vtt_voice_tags_and_escaping() -> None:
    vtt = _sample().to_vtt()
    assert vtt.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.000\n<v SPEAKER_00>Hello")
    assert "&lt;friend&gt; &amp;" in vtt and "<friend>" not in vtt
    back = Transcript.from_vtt(vtt)
    assert [s.speaker for s in back.segments] == ["SPEAKER_00", "Dr Who", None]
    assert back.segments[0].text == "Hello there, <friend> & co"


def test_vtt_parser_reads_external_files() -> None:
    text = (
        "\ufeffWEBVTT - a title\nKind: captions\n\nNOTE a comment\nover lines\n\n"
        "STYLE\n::cue { color: red }\n\n"
        "intro\n01:02.500 --> 01:04.000 align:start position:10%\n"
        "<v.loud Roger Bingham>We are <i>in</i> New York</v>\n\n"
        "00:01:05.000 --> 00:01:06.000\n<c.yellow>plain</c> &lt;3\n"
    )
    tr = Transcript.from_vtt(text)
    assert [(s.start, s.end, s.speaker, s.text) for s in tr.segments] == [
        (62.5, 64.0, "Roger Bingham", "We are in New York"),
        (65.0, 66.0, None, "plain <3"),
    ]
    with pytest.raises(TranscriptFormatError, match="WEBVTT"):
        Transcript.from_vtt("1\n00:00:01,000 --> 00:00:02,000\nhi\n")


@SETTINGS
@given(transcripts())
def test_vtt_round_trip(tr: Transcript) -> None:
    back = Transcript.from_vtt(tr.to_vtt(max_line_length=None))
    assert [(s.text, s.speaker) for s in back.segments] == [
        (s.text, s.speaker) for s in tr.segments
    ]
    assert all(_close(b.start, a.start) for a, b in zip(tr.segments, back.segments, strict=True))


# ---------------------------------------------------------------------- RTTM / STM
def test_rttm_sample_file(shared_data: Path) -> None:
    path = shared_data / "two_speakers.rttm"
    tr = Transcript.from_rttm(path)
    assert tr.source == "sample" and len(tr.segments) == 10
    s = tr.segments[6]
    assert (s.start, s.end, s.speaker, s.text) == (18.05, 21.49, "speaker90", "")
    assert tr.segments[1].end == 8.35  # 7.550 + 0.800, exact
    assert tr.to_rttm() == path.read_text()


@SETTINGS
@given(transcripts())
def test_rttm_round_trip(tr: Transcript) -> None:
    text = tr.to_rttm(file_id="meeting 1")
    back = Transcript.from_rttm(text)
    assert len(back.segments) == len(tr.segments)
    assert back.source == ("meeting_1" if tr.segments else None)
    for a, b in zip(tr.segments, back.segments, strict=True):
        assert b.speaker == a.speaker
        assert _close(b.start, a.start) and _close(b.end, a.end)


def test_rttm_errors_and_several_files() -> None:
    two = "SPEAKER a 1 0.0 1.0 <NA> <NA> x <NA> <NA>\nSPEAKER b 1 0.5 1.0 <NA> <NA> y <NA> <NA>\n"
    with pytest.raises(TranscriptFormatError, match="several files"):
        Transcript.from_rttm(two)
    assert [s.speaker for s in Transcript.from_rttm(two, file_id="b").segments] == ["y"]
    with pytest.raises(TranscriptFormatError, match="line 1: bad time"):
        Transcript.from_rttm("SPEAKER a 1 zero 1.0 <NA> <NA> x <NA> <NA>")
    with pytest.raises(TranscriptFormatError, match="looks like a file name"):
        Transcript.from_rttm("reference.rttm")
    err = pytest.raises(FwAsrError, Transcript.from_srt, "1\nno timing here\n")
    assert isinstance(err.value, ValueError)


def test_stm_sample_file_and_writer(shared_data: Path) -> None:
    tr = Transcript.from_stm(shared_data / "two_speakers.stm")
    assert tr.source == "sample" and len(tr.segments) == 13
    assert tr.segments[7].text == "And I'm Sheila in Texas, originally from Chicago."
    assert (tr.segments[0].start, tr.segments[0].end, tr.segments[0].speaker) == (
        6.68,
        7.16,
        "Diane",
    )
    back = Transcript.from_stm(tr.to_stm())
    assert [(s.start, s.end, s.speaker, s.text) for s in back.segments] == [
        (s.start, s.end, s.speaker, s.text) for s in tr.segments
    ]
    odd = ";; comment\nf 1 A 0 1 <o,f0,male> hello\nf 1 inter_segment_gap 1 2\nf 1 B 2 3 ignore_time_segment_in_scoring\n"
    assert [(s.speaker, s.text) for s in Transcript.from_stm(odd).segments] == [("A", "hello")]


# ---------------------------------------------------------------------- JSON / text
@SETTINGS
@given(transcripts())
def test_json_round_trip(tr: Transcript) -> None:
    back = Transcript.from_json(tr.to_json())
    assert back == tr
    assert Transcript.from_json(json.loads(tr.to_json())) == tr


def test_json_shape_and_word_only_transcripts() -> None:
    d = _sample().to_dict()
    assert set(d) == {"task", "language", "duration", "text", "segments", "source"}
    assert d["segments"][0]["speaker_id"] == "SPEAKER_00"
    assert d["segments"][0]["words"][0] == {
        "word": " Hello",
        "start": 0.5,
        "end": 0.9,
        "speaker_id": "SPEAKER_00",
        "probability": 0.9,
    }
    words_only = Transcript(text="a b", words=(Word("a", 0, 1), Word("b", 1, 2)))
    assert Transcript.from_json(words_only.to_json()) == words_only
    with pytest.raises(TranscriptFormatError, match="invalid JSON"):
        Transcript.from_json("{nope")


def test_to_text() -> None:
    tr = _sample()
    assert tr.to_text().splitlines() == [
        "SPEAKER_00: Hello there, <friend> & co",
        "Dr Who: Ça va? 你好",
        "no speaker",
    ]
    assert tr.to_text(speaker_labels=False) == tr.text


# ---------------------------------------------------------------------- files
@pytest.mark.parametrize(
    "suffix", [".srt", ".vtt", ".rttm", ".stm", ".json", ".txt", ".csv", ".parquet"]
)
def test_save_and_load_by_suffix(tmp_path: Path, suffix: str) -> None:
    tr = _sample()
    path = tr.save(tmp_path / f"out{suffix}")
    assert path.exists()
    back = Transcript.load(path)
    if suffix == ".txt":
        assert back.text == tr.to_text()
        return
    assert len(back.segments) == 3
    # RTTM and STM speaker fields hold no spaces: "Dr Who" is written as "Dr_Who"
    who = "Dr_Who" if suffix in (".rttm", ".stm") else "Dr Who"
    assert [s.speaker for s in back.segments][:2] == ["SPEAKER_00", who]
    assert back.segments[1].end == 3661.25
    if suffix in (".json", ".csv", ".parquet"):
        assert back.source == "clip.wav"
        assert [dataclasses.replace(s, words=()) for s in back.segments] == [
            dataclasses.replace(s, words=()) for s in tr.segments
        ]
    if suffix == ".json":
        assert back == tr


def test_save_word_level_csv_and_unknown_suffix(tmp_path: Path) -> None:
    tr = _sample()
    p = tr.save(tmp_path / "w.csv", level="word")
    df = pd.read_csv(p)
    assert df["text"].tolist() == ["Hello", "there,", "<friend> & co"]
    assert Transcript.load(p).words[2].word == "<friend> & co"
    with pytest.raises(ValueError, match="use one of"):
        tr.save(tmp_path / "x.docx")
    with pytest.raises(FileNotFoundError):
        Transcript.load(tmp_path / "missing.srt")


def test_parquet_without_pyarrow_says_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        _sample().save(tmp_path / "x.parquet")
