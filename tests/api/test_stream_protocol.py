"""The sans-I/O streaming protocol: framing, merging, events, resume (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fw_asr_widgets.api._stream_protocol import (
    Checkpoint,
    ErrorEvent,
    SegmentFinal,
    SegmentUpdated,
    StreamProtocol,
    normalize_word,
)

RATE = 16_000


def W(word: str, start: float, end: float, final: bool = False) -> dict[str, Any]:
    return {"word": word, "start": start, "end": end, "probability": 0.9, "is_final": final}


def S(sid: str | int, words: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": sid,
        "text": " ".join(w["word"] for w in words),
        "start": words[0]["start"] if words else 0.0,
        "end": words[-1]["end"] if words else 0.0,
        "words": words,
    }
    d.update(kw)
    return d


def M(*segments: dict[str, Any], **kw: Any) -> str:
    return json.dumps(
        {"task": "transcribe", "language": "en", "text": "", "segments": list(segments), **kw}
    )


def pcm(seconds: float) -> bytes:
    n = int(round(seconds * RATE))
    return bytes((i * 7) % 256 for i in range(2 * n))


def written(p: StreamProtocol, seconds: float) -> bytes:
    """Send `seconds` of audio and report every frame written; return the audio."""
    data = pcm(seconds)
    for f in p.send_audio(data):
        p.mark_written(f)
    return data


# ----------------------------------------------------------------------------- framing
def test_send_audio_chunks_at_100ms_and_buffers_the_rest() -> None:
    """Full 100 ms chunks go out; a rest of 50 ms or more is a frame of its own, a shorter
    rest rides on the last chunk of the same call; a lone rest under 50 ms waits."""
    p = StreamProtocol()
    assert p.chunk_bytes == 3200 and p.min_bytes == 1600
    assert p.frames_for(1599) == 0
    assert p.send_audio(b"\x00" * 1000) == []
    assert p.frames_for(600) == 1
    frames = p.send_audio(b"\x01" * 9000)
    assert [len(f.data) for f in frames] == [3200, 3200, 3600]
    assert [f.end_sample for f in frames] == [1600, 3200, 5000]
    assert all(f.kind == "audio" for f in frames)
    assert frames[0].data == b"\x00" * 1000 + b"\x01" * 2200
    assert p.samples_sent == 5000
    assert p.send_audio(b"\x02" * 1400) == []  # 44 ms alone waits for more
    frames = p.send_audio(b"\x03" * 4000)
    assert [len(f.data) for f in frames] == [3200, 2200]
    assert p.samples_sent == 7700
    assert p.send_audio(b"\x04" * 400) == []
    tail = p.finish()
    assert [f.kind for f in tail] == ["audio", "trace"]
    assert len(tail[0].data) == 400
    msg = json.loads(tail[1].data)
    assert msg["object"] == "stt.input.trace" and msg["trace_id"] == "final"
    assert msg["event_id"]
    assert tail[1].end_sample == 7900
    assert p.finish() == []
    with pytest.raises(RuntimeError):
        p.send_audio(b"\x00\x00")


def test_finish_without_partial_chunk_sends_only_the_trace() -> None:
    p = StreamProtocol(chunk_ms=50)
    assert p.chunk_bytes == 1600
    assert len(p.send_audio(b"\x00" * 3200)) == 2
    assert [f.kind for f in p.finish()] == ["trace"]


def test_bad_audio_and_options_are_rejected() -> None:
    p = StreamProtocol()
    with pytest.raises(ValueError, match="even number"):
        p.send_audio(b"\x00" * 3)
    with pytest.raises(ValueError, match="chunk_ms"):
        StreamProtocol(chunk_ms=5000)
    with pytest.raises(ValueError, match="reserved"):
        p.trace("final")


def test_trace_and_clear_frames() -> None:
    p = StreamProtocol()
    written(p, 0.23)  # two whole chunks; the 30 ms rest rides on the second
    p.send_audio(pcm(0.02))  # 20 ms alone stays buffered
    f = p.trace("t1")
    assert json.loads(f.data) == {
        "event_id": json.loads(f.data)["event_id"],
        "object": "stt.input.trace",
        "trace_id": "t1",
    }
    assert f.end_sample == 3680  # after the frames sent; the buffered 20 ms is not flushed
    assert p.pending_traces == {"t1": 3680}
    c = json.loads(p.clear("r1").data)
    assert c["object"] == "stt.state.clear" and c["reset_id"] == "r1"
    auto = p.trace()
    assert auto.trace_id and auto.trace_id != "t1"


# ----------------------------------------------------------------------------- merging
def test_listed_segments_replace_unlisted_keep_numeric_id_order() -> None:
    p = StreamProtocol()
    ev = p.receive_text(M(S("0", [W("hello", 0, 0.5)]), S("10", [W("ten", 20, 21)])))
    assert [type(e) for e in ev] == [SegmentUpdated, SegmentUpdated]
    p.receive_text(M(S("9", [W("nine", 18, 19)])))
    p.receive_text(M(S("0", [W("hello", 0, 0.5, True), W("world", 0.6, 1.0, True)])))
    tr = p.transcript
    assert [s.id for s in tr.segments] == ["0", "9", "10"]
    assert tr.text == "hello world nine ten"
    assert [w.word for w in tr.words] == ["hello", "world", "nine", "ten"]
    assert tr.language == "en"
    assert p.is_final("0") and not p.is_final("9")


def test_events_updated_then_final_once_and_duplicates_are_silent() -> None:
    p = StreamProtocol()
    m1 = M(S("0", [W("ask", 0, 0.4, True), W("not", 0.5, 0.8)]))
    ev = p.receive_text(m1)
    assert [type(e) for e in ev] == [SegmentUpdated]
    assert p.receive_text(m1) == []  # duplicate: nothing changed
    m2 = M(S("0", [W("ask", 0, 0.4, True), W("not", 0.5, 0.8, True)]))
    ev = p.receive_text(m2)
    assert [type(e) for e in ev] == [SegmentUpdated, SegmentFinal]
    assert ev[1].segment.text == "ask not"
    assert p.receive_text(m2) == []


def test_trace_echo_is_a_checkpoint_after_the_segments() -> None:
    p = StreamProtocol()
    p.trace("t1")
    ev = p.receive_text(M(S("0", [W("a", 0, 1)]), trace_id="t1"))
    assert [type(e) for e in ev] == [SegmentUpdated, Checkpoint]
    assert ev[1] == Checkpoint("t1")
    assert p.pending_traces == {}
    assert not p.finished
    p.finish()
    ev = p.receive_text(M(trace_id="final"))
    assert ev == [Checkpoint("final")]
    assert p.finished


def test_withdrawn_segment_disappears_from_the_transcript() -> None:
    p = StreamProtocol()
    p.receive_text(M(S("0", [W("one", 0, 1, True)]), S("1", [W("uh", 1.2, 1.4)])))
    ev = p.receive_text(M(S("1", [], text="")))
    assert len(ev) == 1 and isinstance(ev[0], SegmentUpdated)
    assert ev[0].segment.text == "" and ev[0].segment.words == ()
    assert [s.id for s in p.transcript.segments] == ["0"]
    assert p.transcript.text == "one"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("not json", "invalid_message"),
        ("[1, 2]", "invalid_message"),
        ('{"segments": 3}', "invalid_message"),
        ('{"segments": [1]}', "invalid_message"),
        (
            '{"error": {"object": "error", "type": "invalid_request_error", "message": "bad"}}',
            "invalid_request_error",
        ),
    ],
)
def test_errors_and_malformed_messages_become_error_events(text: str, kind: str) -> None:
    ev = StreamProtocol().receive_text(text)
    assert len(ev) == 1 and isinstance(ev[0], ErrorEvent)
    assert ev[0].type == kind


def test_segment_without_words_is_final_only_when_marked() -> None:
    p = StreamProtocol()
    p.receive_text(M({"id": "0", "text": "hi", "start": 0, "end": 1}))
    assert not p.is_final("0")
    ev = p.receive_text(M({"id": "0", "text": "hi", "start": 0, "end": 1, "is_final": True}))
    assert [type(e) for e in ev] == [SegmentUpdated, SegmentFinal]


# ----------------------------------------------------------------------------- resume
def test_reconnect_plan_resends_audio_after_the_last_final_word() -> None:
    p = StreamProtocol()
    audio = written(p, 5.0)
    p.receive_text(
        M(
            S("0", [W("and", 0.1, 0.5, True), W("so", 0.6, 1.0, True)]),
            S("1", [W("my", 2.0, 2.5, True), W("fellow", 2.6, 3.0, True), W("am", 3.2, 3.5)]),
        )
    )
    plan = p.reconnect_plan()
    assert plan.start_sample == 3 * RATE
    assert plan.offset == pytest.approx(3.0)
    assert plan.audio == audio[2 * 3 * RATE :]
    frames = p.begin_reconnect()
    assert b"".join(f.data for f in frames if f.kind == "audio") == plan.audio
    assert frames[-1].end_sample == 5 * RATE
    assert p.generation == 1
    # kept: segment 0 and the final prefix of segment 1
    assert p.transcript.text == "and so my fellow"
    assert p.is_final("1")
    # the new session starts at t=0 = 3.0 s of the stream, ids restart at "0"
    p.receive_text(M(S("0", [W("americans", 0.1, 0.9, True)])))
    tr = p.transcript
    assert [s.id for s in tr.segments] == ["0", "1", "1:0"]
    assert tr.segments[-1].start == pytest.approx(3.1)
    assert tr.words[-1].end == pytest.approx(3.9)
    assert tr.text == "and so my fellow americans"


def test_reconnect_with_nothing_final_resends_everything_and_pending_traces() -> None:
    p = StreamProtocol()
    audio = written(p, 1.0)
    t = p.trace("t1")
    p.mark_written(t)
    written(p, 0.5)
    p.receive_text(M(S("0", [W("partial", 0.2, 0.6)])))
    frames = p.begin_reconnect()
    assert frames[0].kind == "audio" and frames[0].end_sample == 1600
    kinds = [f.kind for f in frames]
    i = kinds.index("trace")
    assert frames[i].trace_id == "t1" and frames[i - 1].end_sample == RATE
    assert len(b"".join(f.data for f in frames if f.kind == "audio")) == 3 * RATE
    assert b"".join(f.data for f in frames if f.kind == "audio")[: len(audio)] == audio
    assert p.transcript.text == ""


def test_unwritten_audio_is_not_in_the_plan() -> None:
    p = StreamProtocol()
    frames = p.send_audio(pcm(1.0))
    for f in frames[:4]:
        p.mark_written(f)
    plan = p.reconnect_plan()
    assert plan.start_sample == 0 and len(plan.audio) == 4 * 3200


def test_history_is_trimmed_as_audio_becomes_final() -> None:
    p = StreamProtocol()
    written(p, 10.0)
    p.receive_text(M(S("0", [W("x", 0.0, 8.0, True)]), S("1", [W("y", 8.5, 9.0)])))
    assert p.reconnect_plan().start_sample == 8 * RATE
    assert len(p._hist) == 2 * 2 * RATE  # only the 2 s after the final word are kept


def test_seam_duplicate_is_dropped() -> None:
    p = StreamProtocol()
    written(p, 4.0)
    p.receive_text(
        M(S("0", [W("can", 1.0, 1.3, True), W("do", 1.4, 1.6, True), W("for", 1.7, 2.0, True)]))
    )
    p.begin_reconnect()  # resumes at 2.0 s
    # The word end was reported early: the new session hears "for" again.
    p.receive_text(M(S("0", [W("For", 0.0, 0.2), W("you", 0.3, 0.6)])))
    assert p.transcript.text == "can do for you"
    p.receive_text(M(S("0", [W("for", 0.0, 0.2, True), W("you.", 0.3, 0.6, True)])))
    assert p.transcript.text == "can do for you."
    assert normalize_word(" You.") == "you"


def test_two_reconnects_accumulate_offsets() -> None:
    p = StreamProtocol()
    written(p, 3.0)
    p.receive_text(M(S("0", [W("one", 0.5, 1.0, True)])))
    p.begin_reconnect()  # offset 1.0
    written(p, 2.0)
    p.receive_text(M(S("0", [W("two", 0.5, 1.0, True)])))  # 1.5-2.0
    p.begin_reconnect()  # offset 2.0
    p.receive_text(M(S("0", [W("three", 0.5, 1.0, True)])))  # 2.5-3.0
    tr = p.transcript
    assert tr.text == "one two three"
    assert [s.id for s in tr.segments] == ["0", "1:0", "2:0"]
    assert [w.start for w in tr.words] == pytest.approx([0.5, 1.5, 2.5])


# ----------------------------------------------------------------------------- properties
@st.composite
def revision_streams(draw: st.DrawFn) -> list[list[tuple[int, int, bool]]]:
    """Messages: each a list of (segment index, revision number, final)."""
    n = draw(st.integers(1, 6))
    msgs = draw(
        st.lists(
            st.lists(
                st.tuples(st.integers(0, n - 1), st.integers(0, 5), st.booleans()),
                min_size=0,
                max_size=4,
            ),
            min_size=1,
            max_size=25,
        )
    )
    return msgs


def _seg_for(idx: int, rev: int, final: bool) -> dict[str, Any]:
    base = idx * 10.0
    words = [W(f"s{idx}r{rev}w{k}", base + k, base + k + 0.5, final) for k in range(rev % 3 + 1)]
    return S(str(idx), words)


@settings(max_examples=200, deadline=None)
@given(revision_streams())
def test_state_is_last_message_per_id_in_time_order(
    msgs: list[list[tuple[int, int, bool]]],
) -> None:
    p = StreamProtocol()
    last: dict[int, dict[str, Any]] = {}
    finals = 0
    for m in msgs:
        segs = [_seg_for(*t) for t in m]
        ev = p.receive_text(M(*segs))
        finals += sum(isinstance(e, SegmentFinal) for e in ev)
        for t, s in zip(m, segs, strict=False):
            last[t[0]] = s
    expected = [last[i] for i in sorted(last)]
    tr = p.transcript
    assert [s.id for s in tr.segments] == [d["id"] for d in expected]
    assert [s.text for s in tr.segments] == [d["text"] for d in expected]
    assert [w.word for w in tr.words] == [w["word"] for d in expected for w in d["words"]]
    starts = [s.start for s in tr.segments]
    assert starts == sorted(starts)
    for d in expected:
        assert p.is_final(d["id"]) == all(w["is_final"] for w in d["words"])
    assert finals >= sum(all(w["is_final"] for w in d["words"]) for d in expected)


class _FakeServer:
    """A synthetic engine: hears true words whose middle lies in the audio it received,
    reports times with jitter, commits words `lag` s behind the audio, segments of `seg_len`."""

    def __init__(
        self,
        words: list[tuple[str, float, float]],
        offset: float,
        jitter: list[float],
        seg_len: int,
        lag: float,
    ) -> None:
        self.words, self.offset, self.jitter = words, offset, jitter
        self.seg_len, self.lag = seg_len, lag

    def message(self, received_until: float, final: bool = False) -> str:
        heard = [
            (i, w)
            for i, w in enumerate(self.words)
            if w[2] > self.offset + 0.05 and w[2] <= received_until
        ]
        segs = []
        for k in range(0, len(heard), self.seg_len):
            group = heard[k : k + self.seg_len]
            ws = [
                W(
                    text,
                    max(0.0, s - self.offset + self.jitter[i]),
                    max(0.0, e - self.offset + self.jitter[i]),
                    final or e <= received_until - self.lag,
                )
                for i, (text, s, e) in group
            ]
            segs.append(S(str(k // self.seg_len), ws))
        return M(*segs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(3, 25),
    durs=st.lists(st.floats(0.3, 0.8), min_size=25, max_size=25),
    gaps=st.lists(st.floats(0.1, 0.6), min_size=25, max_size=25),
    jitter=st.lists(st.floats(-0.1, 0.1), min_size=25, max_size=25),
    seg_len=st.integers(1, 5),
    lag=st.floats(0.0, 3.0),
    drops=st.lists(st.integers(1, 40), max_size=3),
)
def test_reconnects_lose_nothing_and_duplicate_nothing(
    n: int,
    durs: list[float],
    gaps: list[float],
    jitter: list[float],
    seg_len: int,
    lag: float,
    drops: list[int],
) -> None:
    t = 0.3
    words = []
    for i in range(n):
        words.append((f"w{i}", t, t + durs[i]))
        t += durs[i] + gaps[i]
    total = t + 0.5
    p = StreamProtocol()
    server = _FakeServer(words, 0.0, jitter, seg_len, lag)
    step = 0
    while p.samples_written < total * RATE:
        step += 1
        written(p, 0.5)
        p.receive_text(server.message(p.samples_written / RATE))
        if step in drops:
            p.begin_reconnect()
            server = _FakeServer(words, p.reconnect_plan().offset, jitter, seg_len, lag)  # new t=0
            # the re-sent audio reaches the new session
            p.receive_text(server.message(p.samples_written / RATE))
    p.finish()
    p.receive_text(server.message(p.samples_written / RATE, final=True))
    got = [w.word for w in p.transcript.words]
    assert got == [w[0] for w in words]
    assert all(s.id for s in p.transcript.segments)


# ----------------------------------------------------------------------------- documented shapes
def test_numeric_and_string_ids_are_one_id_in_numeric_order() -> None:
    p = StreamProtocol()
    p.receive_text(M({**S("x", [W("nine", 9, 9.5)]), "id": 9}, S("10", [W("ten", 10, 10.5)])))
    p.receive_text(M({**S("x", [W("two", 2, 2.5)]), "id": 2.0}))
    p.receive_text(M({**S("x", [W("NINE", 9, 9.5, True)]), "id": "9"}))  # replaces id 9
    tr = p.transcript
    assert [s.id for s in tr.segments] == ["2", "9", "10"]
    assert tr.text == "two NINE ten"
    assert p.is_final("9")
    ev = p.receive_text(M({**S("x", [W("t", 0, 1)]), "id": True}))
    assert len(ev) == 1 and isinstance(ev[0], ErrorEvent) and ev[0].type == "invalid_message"


def test_both_trace_echo_shapes_checkpoint_echoes_and_cleared() -> None:
    from fw_asr_widgets.api._stream_protocol import StateCleared

    p = StreamProtocol()
    p.trace("a")
    p.trace("b")
    assert p.receive_text(M(trace_id="a")) == [Checkpoint("a")]  # the older envelope
    echo = {"event_id": "e", "object": "stt.output.trace", "trace_id": "b"}
    assert p.receive_text(json.dumps(echo)) == [Checkpoint("b")]
    assert p.pending_traces == {}
    cleared = {"event_id": "e", "object": "stt.state.cleared", "reset_id": "r1"}
    assert p.receive_text(json.dumps(cleared)) == [StateCleared("r1")]
    frames = p.finish(checkpoint=True)
    assert [json.loads(f.data).get("checkpoint_id") for f in frames] == ["final", None]
    assert [f.kind for f in frames] == ["checkpoint", "trace"]
    assert p.pending_checkpoints == {"final": 0}
    ev = p.receive_text(M(S("0", [W("done", 0, 1, True)]), checkpoint_id="final"))
    assert [type(e) for e in ev] == [SegmentUpdated, SegmentFinal, Checkpoint]
    assert ev[-1] == Checkpoint("final", "checkpoint")
    assert p.checkpoint_finished and not p.finished and p.pending_checkpoints == {}
    assert p.receive_text(json.dumps({**echo, "trace_id": "final"})) == [Checkpoint("final")]
    assert p.finished


def test_a_refused_checkpoint_is_not_an_error_but_other_errors_are() -> None:
    refusal = '{"error": {"type": "invalid_request_error", "message": "unknown event object"}}'
    p = StreamProtocol()
    ev = p.receive_text(refusal)  # no checkpoint waiting: a real error
    assert len(ev) == 1 and isinstance(ev[0], ErrorEvent)
    p.finish(checkpoint=True)
    assert p.receive_text(refusal) == []
    assert p.refused_checkpoints == ["unknown event object"] and p.pending_checkpoints == {}
    ev = p.receive_text(refusal)  # only one per checkpoint
    assert len(ev) == 1 and isinstance(ev[0], ErrorEvent)
    q = StreamProtocol()
    q.finish(checkpoint=True)
    ev = q.receive_text('{"error": {"type": "server_error", "message": "boom"}}')
    assert ev == [ErrorEvent("server_error", "boom")] and q.pending_checkpoints == {"final": 0}


def test_reconnect_resends_written_markers_once_and_in_order() -> None:
    p = StreamProtocol()
    written(p, 1.0)
    frames = p.finish(checkpoint=True)
    p.mark_written(frames[0])  # the checkpoint reached the old socket, the trace did not
    again = p.begin_reconnect()
    kinds = [f.kind for f in again]
    assert kinds.count("checkpoint") == 1 and "trace" not in kinds  # the queue still has it
    assert kinds[-1] == "checkpoint" and again[-1].end_sample == RATE
    p.mark_written(again[-1])
    p.mark_written(frames[1])
    # next reconnect: both were written to the socket, both go again, checkpoint first
    kinds = [f.kind for f in p.begin_reconnect() if f.kind != "audio"]
    assert kinds == ["checkpoint", "trace"]


def test_session_times_restart_at_zero_and_get_the_connection_offset() -> None:
    p = StreamProtocol()
    written(p, 4.0)
    p.receive_text(M(S(0, [W("one", 0.5, 1.0, True)]), S(1, [W("two", 1.5, 2.0)])))
    p.begin_reconnect()  # resumes at 1.0 s: the new session's 0 is the stream's 1.0 s
    p.receive_text(M(S(0, [W("two", 0.5, 1.0, True), W("three", 2.0, 2.5, True)])))
    tr = p.transcript
    assert tr.text == "one two three"
    assert [t for w in tr.words for t in (w.start, w.end)] == pytest.approx(
        [0.5, 1.0, 1.5, 2.0, 3.0, 3.5]
    )
    assert [s.start for s in tr.segments] == pytest.approx([0.5, 1.5])
