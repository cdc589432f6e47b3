"""Transcript model: response shapes, streaming state, reprs and HTML display."""

from __future__ import annotations

import pytest

from fw_asr_widgets.transcript import Segment, Transcript, Word
from fw_asr_widgets.transcript.display import PALETTE, clock, speaker_colors

VERBOSE = {
    "task": "transcribe",
    "language": "en",
    "duration": 11.0,
    "text": " And so my fellow Americans",
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 2.5,
            "text": " And so my",
            "tokens": [1, 2],
            "avg_logprob": -0.25,
            "no_speech_prob": 0.01,
            "compression_ratio": 1.2,
            "temperature": 0.0,
            "speaker_id": None,
        },
        {"id": 1, "seek": 0, "start": 2.5, "end": 4.0, "text": " fellow Americans"},
    ],
    "words": [
        {"word": " And", "start": 0.0, "end": 0.4, "speaker_id": "SPEAKER_00"},
        {"word": " so", "start": 0.4, "end": 0.8, "speaker_id": "SPEAKER_00"},
        {"word": " my", "start": 0.8, "end": 2.4, "speaker_id": "SPEAKER_00"},
        {"word": " fellow", "start": 2.6, "end": 3.0, "speaker_id": "SPEAKER_01"},
        {"word": " Americans", "start": 3.0, "end": 4.0, "speaker_id": "SPEAKER_01"},
    ],
}


def test_verbose_json_with_top_level_words_links_words_and_speakers() -> None:
    tr = Transcript.from_response(VERBOSE, source="jfk.wav")
    assert tr.text == "And so my fellow Americans"
    assert [s.id for s in tr.segments] == ["0", "1"]
    assert [w.segment_id for w in tr.words] == ["0", "0", "0", "1", "1"]
    # segments without speaker_id take the majority speaker of their words
    assert [s.speaker for s in tr.segments] == ["SPEAKER_00", "SPEAKER_01"]
    assert tr.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert tr.segments[0].confidence == pytest.approx(0.7788007831)
    assert tr.source == "jfk.wav" and tr.duration == 11.0 and tr.language == "en"
    assert tr.raw["task"] == "transcribe"


def test_plain_json_and_word_only_responses() -> None:
    tr = Transcript.from_response({"text": " hello there "})
    assert tr.text == "hello there" and tr.segments == () and tr.words == ()
    assert tr.to_pandas().empty and list(tr.to_pandas("word").columns)
    words_only = Transcript.from_response(
        {"text": "hi you", "words": [{"word": "hi", "start": 0, "end": 1}, {"word": "you"}]}
    )
    assert [w.word for w in words_only.words] == ["hi", "you"]
    assert words_only.words[1].start is None and words_only.words[1].segment_id is None
    df = words_only.to_pandas("word")
    assert df["start"].isna().tolist() == [False, True]


def test_streaming_state_string_ids_nested_words_and_is_final() -> None:
    state = {
        "task": "transcribe",
        "language": "en",
        "text": "one two three",
        "segments": [
            {
                "id": "0",
                "text": "one two",
                "start": 0.0,
                "end": 1.0,
                "words": [
                    {"word": "one", "start": 0.0, "end": 0.5, "is_final": True},
                    {"word": "two", "start": 0.5, "end": 1.0, "is_final": True},
                ],
            },
            {
                "id": "1",
                "text": "three",
                "words": [{"word": "three", "start": 1.2, "end": 1.6, "is_final": False}],
            },
        ],
    }
    tr = Transcript.from_response(state)
    assert [s.id for s in tr.segments] == ["0", "1"]
    # missing segment times come from the words
    assert (tr.segments[1].start, tr.segments[1].end) == (1.2, 1.6)
    assert [w.is_final for w in tr.words] == [True, True, False]
    assert [w.segment_id for w in tr.words] == ["0", "0", "1"]
    df = tr.to_pandas("word")
    assert df["is_final"].tolist() == [True, True, False]
    assert df["segment_id"].tolist() == ["0", "0", "1"]


def test_from_response_rejects_non_dict() -> None:
    with pytest.raises(TypeError, match="response dict"):
        Transcript.from_response("hello")  # type: ignore[arg-type]


def test_from_segments_links_words_without_segment_id() -> None:
    seg = Segment(id="7", start=0, end=1, text="a b", words=(Word("a", 0, 0.5), Word("b", 0.5, 1)))
    tr = Transcript.from_segments([seg])
    assert [w.segment_id for w in tr.words] == ["7", "7"]
    assert tr.text == "a b"
    assert tr.with_source("x.wav").source == "x.wav"


def _many(n: int) -> Transcript:
    segs = [
        Segment(
            id=str(i), start=i * 2.0, end=i * 2.0 + 1.5, text=f"line {i} <b>&", speaker=f"S{i % 3}"
        )
        for i in range(n)
    ]
    return Transcript.from_segments(segs, text="word " * 10_000, duration=n * 2.0)


def test_repr_is_short_even_for_long_transcripts() -> None:
    tr = _many(500)
    r = repr(tr)
    assert r.startswith("Transcript(500 segments, 3 speakers, 1000.0 s, ")
    assert len(r) < 120
    assert repr(Transcript(text="")) == "Transcript(0 segments, '')"
    assert "Segment(id='0', 0.00-1.50 s, speaker='S0'" in repr(tr.segments[0])
    bundle = tr._repr_mimebundle_()
    assert bundle["text/plain"] == r


def test_html_is_bounded_escaped_and_speaker_coloured() -> None:
    tr = _many(120)
    html = tr._repr_html_()
    assert html.count("<tr>") == 51  # 50 segments + the "more" line
    assert "… 70 more segments" in html
    assert "&lt;b&gt;&amp;" in html and "<b>" not in html
    colors = speaker_colors(tr.speakers)
    assert colors == {"S0": PALETTE[0], "S1": PALETTE[1], "S2": PALETTE[2]}
    assert html.count(PALETTE[1]) == 2 * 17  # S1 owns segments 1, 4, ..., 49
    assert "01:38" in html  # segment 49 starts at 98 s
    assert html == tr._repr_html_()  # stable


def test_html_of_text_only_transcript_is_truncated() -> None:
    tr = Transcript(text="<x> " * 5000)
    html = tr._repr_html_()
    assert 500 <= html.count("&lt;x&gt;") <= 510  # the first 2000 characters + the header
    assert " …</td>" in html


def test_clock() -> None:
    assert clock(0) == "00:00"
    assert clock(61.9) == "01:01"
    assert clock(3725) == "1:02:05"
    assert clock(None) == "--:--"
