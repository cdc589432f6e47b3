"""TranscriptViewer(editable=True) without a browser: edit messages, patches of only the
changed rows, undo/redo (renames included), the edit log, reload, and correcting the bundled
two-speaker call against its STM through the editor's kernel API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.transcript._edit import EditError
from fw_asr_widgets.widgets.viewer import TranscriptViewer
from tests.widgets._corrections import speaker_ops, word_ops
from tests.widgets.test_viewer import Wire, stm_transcript, synthetic


def _ready(v: TranscriptViewer) -> Wire:
    wire = Wire(v)
    v._on_msg(v, {"type": "ready"}, [])
    return wire


def test_editable_rows_go_by_message_and_edits_send_only_changed_rows(data_dir: Path) -> None:
    v = TranscriptViewer(stm_transcript(data_dir), editable=True)
    assert v.segments_by_message and v.segments == [] and v.n_segments == 13
    wire = _ready(v)
    assert len(wire.of("segments")[-1][0]["rows"]) == 13
    words = wire.of("words")[-1][0]
    assert words["k"][:3] == [0, 0, 0] and words["p"][0] == -1
    v._on_msg(
        v,
        {
            "type": "edit",
            "seq": 1,
            "op": {"op": "edit_word", "segment": 5, "word": 0, "text": "Alright,"},
        },
        [],
    )
    patch = wire.of("patch")[-1][0]
    assert (patch["seq"], patch["index"], patch["removed"], len(patch["rows"])) == (1, 5, 1, 1)
    assert patch["rows"][0][3].startswith("Alright, then")
    assert patch["words"][0]["text"][0] == " Alright,"
    assert v.can_undo and not v.can_redo and v.n_edits == 1
    v._on_msg(v, {"type": "edit", "seq": 2, "op": {"op": "split", "segment": 5, "word": 2}}, [])
    patch = wire.of("patch")[-1][0]
    assert (patch["index"], patch["removed"], len(patch["rows"])) == (5, 1, 2)
    assert v.n_segments == 14
    # a page reload asks again: it gets the edited rows
    wire2 = _ready(v)
    rows = wire2.of("segments")[-1][0]["rows"]
    assert len(rows) == 14 and rows[5][3] == "Alright, then" and rows[6][3].startswith("I thought")
    # bad edits answer with an error and change nothing
    v._on_msg(v, {"type": "edit", "seq": 3, "op": {"op": "merge", "segment": 99}}, [])
    assert "no segment 99" in wire2.of("edit_error")[-1][0]["message"]
    assert v.n_segments == 14 and v.n_edits == 2


def test_read_only_viewer_refuses_edits(data_dir: Path) -> None:
    v = TranscriptViewer(stm_transcript(data_dir))
    wire = _ready(v)
    v._on_msg(
        v, {"type": "edit", "seq": 1, "op": {"op": "delete_word", "segment": 0, "word": 0}}, []
    )
    assert wire.of("edit_error")[-1][0]["message"] == "this viewer is read-only"
    assert v.transcript.segments[0].text == "Hello?"
    v.editable = True  # switching on moves the rows to messages and re-sends them
    assert v.segments_by_message and wire.of("segments")


def test_python_api_undo_redo_renames_and_log(data_dir: Path) -> None:
    v = TranscriptViewer(stm_transcript(data_dir), editable=True)
    wire = _ready(v)
    v.delete_word(2, 0)
    v.insert_word(0, 1, "there")
    v.set_speaker(3, "Carol", 1, 3)
    v.merge(0)
    v.speaker_names = {"Diane": "Diane (NJ)"}  # as a speaker chip in the page does
    tr = v.transcript
    assert tr.segments[0].text == "Hello? there Hello?"
    assert "Carol" in tr.speakers and "Diane (NJ)" in tr.speakers
    assert v.speakers[-1] == "Carol"  # new speakers are appended: indices stay stable
    assert len(wire.of("patch")) == 4
    log = v.edits
    assert list(log.operation) == [
        "delete_word",
        "insert_word",
        "set_speaker",
        "merge",
        "rename_speaker",
    ]
    assert (log.before.iloc[0], log.after.iloc[1], log.after.iloc[4]) == (
        "Oh,",
        "there",
        "Diane (NJ)",
    )
    assert log.segment.isna().tolist() == [False] * 4 + [True]  # a rename has no position
    v.undo()  # the rename
    assert v.speaker_names == {} and "Diane" in v.transcript.speakers
    v.undo()  # the merge
    assert v.transcript.segments[0].text == "Hello? there"
    v.redo()
    v.redo()
    assert v.speaker_names == {"Diane": "Diane (NJ)"}
    with pytest.raises(EditError, match="nothing to redo"):
        v.redo()
    assert len(v.edits) == 9
    # the corrected transcript is what exports and save() write
    assert "Hello? there Hello?" in v.export("srt")
    with pytest.raises(EditError):
        v.edit_word(0, 99, "x")


def test_ten_thousand_segment_edit_patch_is_small() -> None:
    import json

    v = TranscriptViewer(synthetic(10_000), editable=True)
    wire = _ready(v)
    v._on_msg(
        v,
        {
            "type": "edit",
            "seq": 7,
            "op": {"op": "edit_word", "segment": 9_000, "word": 0, "text": "hello"},
        },
        [],
    )
    patch = wire.of("patch")[-1][0]
    assert patch["index"] == 9_000 and len(json.dumps(patch)) < 400


@pytest.fixture(scope="module")
def call_transcript(local_server: Any, data_dir: Path) -> Transcript:
    with fw.Client(base_url=local_server.url) as c:
        return c.transcribe(
            data_dir / "two_speakers.wav", diarize=True, min_speakers=2, max_speakers=2
        )


def test_correcting_the_two_speaker_call_to_its_stm(
    call_transcript: Transcript, data_dir: Path
) -> None:
    """The model's errors on the bundled call, corrected through the editor: WER → 0, DER
    not higher than before, and every step undoable."""
    stm = Transcript.from_stm(data_dir / "two_speakers.stm")
    rttm = data_dir / "two_speakers.rttm"
    hyp = call_transcript
    wer0, der0 = hyp.wer(stm), hyp.der(rttm)
    assert wer0 > 0  # the model makes mistakes on this call (else nothing to test)
    v = TranscriptViewer(hyp, audio=data_dir / "two_speakers.wav", editable=True)
    wire = _ready(v)
    ops = word_ops(hyp, stm)
    for op in ops:
        v._on_msg(v, {"type": "edit", "seq": 1, "op": op}, [])
    assert not wire.of("edit_error")
    fixed = v.transcript
    assert fixed.wer(stm) == 0.0
    for op in speaker_ops(fixed, stm):
        v.apply(op)
    fixed = v.transcript
    assert fixed.wer(stm) == 0.0
    assert fixed.der(rttm) <= der0 + 1e-9
    # word times stay valid
    for s in fixed.segments:
        last = s.start
        for w in s.words:
            assert w.start is not None and w.end is not None and last - 1e-6 <= w.start <= w.end
            last = w.end
    log = v.edits
    assert len(log) == v.n_edits and set(log.operation) <= {
        "edit_word",
        "delete_word",
        "insert_word",
        "set_speaker",
    }
    # undo everything: back to the model's transcript
    for _ in range(v.n_edits):
        v.undo()
    assert v.transcript.wer(stm) == pytest.approx(wer0)


def test_rows_flag_segments_that_look_invented() -> None:
    tr = Transcript.from_response(
        {
            "text": "",
            "segments": [
                {"id": 0, "start": 0.0, "end": 4.0, "text": "thank you " * 8},
                {"id": 1, "start": 4.0, "end": 6.0, "text": "an ordinary sentence here"},
                {
                    "id": 2,
                    "start": 6.0,
                    "end": 7.0,
                    "text": "hello",
                    "avg_logprob": -1.4,
                    "no_speech_prob": 0.9,
                },
            ],
        }
    )
    v = TranscriptViewer(tr)
    assert [r[4] for r in v.segments] == [1, 0, 1]
    assert list(tr.to_pandas()["hallucination"]) == [True, False, True]  # the same rule


def test_starting_names_are_not_edits(data_dir: Path) -> None:
    v = TranscriptViewer(stm_transcript(data_dir), speaker_names={"Sheila": "S"}, editable=True)
    assert v.edits.empty and not v.can_undo
    assert "S" in v.transcript.speakers
    v.speaker_names = {"Sheila": "S", "Diane": "D"}
    assert list(v.edits.operation) == ["rename_speaker"] and v.edits.after.iloc[0] == "D"
