"""Accuracy of the embedded engine end to end, through the client, against the references.

Issue targets: `two_speakers.wav` WER ≤ 16% against its STM and DER ≤ 10% (collar ±0.25 s)
against its RTTM (issue 15; measured 9.9% and 2.4%), with diarization requested the way a user
requests it.
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
    assert tr.wer(reference) <= 0.16
    assert tr.der(shared_data / "two_speakers.rttm", collar=0.25) <= 0.10
    assert len(tr.speakers) == 2
    # Every segment carries one speaker, shared by all its words.
    for seg in tr.segments:
        assert seg.speaker is not None
        assert {w.speaker for w in seg.words} == {seg.speaker}


def test_english_counting(client: fw.Client, shared_data: Path) -> None:
    tr = client.transcribe(shared_data / "english.wav")
    assert tr.wer("one two three") <= 0.34 or tr.wer("1 2 3") <= 0.34


# ---------------------------------------------------------------------------------------------
# Meetings (issue 15): quiet far-field AMI snippets through the API, as a user asks for them.
# All twelve are measured by benchmarks/accuracy.py; two run here (one speaker barely audible,
# which gave no words before; two speakers).

AMI_SUBSET = ["ami_trn02", "ami_dev00"]


def _ami_rttm(shared_data: Path, name: str) -> tuple[str, int]:
    lines = [
        line
        for line in (shared_data / "ami.rttm").read_text().splitlines()
        if line.split()[1:2] == [name]
    ]
    return "\n".join(lines) + "\n", len({line.split()[7] for line in lines})


@pytest.mark.parametrize("name", AMI_SUBSET)
def test_meeting_snippets(client: fw.Client, shared_data: Path, name: str) -> None:
    tr = client.transcribe(shared_data / f"{name}.wav", diarize=True)
    rttm, _n_ref = _ami_rttm(shared_data, name)
    assert tr.words, "a meeting snippet with speech must not give an empty transcript"
    assert tr.der(rttm, collar=0.25) <= 0.30
    if name == "ami_dev00":
        assert sorted(tr.speakers) == ["SPEAKER_00", "SPEAKER_01"]
    for seg in tr.segments:
        assert seg.speaker is not None
        assert {w.speaker for w in seg.words} == {seg.speaker}
        assert seg.start <= seg.words[0].start and seg.end >= seg.words[-1].end
        gaps = [b.start - a.end for a, b in zip(seg.words, seg.words[1:], strict=False)]
        assert all(g >= -1e-6 for g in gaps), "a segment's words overlap each other"
        assert all(g <= 1.0 for g in gaps), "a segment spans more than 1 s without words"
    assert all(w.end - w.start >= 0.04 for w in tr.words)
    # Overlapping turns are where the DataFrame accessor finds them (possibly none).
    ov = tr.to_pandas().asr.overlaps()
    assert set(ov.columns) >= {"start", "end", "speaker_a", "speaker_b"}
    assert (ov["speaker_a"] != ov["speaker_b"]).all()


def test_preprocessing_through_the_api(client: fw.Client, shared_data: Path) -> None:
    ref = (
        "And so my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country."
    )
    # Every mode's filters are tested in test_preprocess.py; here the API applies a chain.
    tr = client.transcribe(shared_data / "jfk.wav", preprocessing="bass_dynamic")
    assert tr.wer(ref) <= 0.10, tr.text
