"""Fuzz the parsers with hypothesis: server responses, streaming messages, SRT/VTT/RTTM/STM.

The contract: each parser either succeeds or raises a documented error —
`TranscriptFormatError` (a `ValueError`) for bad transcript text, `TypeError`/`ValueError`
for a response that is not a response, `ErrorEvent("invalid_message", ...)` (never an
exception) for a bad streaming frame. Anything else (AttributeError, KeyError, IndexError,
RecursionError, ...) is a bug.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fw_asr_widgets import Transcript
from fw_asr_widgets.api._stream_protocol import ErrorEvent, StreamProtocol
from fw_asr_widgets.transcript.formats import TranscriptFormatError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KEYS = [
    "text",
    "language",
    "duration",
    "segments",
    "words",
    "task",
    "source",
    "id",
    "start",
    "end",
    "word",
    "speaker_id",
    "speaker",
    "is_final",
    "probability",
    "avg_logprob",
]
word_like = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
segment_like = st.dictionaries(
    st.sampled_from(KEYS), json_values | st.lists(word_like, max_size=3), max_size=7
)
response_like = st.dictionaries(
    st.sampled_from(KEYS),
    json_values | st.lists(segment_like, max_size=3) | st.lists(word_like, max_size=3),
    max_size=7,
)


@SETTINGS
@given(response_like | st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_from_response_succeeds_or_raises_a_documented_error(d: dict[str, Any]) -> None:
    try:
        tr = Transcript.from_response(d)
    except (TypeError, ValueError):
        return
    assert isinstance(tr.text, str)
    for s in tr.segments:
        assert isinstance(s.id, str) and isinstance(s.text, str)
    assert all(isinstance(w.word, str) for w in tr.words)
    tr.to_dict()  # a transcript that was built can be written back out


@SETTINGS
@given(st.text(max_size=300) | json_values.map(json.dumps) | response_like.map(json.dumps))
def test_stream_receive_text_never_raises(text: str) -> None:
    p = StreamProtocol()
    events = p.receive_text(text, now=0.0)
    assert isinstance(events, list)
    for ev in events:
        if isinstance(ev, ErrorEvent):
            assert isinstance(ev.message, str)
    assert isinstance(p.transcript.text, str)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(response_like.map(json.dumps), min_size=1, max_size=4))
def test_stream_sequences_keep_a_valid_transcript(frames: list[str]) -> None:
    p = StreamProtocol()
    for i, f in enumerate(frames):
        p.receive_text(f, now=float(i))
    tr = p.transcript
    assert isinstance(tr.text, str)
    assert all(isinstance(s.id, str) for s in tr.segments)


def _timing() -> st.SearchStrategy[str]:
    t = st.from_regex(r"\d{1,2}:\d{2}:\d{2}[,.]\d{3}", fullmatch=True)
    return st.tuples(t, t).map(lambda p: f"{p[0]} --> {p[1]}")


text_lines = st.lists(
    st.text(max_size=40) | _timing() | st.sampled_from(["", "WEBVTT", "1", "NOTE x", "-->"]),
    max_size=12,
).map("\n".join)


@SETTINGS
@given(text_lines)
def test_subtitle_parsers_succeed_or_raise_format_errors(text: str) -> None:
    for parse in (Transcript.from_srt, Transcript.from_vtt):
        try:
            tr = parse(text)
        except TranscriptFormatError:
            continue
        assert all(isinstance(s.text, str) for s in tr.segments)


rttm_lines = st.lists(
    st.lists(st.text(alphabet="SPEAKERabc0123456789.<>NA-e ", max_size=8), max_size=11).map(
        " ".join
    )
    | st.text(max_size=60),
    max_size=8,
).map("\n".join)


@SETTINGS
@given(rttm_lines)
def test_rttm_and_stm_parsers_succeed_or_raise_format_errors(text: str) -> None:
    for parse in (Transcript.from_rttm, Transcript.from_stm):
        try:
            tr = parse(text)
        except TranscriptFormatError:
            continue
        assert all(isinstance(s.speaker, str | None) for s in tr.segments)


@SETTINGS
@given(st.text(max_size=200) | json_values.map(json.dumps) | response_like.map(json.dumps))
def test_from_json_succeeds_or_raises_a_format_error(text: str) -> None:
    try:
        tr = Transcript.from_json(text)
    except TranscriptFormatError:
        return
    assert isinstance(tr.text, str)


def test_documented_errors_for_wrong_shapes() -> None:
    for bad in (
        {"segments": "abc"},
        {"segments": [None]},
        {"words": 5},
        {"segments": [{"words": [1]}]},
    ):
        with pytest.raises(TypeError, match="must be"):
            Transcript.from_response(bad)
        with pytest.raises(TranscriptFormatError, match="not a transcript JSON"):
            Transcript.from_json(json.dumps(bad))
