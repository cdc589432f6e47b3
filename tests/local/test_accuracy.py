"""Accuracy of the embedded engine end to end, through the client, against the references.

Issue targets: `two_speakers.wav` WER ≤ 25% against its STM and DER ≤ 20% (collar ±0.25 s)
against its RTTM, with diarization requested the way a user requests it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import fw_asr_widgets as fw


@pytest.fixture(scope="module")
def client(local_server: object) -> fw.Client:
    with fw.Client(base_url=local_server.url) as c:  # type: ignore[attr-defined]
        yield c


@pytest.mark.parametrize(
    "hints", [{}, {"min_speakers": 2, "max_speakers": 2}], ids=["unconstrained", "two"]
)
def test_two_speakers_wer_and_der(client: fw.Client, shared_data: Path, hints: dict) -> None:
    tr = client.transcribe(shared_data / "two_speakers.wav", diarize=True, **hints)
    assert isinstance(tr, fw.Transcript)
    reference = fw.Transcript.from_stm(shared_data / "two_speakers.stm")
    assert tr.wer(reference) <= 0.25
    assert tr.der(shared_data / "two_speakers.rttm", collar=0.25) <= 0.20
    assert len(tr.speakers) == 2
    # Every segment carries one speaker, shared by all its words.
    for seg in tr.segments:
        assert seg.speaker is not None
        assert {w.speaker for w in seg.words} == {seg.speaker}


def test_english_counting(client: fw.Client, shared_data: Path) -> None:
    tr = client.transcribe(shared_data / "english.wav")
    assert tr.wer("one two three") <= 0.34 or tr.wer("1 2 3") <= 0.34
