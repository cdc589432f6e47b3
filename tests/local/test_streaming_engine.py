"""Local agreement (pure, synthetic hypotheses) and the streaming engine on real speech."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fw_asr_widgets.local._agreement import HypWord, LocalAgreement, normalize
from tests.conftest import JFK_REFERENCE


def W(word: str, start: float, end: float | None = None, seg_end: bool = False) -> HypWord:
    return HypWord(word, start, start + 0.4 if end is None else end, 0.9, seg_end)


def texts(words: Any) -> list[str]:
    return [w.word for w in words]


def merge(state: dict[int, dict[str, Any]], msg: dict[str, Any]) -> None:
    """The published rule: each listed segment replaces the entry with its id."""
    for seg in msg["segments"]:
        state[seg["id"]] = seg


def merge_livekit(state: dict[int, dict[str, Any]], msg: dict[str, Any]) -> None:
    """LiveKit's rule: replace by id, then drop local ids above the message's highest id."""
    if not msg["segments"]:
        return
    top = max(seg["id"] for seg in msg["segments"])
    for seg in msg["segments"]:
        state[seg["id"]] = seg
    for k in [k for k in state if k > top]:
        del state[k]


# -- unit tests ---------------------------------------------------------------------------


def test_normalize() -> None:
    assert normalize(" You,") == "you"
    assert normalize("don't.") == "don't"
    assert normalize("...") == "..."


def test_commits_common_prefix_of_two_hypotheses() -> None:
    la = LocalAgreement()
    assert la.insert([W("and", 0.0), W("so", 0.5)]) == []
    assert texts(la.pending) == ["and", "so"]
    committed = la.insert([W("And", 0.0), W("so,", 0.5), W("my", 1.0)])
    assert texts(committed) == ["And", "so,"]  # the newer spelling is committed
    assert texts(la.pending) == ["my"]
    assert la.last_committed_end == pytest.approx(0.9)


def test_disagreement_commits_nothing() -> None:
    la = LocalAgreement()
    la.insert([W("ask", 0.0), W("knot", 0.5)])
    assert texts(la.insert([W("ask", 0.0), W("not", 0.5)])) == ["ask"]
    assert texts(la.insert([W("ask", 0.0), W("not", 0.5), W("what", 1.0)])) == ["not"]


def test_words_over_committed_audio_are_dropped() -> None:
    la = LocalAgreement()
    la.insert([W("one", 0.0), W("two", 0.5)])
    la.insert([W("one", 0.0), W("two", 0.5), W("three", 1.0)])
    # The buffer still holds the committed audio: its words are ignored.
    committed = la.insert([W("one", 0.02), W("two", 0.48), W("three", 1.0), W("four", 1.5)])
    assert texts(committed) == ["three"]
    assert texts(la.committed) == ["one", "two", "three"]


def test_word_whose_start_moved_before_the_committed_end_is_kept() -> None:
    la = LocalAgreement()
    la.insert([W("ask", 2.3, 3.86), W("not", 3.86, 4.68)])
    la.insert([W("ask", 2.3, 3.86), W("not", 3.86, 4.68), W("what", 4.68, 5.68)])
    assert texts(la.committed) == ["ask", "not"]
    # The next decode moves "not" earlier and "what" starts before the committed end.
    la.insert([W("not", 3.86, 4.56), W("what", 4.56, 5.7), W("your", 5.7, 6.0)])
    assert texts(la.committed) == ["ask", "not", "what"]


def test_repeat_of_committed_tail_is_removed() -> None:
    la = LocalAgreement()
    la.insert([W("ask", 0.0), W("not", 0.5)])
    la.insert([W("ask", 0.0), W("not", 0.5), W("what", 1.0)])
    # Timestamps drifted late: "ask not" re-appears after the committed end.
    la.insert([W("ask", 0.95), W("not,", 1.2), W("what", 1.5), W("your", 1.9)])
    assert texts(la.committed) == ["ask", "not", "what"]
    assert texts(la.pending) == ["your"]
    la.insert([W("your", 1.9)])
    assert texts(la.committed) == ["ask", "not", "what", "your"]


def test_final_commits_everything_and_closes() -> None:
    la = LocalAgreement()
    la.insert([W("one", 0.0)])
    la.insert([W("one", 0.0), W("two", 0.5)], final=True)
    assert texts(la.committed) == ["one", "two"]
    assert la.pending == ()
    msg = la.message(full=True)
    assert msg is not None
    assert [w["is_final"] for w in msg["words"]] == [True, True]
    assert msg["text"] == "one two"


def test_segments_close_at_finished_segment_end() -> None:
    la = LocalAgreement()
    h = [W("Hello.", 0.0, seg_end=True), W("How", 1.0), W("are", 1.5)]
    la.insert(h)
    m1 = la.message()
    assert m1 is not None
    assert [s["id"] for s in m1["segments"]] == [0]
    assert all(not w["is_final"] for w in m1["words"])
    la.insert(h)
    m2 = la.message()
    assert m2 is not None
    # Segment 0 closes with its word final; segment 1 is open with committed + no partial.
    assert [s["id"] for s in m2["segments"]] == [0, 1]
    assert m2["segments"][0]["words"][0]["is_final"] is True
    assert m2["segments"][0]["text"] == "Hello."
    # Nothing partial is left (a pause): segment 1 closes too.
    assert m2["segments"][1]["text"] == "How are"
    assert all(w["is_final"] for w in m2["segments"][1]["words"])
    assert la.open_id == 2
    assert la.last_closed_end == pytest.approx(1.9)
    assert la.message() is None  # nothing changed
    assert m2["text"] == "Hello. How are"


def test_open_segment_keeps_committed_words_while_partial_follow() -> None:
    la = LocalAgreement()
    la.insert([W("How", 0.0), W("are", 0.5)])
    la.insert([W("How", 0.0), W("are", 0.5), W("you", 1.0)])
    m = la.message()
    assert m is not None
    assert [(w["word"], w["is_final"]) for w in m["words"]] == [
        ("How", True),
        ("are", True),
        ("you", False),
    ]
    assert la.open_id == 0


def test_withdrawn_partial_words_empty_the_open_segment() -> None:
    la = LocalAgreement()
    la.insert([W("Thank", 0.0), W("you.", 0.5)])
    assert la.message() is not None
    la.insert([])
    m = la.message()
    assert m is not None
    assert m["segments"] == [{"id": 0, "text": "", "start": 0.0, "end": 0.0, "words": []}]
    assert la.message() is None


def test_clear_starts_a_new_context_and_segment() -> None:
    la = LocalAgreement()
    la.insert([W("one", 0.0)])
    la.clear()
    la.insert([W("one", 1.0)])  # not de-duplicated against the previous context
    la.insert([W("one", 1.0)], final=True)
    assert texts(la.committed) == ["one", "one"]
    assert [s.id for s in la.segments] == [0, 1]
    assert "one" not in la.context_text(10.0).split()[1:]


def test_closed_segments_come_in_a_message_of_their_own() -> None:
    """The newest segment of the first message ends with an is_final word (LiveKit's final)."""
    la = LocalAgreement()
    h = [W("Hello.", 0.0, seg_end=True), W("How", 1.0), W("are", 1.5)]
    la.insert(h)
    la.message()
    la.insert([*h, W("you", 2.0)])
    first, second = la.messages()
    assert [s["id"] for s in first["segments"]] == [0]
    assert first["segments"][-1]["words"][-1]["is_final"] is True
    assert [s["id"] for s in second["segments"]] == [1]
    assert second["segments"][0]["words"][-1]["is_final"] is False
    assert la.messages() == []


def test_times_and_word_fields_follow_the_session_options() -> None:
    la = LocalAgreement(language="en", word_times=False, segment_times=False)
    la.insert([HypWord("Hi", 0.5, 0.9, 0.8, hallucination_score=0.25)])
    msg = la.message()
    assert msg is not None
    assert msg["segments"] == [
        {
            "id": 0,
            "text": "Hi",
            "words": [
                {
                    "word": "Hi",
                    "probability": 0.8,
                    "is_final": False,
                    "language": "en",
                    "hallucination_score": 0.25,
                }
            ],
        }
    ]
    la.word_times = True
    la.insert([HypWord("Hi", 0.5, 0.9, 0.8)], final=True)
    word = la.message(full=True)["segments"][0]["words"][0]  # type: ignore[index]
    assert (word["start"], word["end"], word["is_final"]) == (0.5, 0.9, True)


def test_text_frames_parse_into_documented_events() -> None:
    import json

    from fw_asr_widgets.local.streaming import _parse_text

    def parse(obj: object) -> tuple[str, object]:
        return _parse_text(json.dumps(obj))

    assert parse({"checkpoint_id": "final"}) == ("checkpoint", "final")
    assert parse({"checkpoint_id": 3}) == ("checkpoint", 3)
    trace = {"event_id": "e", "object": "stt.input.trace", "trace_id": "t"}
    assert parse(trace) == ("trace", ("e", "t"))
    clear = {"event_id": "c", "object": "stt.state.clear", "reset_id": "r"}
    assert parse(clear) == ("clear", ("c", "r"))
    for bad in (None, True, "", [1]):
        assert parse({"checkpoint_id": bad})[0] == "error"
    assert parse({"object": "stt.input.trace"})[0] == "error"
    assert parse({"object": "nope"})[0] == "error"


# -- property tests -----------------------------------------------------------------------


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[HypWord], list[list[HypWord]]]:
    """Ground-truth words and a sequence of noisy decode hypotheses over a growing buffer."""
    n = draw(st.integers(1, 30))
    truth: list[HypWord] = []
    t = draw(st.floats(0.0, 2.0))
    for i in range(n):
        gap = draw(st.floats(0.05, 1.5))
        dur = draw(st.floats(0.1, 0.6))
        t += gap
        truth.append(HypWord(f"w{i}", t, t + dur, 0.9, draw(st.booleans()) and i < n - 1))
        t += dur
    total = t + 0.5
    steps: list[list[HypWord]] = []
    audio_end = 0.0
    step_no = 0
    while audio_end < total:
        audio_end += draw(st.floats(0.3, 2.0))
        step_no += 1
        heard = [w for w in truth if w.end <= audio_end]
        # Noise: the tail is dropped, or replaced by words no other hypothesis contains.
        last = audio_end >= total  # the final pass hears everything right
        k = 0 if last else draw(st.integers(0, min(3, len(heard))))
        noisy = heard[: len(heard) - k]
        if k and draw(st.booleans()):
            noisy += [
                HypWord(f"x{step_no}_{j}", w.start, w.end, 0.5) for j, w in enumerate(heard[-k:])
            ]
        # Jitter within the timing tolerance.
        jit = draw(st.floats(-0.04, 0.04))
        noisy = [HypWord(w.word, w.start + jit, w.end + jit, 0.9, w.segment_end) for w in noisy]
        steps.append(noisy)
    return truth, steps


@settings(max_examples=200, deadline=None)
@given(streams())
def test_agreement_properties(data: tuple[list[HypWord], list[list[HypWord]]]) -> None:
    truth, steps = data
    la = LocalAgreement()
    client: dict[int, dict[str, Any]] = {}
    livekit: dict[int, dict[str, Any]] = {}
    closed_sent: set[int] = set()
    before: tuple[HypWord, ...] = ()
    for i, hyp in enumerate(steps):
        la.insert(hyp, final=i == len(steps) - 1)
        now = la.committed
        # Committed words never change and grow only by appending.
        assert now[: len(before)] == before
        before = now
        # Never a wrong word, never a word twice: committed is a prefix of the truth.
        assert texts(now) == texts(truth[: len(now)])
        for msg in la.messages():
            _check_message(msg, closed_sent, la.open_id)
            merge(client, msg)
            merge_livekit(livekit, msg)
            assert {k: v for k, v in livekit.items() if v["words"]} == {
                k: v for k, v in client.items() if v["words"]
            }
    # The final pass commits everything heard: exactly the truth.
    assert texts(la.committed) == texts(truth)
    full = la.message(full=True)
    assert full is not None
    assert all(w["is_final"] for w in full["words"])
    assert [s["id"] for s in full["segments"]] == list(range(len(full["segments"])))
    assert [w["word"] for w in full["words"]] == texts(truth)
    # Merged client state (under both rules) equals the final state message.
    assert [client[k] for k in sorted(client) if client[k]["words"]] == full["segments"]
    merge_livekit(livekit, full)
    assert [livekit[k] for k in sorted(livekit) if livekit[k]["words"]] == full["segments"]


def _check_message(msg: dict[str, Any], closed_sent: set[int], open_id: int) -> None:
    segs = msg["segments"]
    assert segs and all(isinstance(s["id"], int) for s in segs)
    assert [s["id"] for s in segs] == sorted(s["id"] for s in segs)
    # The highest id sent so far is in every message (LiveKit drops local ids above it).
    assert segs[-1]["id"] >= max(closed_sent, default=-1)
    # Segments that just closed come in a message of their own: the newest one then ends with
    # an is_final word (LiveKit's final transcript); the open segment comes last otherwise.
    for seg in segs[:-1]:
        assert seg["words"] and all(w["is_final"] for w in seg["words"])
    for seg in segs:
        # A segment with words, all final, is final: it must have closed and never be listed
        # again; any other listed segment is the open one.
        assert seg["id"] not in closed_sent
        assert {"word", "start", "end", "probability", "is_final", "language"} <= {
            k for w in seg["words"] for k in w
        } or not seg["words"]
        if seg["words"] and all(w["is_final"] for w in seg["words"]):
            assert seg["id"] != open_id
            closed_sent.add(seg["id"])
        else:
            assert seg["id"] == open_id


# -- the engine on real speech ------------------------------------------------------------


def _norm(text: str) -> str:
    return jiwer.RemovePunctuation()(jiwer.ToLowerCase()(text)).strip()


@pytest.fixture(scope="module")
def model() -> Any:
    from fw_asr_widgets.local import models

    return models.load()


def test_odd_byte_chunks_are_reassembled(model: Any, data_dir: Path) -> None:
    from fw_asr_widgets.audio import decode, float_to_pcm16
    from fw_asr_widgets.local.streaming import StreamEngine

    pcm = float_to_pcm16(decode(data_dir / "jfk.wav"))[:32001]
    eng = StreamEngine(model)
    for i in range(0, len(pcm), 333):  # odd-sized frames
        eng.add_audio(pcm[i : i + 333])
    assert eng.received_samples == 16000
    snap = eng.snapshot()
    expected = np.frombuffer(pcm[:32000], dtype="<i2").astype(np.float32) / 32768.0
    np.testing.assert_array_equal(snap.audio, expected)
    eng.add_audio(b"\x00")  # completes the pending half sample
    assert eng.received_samples == 16001


def test_engine_streams_jfk_twice_with_trimming(model: Any, data_dir: Path) -> None:
    """22 s in 3 s steps: the buffer is trimmed at segment ends and no word is lost or doubled."""
    from fw_asr_widgets.audio import decode, float_to_pcm16
    from fw_asr_widgets.local.streaming import StreamEngine

    audio = decode(data_dir / "jfk.wav")
    pcm = float_to_pcm16(np.concatenate([audio, audio]))
    eng = StreamEngine(model)
    step = 96000  # 3 s
    for i in range(0, len(pcm), step):
        eng.add_audio(pcm[i : i + step])
        eng.step()
        assert eng.buffer_seconds <= 26.0
    eng.finalize()
    assert eng.trims >= 1
    hyp = " ".join(w.word for w in eng.agreement.committed)
    ref = f"{JFK_REFERENCE} {JFK_REFERENCE}"
    error = jiwer.wer(_norm(ref), _norm(hyp))
    print(f"engine WER (jfk x2, 3 s steps): {error:.3f}; {hyp}")
    assert error <= 0.2
    full = eng.agreement.message(full=True)
    assert full is not None
    assert all(w["is_final"] for w in full["words"])
    starts = [w["start"] for w in full["words"]]
    assert starts == sorted(starts)


def test_engine_stays_bounded_and_silent_on_noise(model: Any) -> None:
    """40 s of faint noise: no words, and the buffer is trimmed although nothing is committed."""
    from fw_asr_widgets.audio import float_to_pcm16
    from fw_asr_widgets.local.streaming import FORCE_TRIM_SECONDS, StreamEngine

    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000 * 40) * 0.003).astype(np.float32)
    pcm = float_to_pcm16(noise)
    eng = StreamEngine(model)
    for i in range(0, len(pcm), 64000):
        eng.add_audio(pcm[i : i + 64000])
        eng.step()
        assert eng.buffer_seconds <= FORCE_TRIM_SECONDS + 2.0
    eng.finalize()
    assert eng.trims >= 1
    assert [w.word for w in eng.agreement.committed] == []


@settings(max_examples=150, deadline=None)
@given(streams(), st.data())
def test_agreement_drops_repeats_of_the_committed_tail(
    data: tuple[list[HypWord], list[list[HypWord]]], draw: st.DataObject
) -> None:
    """Decodes that re-transcribe the last committed words with late times commit nothing twice."""
    truth, steps = data
    la = LocalAgreement()
    for i, hyp in enumerate(steps):
        final = i == len(steps) - 1
        done = la.committed
        if done and not final and draw.draw(st.booleans()):
            n = draw.draw(st.integers(1, min(3, len(done))))
            shift = la.last_committed_end + draw.draw(st.floats(0.0, 0.5)) - done[-n].start
            again = [HypWord(w.word, w.start + shift, w.end + shift) for w in done[-n:]]
            hyp = again + [w for w in hyp if w.start > la.last_committed_end]
        la.insert(hyp, final=final)
        assert texts(la.committed) == texts(truth[: len(la.committed)])
    assert texts(la.committed) == texts(truth)
