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
# All twelve are measured by benchmarks/accuracy.py; six run here: ami_trn01 (3.3 s of quiet
# backchannels, an empty transcript before the second decode), ami_trn02 (one speaker, 0.7 s),
# ami_trn00/03 (a minor speaker) and the two-speaker ami_dev00/01.

AMI_SUBSET = ["ami_trn00", "ami_trn01", "ami_trn02", "ami_trn03", "ami_dev00", "ami_dev01"]
# Measured through the API (benchmarks/RESULTS.md): DER 26%, 79%, 0%, 2%, 8%, 31%; mean 24%.
SUBSET_MEAN_DER = 0.30  # the goal for the mean over all twelve
RIGHT_COUNT = {"ami_trn02": 1, "ami_dev00": 2, "ami_dev01": 2}  # counted right today


def _ami_rttm(shared_data: Path, name: str) -> tuple[str, int]:
    lines = [
        line
        for line in (shared_data / "ami.rttm").read_text().splitlines()
        if line.split()[1:2] == [name]
    ]
    return "\n".join(lines) + "\n", len({line.split()[7] for line in lines})


@pytest.fixture(scope="module")
def meetings(client: fw.Client, shared_data: Path) -> dict[str, fw.Transcript]:
    return {n: client.transcribe(shared_data / f"{n}.wav", diarize=True) for n in AMI_SUBSET}


def test_meeting_snippets_mean_der_and_counts(
    meetings: dict[str, fw.Transcript], shared_data: Path
) -> None:
    ders = {n: tr.der(_ami_rttm(shared_data, n)[0], collar=0.25) for n, tr in meetings.items()}
    assert sum(ders.values()) / len(ders) <= SUBSET_MEAN_DER, ders
    empty = [n for n, tr in meetings.items() if not tr.words]
    assert not empty, f"meeting snippets with speech gave an empty transcript: {empty}"
    for name, n_speakers in RIGHT_COUNT.items():
        assert len(meetings[name].speakers) == n_speakers, (name, meetings[name].speakers)
    # Every speaker found is a real one: never more speakers than the reference has.
    for name, tr in meetings.items():
        assert len(tr.speakers) <= _ami_rttm(shared_data, name)[1], name


@pytest.mark.parametrize("name", AMI_SUBSET)
def test_meeting_snippet_segments(meetings: dict[str, fw.Transcript], name: str) -> None:
    tr = meetings[name]
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


def test_noise_has_no_words(client: fw.Client) -> None:
    """The second decode of unheard speech (with diarization, and of pieces without words
    without it) must not invent words on noise."""
    import io
    import wave

    import numpy as np

    rng = np.random.default_rng(11)
    noise = (rng.standard_normal(16_000 * 6) * 300).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(noise.tobytes())
    for diarize in (True, False):
        tr = client.transcribe(buf.getvalue(), diarize=diarize)
        assert not tr.words and tr.text == "", diarize


def test_preprocessing_through_the_api(client: fw.Client, shared_data: Path) -> None:
    ref = (
        "And so my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country."
    )
    # Every mode's filters are tested in test_preprocess.py; here the API applies a chain.
    tr = client.transcribe(shared_data / "jfk.wav", preprocessing="bass_dynamic")
    assert tr.wer(ref) <= 0.10, tr.text
