"""TranscriptEdits: every operation, its undo and redo, valid word times, the edit log."""

from __future__ import annotations

from typing import Any

import pytest

from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.transcript._edit import EditError, TranscriptEdits


def _tr() -> Transcript:
    def seg(i: int, t0: float, spk: str, text: str) -> dict[str, Any]:
        toks = text.split()
        words = [
            dict(
                word=" " + w,
                start=t0 + k * 0.5,
                end=t0 + k * 0.5 + 0.4,
                speaker_id=spk,
                probability=0.9,
            )
            for k, w in enumerate(toks)
        ]
        return dict(
            id=i, start=t0, end=t0 + 0.5 * len(toks), text=text, speaker_id=spk, words=words
        )

    return Transcript.from_response(
        dict(
            text="",
            duration=20.0,
            segments=[
                seg(0, 0.0, "A", "hello there my friend"),
                seg(1, 3.0, "B", "how are you"),
                seg(2, 6.0, "A", "fine thanks"),
            ],
        ),
        source="x.wav",
    )


def _valid(tr: Transcript) -> None:
    """Word times ordered, start ≤ end, inside their segment; segments ordered; ids unique."""
    ids = [s.id for s in tr.segments]
    assert len(set(ids)) == len(ids)
    for s in tr.segments:
        assert s.start <= s.end
        assert s.text == " ".join(w.word.strip() for w in s.words)
        last = s.start
        for w in s.words:
            assert w.start is not None and w.end is not None
            assert last - 1e-9 <= w.start <= w.end <= s.end + 1e-9, (s, w)
            assert w.segment_id == s.id
            last = w.end
    assert [w.word for w in tr.words] == [w.word for s in tr.segments for w in s.words]


def _state(ed: TranscriptEdits) -> Any:
    return [(s.id, s.start, s.end, s.speaker, s.text, s.words) for s in ed.segments]


def _roundtrip(ed: TranscriptEdits, fn: Any) -> TranscriptEdits:
    """Apply `fn`, check validity, undo (back to before), redo (back to after)."""
    before = _state(ed)
    fn()
    after = _state(ed)
    assert after != before
    _valid(ed.transcript)
    ed.undo()
    assert _state(ed) == before
    ed.redo()
    assert _state(ed) == after
    _valid(ed.transcript)
    return ed


def test_edit_word_keeps_times_and_rebuilds_text() -> None:
    ed = TranscriptEdits(_tr())
    _roundtrip(ed, lambda: ed.edit_word(0, 1, " world "))
    s = ed.transcript.segments[0]
    assert s.text == "hello world my friend"
    assert (s.words[1].start, s.words[1].end) == (0.5, 0.9)
    assert ed.transcript.text.startswith("hello world my friend how are you")
    with pytest.raises(EditError, match="empty"):
        ed.edit_word(0, 1, "  ")
    with pytest.raises(EditError, match="no word 9"):
        ed.edit_word(0, 9, "x")


def test_insert_word_takes_the_gap_or_half_a_neighbour() -> None:
    ed = TranscriptEdits(_tr())
    _roundtrip(ed, lambda: ed.insert_word(0, 1, "big"))
    w = ed.segments[0].words
    assert [x.word.strip() for x in w[:3]] == ["hello", "big", "there"]
    assert (w[1].start, w[1].end) == (0.4, 0.5)  # the 0.1 s gap between its neighbours
    # at the end of a segment: the gap up to the segment end
    ed.insert_word(1, 3, "today")
    w = ed.segments[1].words
    assert w[-1].word.strip() == "today" and (w[-1].start, w[-1].end) == (4.4, 4.5)
    # no gap left: half of the previous word
    ed.insert_word(1, 4, "again")
    w = ed.segments[1].words
    assert (w[-2].end, w[-1].start, w[-1].end) == (4.45, 4.45, 4.5)
    # at the start, no gap: half the first word
    ed.insert_word(2, 0, "oh")
    w = ed.segments[2].words
    assert w[0].start == 6.0 and w[0].end == w[1].start == pytest.approx(6.2)
    _valid(ed.transcript)
    assert ed.segments[0].words[1].speaker == "A"


def test_delete_word() -> None:
    ed = TranscriptEdits(_tr())
    _roundtrip(ed, lambda: ed.delete_word(1, 0))
    assert ed.segments[1].text == "are you"
    assert ed.segments[1].start == 3.0  # the segment keeps its times


def test_split_keeps_times() -> None:
    ed = TranscriptEdits(_tr())
    _roundtrip(ed, lambda: ed.split(0, 2))
    a, b = ed.segments[0], ed.segments[1]
    assert (a.text, b.text) == ("hello there", "my friend")
    assert (a.start, a.end, b.start, b.end) == (0.0, 0.9, 1.0, 2.0)
    assert a.id == "0" and b.id == "0.1" and b.speaker == "A"
    assert len(ed.segments) == 4
    with pytest.raises(EditError, match="between words"):
        ed.split(0, 0)
    ed.split(1, 1)
    assert ed.segments[2].id == "0.1.1"  # ids stay unique


def test_merge() -> None:
    ed = TranscriptEdits(_tr())
    _roundtrip(ed, lambda: ed.merge(0))
    m = ed.segments[0]
    assert m.text == "hello there my friend how are you"
    assert (m.start, m.end, m.speaker) == (0.0, 4.5, "A")
    assert {w.speaker for w in m.words} == {"A"}
    assert len(ed.segments) == 2
    with pytest.raises(EditError, match="last"):
        ed.merge(1)


def test_set_speaker_of_segment_and_of_a_run() -> None:
    ed = TranscriptEdits(_tr())
    _roundtrip(ed, lambda: ed.set_speaker(1, "A"))
    assert ed.segments[1].speaker == "A" and {w.speaker for w in ed.segments[1].words} == {"A"}
    ed = TranscriptEdits(_tr())
    _roundtrip(ed, lambda: ed.set_speaker(0, "C", 1, 3))  # a new speaker for "there my"
    segs = ed.segments
    assert [(s.speaker, s.text) for s in segs[:3]] == [
        ("A", "hello"),
        ("C", "there my"),
        ("A", "friend"),
    ]
    assert segs[0].end == 0.4 and segs[1].start == 0.5 and segs[1].end == 1.4
    assert segs[2].start == 1.5
    assert "C" in ed.transcript.speakers
    ed2 = TranscriptEdits(_tr())
    ed2.set_speaker(0, "B", 0, 2)  # a run at the start: two segments
    assert [(s.speaker, s.text) for s in ed2.segments[:2]] == [
        ("B", "hello there"),
        ("A", "my friend"),
    ]
    _valid(ed2.transcript)


def test_rename_speaker_is_undoable_and_applied_to_the_transcript() -> None:
    ed = TranscriptEdits(_tr())
    ed.rename_speaker("A", "Diane")
    assert ed.transcript.speakers == ["Diane", "B"]
    assert ed.transcript.segments[0].words[0].speaker == "Diane"
    ed.undo()
    assert ed.names == {} and ed.transcript.speakers == ["A", "B"]
    ed.redo()
    assert ed.names == {"A": "Diane"}


def test_set_text_spreads_words_and_top_level_words_are_assigned() -> None:
    tr = Transcript.from_response(
        dict(
            text="a b",
            segments=[
                dict(id=0, start=0.0, end=2.0, text="a b"),
                dict(id=1, start=2.0, end=3.0, text="c"),
            ],
            words=[dict(word="a", start=0.1, end=0.5), dict(word="b", start=0.6, end=1.0)],
        )
    )
    ed = TranscriptEdits(tr)
    assert [w.word for w in ed.segments[0].words] == ["a", "b"]
    ed.set_text(1, "see you later")
    w = ed.segments[1].words
    assert [x.word.strip() for x in w] == ["see", "you", "later"]
    assert w[0].start == 2.0 and w[-1].end == 3.0
    _valid(ed.transcript)


def test_undo_redo_sequence_and_log() -> None:
    tr = _tr()
    ed = TranscriptEdits(tr)
    ops = [
        {"op": "edit_word", "segment": 0, "word": 0, "text": "Hi"},
        {"op": "split", "segment": 0, "word": 2},
        {"op": "merge", "segment": 1},
        {"op": "delete_word", "segment": 0, "word": 1},
        {"op": "set_speaker", "segment": 2, "speaker": "B"},
    ]
    states = [_state(ed)]
    for op in ops:
        ed.apply(op)
        states.append(_state(ed))
        _valid(ed.transcript)
    for k in range(len(ops), 0, -1):
        ed.apply({"op": "undo"})
        assert _state(ed) == states[k - 1]
    assert [s.text for s in ed.transcript.segments] == [s.text for s in tr.segments]
    with pytest.raises(EditError, match="nothing to undo"):
        ed.undo()
    for k in range(len(ops)):
        ed.apply({"op": "redo"})
        assert _state(ed) == states[k + 1]
    ed.undo()
    ed.edit_word(0, 0, "Hey")  # a new edit clears the redo stack
    assert not ed.can_redo
    log = ed.log_frame()
    assert list(log.columns) == ["time", "operation", "segment", "word", "start", "before", "after"]
    assert len(log) == 5 + 5 + 5 + 1 + 1
    first = log.iloc[0]
    assert (first.operation, first.segment, first.word, first.before, first.after) == (
        "edit_word",
        0,
        0,
        "hello",
        "Hi",
    )
    assert log.operation.iloc[5] == "undo set_speaker"
    assert log.operation.iloc[10] == "redo edit_word"
    with pytest.raises(EditError, match="unknown"):
        ed.apply({"op": "explode"})
    with pytest.raises(EditError, match="integer"):
        ed.apply({"op": "merge", "segment": "0"})


def test_corrected_transcript_keeps_metadata() -> None:
    ed = TranscriptEdits(_tr())
    ed.edit_word(2, 1, "thank-you")
    out = ed.transcript
    assert (out.source, out.duration) == ("x.wav", 20.0)
    assert out.to_srt().count("-->") == 3
