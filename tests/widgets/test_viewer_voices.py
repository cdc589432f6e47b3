"""The editor teaches a voice bank: speaker corrections enrol the corrected voice (real audio:
two_speakers.wav and its reference turns)."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets.viewer import TranscriptViewer

DIANE, SHEILA = "speaker90", "speaker91"  # two_speakers.rttm's ids (see two_speakers.stm)
HALF = 18.0


def _wait_enrolled(viewer: TranscriptViewer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(t.name == "fw-asr-viewer-enrol" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "enrolment did not finish"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def halves(shared_data: Path) -> tuple[Transcript, Transcript, list[int]]:
    ref = Transcript.from_rttm(shared_data / "two_speakers.rttm")
    first = [s for s in ref.segments if s.end <= HALF]
    second = Transcript.from_segments([s for s in ref.segments if s.start >= HALF])
    # What a diarizer that missed the second voice gives: everyone is SPEAKER_00.
    merged = Transcript.from_segments([dataclasses.replace(s, speaker="SPEAKER_00") for s in first])
    return merged, second, [i for i, s in enumerate(first) if s.speaker == SHEILA]


def test_reassigning_a_speaker_enrols_the_corrected_voice_once_it_has_a_name(
    halves: tuple[Transcript, Transcript, list[int]], shared_data: Path
) -> None:
    merged, second, sheila_rows = halves
    audio = shared_data / "two_speakers.wav"
    bank = fw.Voices()
    viewer = TranscriptViewer(merged, audio=audio, editable=True, voices=bank)
    assert sheila_rows
    for i in sheila_rows:  # the correction: these turns are somebody else
        viewer.set_speaker(i, "SPEAKER_01")
    _wait_enrolled(viewer)
    assert len(bank) == 0  # a diarizer label is not a name: nothing enrolled yet
    viewer.speaker_names = {"SPEAKER_01": "Sheila"}  # the rename names the corrected voice
    _wait_enrolled(viewer)
    assert bank.names == ["Sheila"]
    enrolled = {(e["start"], e["end"]) for e in viewer.enrolled}
    assert enrolled and enrolled <= {
        (merged.segments[i].start, merged.segments[i].end) for i in sheila_rows
    }
    assert all(e["speaker"] == "SPEAKER_01" and e["name"] == "Sheila" for e in viewer.enrolled)

    # The bank now knows Sheila in the other half of the call, and only her.
    named = second.identify(bank, audio=audio)
    got = {s.speaker for s in named.segments}
    assert "Sheila" in got and DIANE in got
    for s, n in zip(second.segments, named.segments, strict=True):
        assert n.speaker == ("Sheila" if s.speaker == SHEILA else DIANE)

    # enroll(): every named speaker of the corrected transcript at once.
    viewer.speaker_names = {"SPEAKER_01": "Sheila", "SPEAKER_00": "Diane"}
    other = fw.Voices()
    assert sorted(viewer.enroll(other)) == ["Diane", "Sheila"]
    named = second.identify(other, audio=audio)
    for s, n in zip(second.segments, named.segments, strict=True):
        assert n.speaker == ("Sheila" if s.speaker == SHEILA else "Diane")


def test_a_span_too_short_to_enrol_is_reported_not_raised(
    halves: tuple[Transcript, Transcript, list[int]], shared_data: Path
) -> None:
    merged, _, _ = halves
    first = merged.segments[0]
    clipped = dataclasses.replace(first, end=first.start + 0.2)  # a 0.2 s turn
    merged = Transcript.from_segments([clipped, *merged.segments[1:]])
    short = 0
    bank = fw.Voices()
    viewer = TranscriptViewer(
        merged, audio=shared_data / "two_speakers.wav", editable=True, voices=bank
    )
    viewer.set_speaker(short, "Diane")  # a name at once: enrolled straight away
    _wait_enrolled(viewer)
    assert len(bank) == 0 and viewer.enrolled == []
    assert "not enrolled" in viewer.status
    assert viewer.transcript.segments[short].speaker == "Diane"  # the edit itself stands


def test_without_a_bank_corrections_enrol_nothing_and_enroll_says_why(
    halves: tuple[Transcript, Transcript, list[int]],
) -> None:
    merged, _, _ = halves
    viewer = TranscriptViewer(merged, editable=True)
    viewer.set_speaker(0, "Diane")
    assert viewer.enrolled == []
    with pytest.raises(ValueError, match="no voice bank"):
        viewer.enroll()
    with pytest.raises(ValueError, match="no audio"):
        viewer.enroll(fw.Voices())
