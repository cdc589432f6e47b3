"""Voices: enrol, save/load, identify and link on real recordings (two_speakers.wav, AMI)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.voices import VoiceBankError, _embed
from fw_asr_widgets.voices._bank import relabel

# two_speakers.rttm calls Diane speaker90 and Sheila speaker91 (see two_speakers.stm).
DIANE, SHEILA = "speaker90", "speaker91"
HALF = 18.0


@pytest.fixture(scope="module")
def call(shared_data: Path) -> dict:
    ref = Transcript.from_rttm(shared_data / "two_speakers.rttm")
    first = Transcript.from_segments([s for s in ref.segments if s.end <= HALF])
    second = Transcript.from_segments([s for s in ref.segments if s.start >= HALF])
    audio = _embed.load_audio(shared_data / "two_speakers.wav")
    return {"first": first, "second": second, "audio": audio}


@pytest.fixture(scope="module")
def bank(call: dict) -> fw.Voices:
    v = fw.Voices()
    v.enroll_from(call["first"], DIANE, name="Diane", audio=call["audio"])
    v.enroll_from(call["first"], SHEILA, name="Sheila", audio=call["audio"])
    return v


def test_identify_names_both_speakers_in_the_other_half(bank: fw.Voices, call: dict) -> None:
    second = call["second"]
    named = second.identify(bank, audio=call["audio"])
    by_time = {(s.start, s.end): s.speaker for s in named.segments}
    for s in second.segments:
        assert by_time[(s.start, s.end)] == {DIANE: "Diane", SHEILA: "Sheila"}[s.speaker]
    matches = {m["speaker"]: m for m in named.raw["speaker_matches"]}
    assert matches[DIANE]["name"] == "Diane" and matches[DIANE]["accepted"]
    assert matches[SHEILA]["score"] >= bank.threshold
    assert list(bank.last_matches.columns) == ["speaker", "name", "score", "accepted"]
    assert second.speakers == [DIANE, SHEILA]  # the input is unchanged


def test_unenrolled_voice_keeps_its_label(call: dict) -> None:
    v = fw.Voices()
    v.enroll_from(call["first"], DIANE, name="Diane", audio=call["audio"])
    named = call["second"].identify(v, audio=call["audio"])
    assert set(named.speakers) == {"Diane", SHEILA}
    row = v.last_matches.set_index("speaker").loc[SHEILA]
    assert not row["accepted"]


def test_strangers_in_another_recording_stay_unnamed(bank: fw.Voices, shared_data: Path) -> None:
    ami = Transcript.from_rttm(shared_data / "ami.rttm", file_id="ami_dev00")
    named = ami.identify(bank, audio=shared_data / "ami_dev00.wav")
    assert named.speakers == ami.speakers
    assert not bank.last_matches["accepted"].any()
    assert bank.last_matches["score"].max() < bank.threshold


def test_enroll_clip_span_and_averaging(call: dict) -> None:
    v = fw.Voices()
    v.enroll("Diane", call["audio"], start=10.57, end=14.70)
    v.enroll("Diane", call["audio"], start=8.32, end=10.02)
    table = v.to_pandas()
    assert table.name.tolist() == ["Diane"] and table.enrolments.tolist() == [2]
    assert table.windows[0] >= 6  # 4.1 s + 1.7 s of speech in 1.5 s windows 0.75 s apart
    sc = v.scores(call["second"], audio=call["audio"])
    assert sc.loc[DIANE, "Diane"] > sc.loc[SHEILA, "Diane"]
    with pytest.raises(ValueError, match="no speech"):
        v.enroll("Nobody", call["audio"], start=1.0, end=1.2)
    with pytest.raises(KeyError):
        v.enroll_from(call["first"], "SPEAKER_99", name="X", audio=call["audio"])


def test_rename_remove(bank: fw.Voices) -> None:
    v = fw.Voices()
    v._enrolments = {k: list(x) for k, x in bank._enrolments.items()}
    v.rename("Diane", "D. Smith")
    assert v.names == ["Sheila", "D. Smith"]
    v.remove("Sheila")
    assert v.names == ["D. Smith"] and "Sheila" not in v
    with pytest.raises(KeyError):
        v.remove("Sheila")


def test_save_load_roundtrip_holds_no_audio(bank: fw.Voices, call: dict, tmp_path: Path) -> None:
    path = bank.save(tmp_path / "team.npz")
    assert path.stat().st_size < 4_000  # 2 × 192 float16 + names; 1 s of audio is 32 kB
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["embeddings.npy", "meta.npy", "names.npy", "windows.npy"]
    with np.load(path, allow_pickle=False) as z:
        assert z["embeddings"].shape == (2, 192) and z["embeddings"].dtype == np.float16
        meta = json.loads(str(z["meta"]))
    assert meta["format"] == 1 and meta["model"] == _embed.model_id()
    loaded = fw.Voices.load(path)
    assert loaded.names == bank.names
    assert np.allclose(loaded.centroid("Diane"), bank.centroid("Diane"), atol=2e-3)
    named = call["second"].identify(loaded, audio=call["audio"])
    assert set(named.speakers) == {"Diane", "Sheila"}


def test_bank_from_other_weights_is_refused(bank: fw.Voices, tmp_path: Path) -> None:
    path = bank.save(tmp_path / "a.npz")
    with np.load(path, allow_pickle=False) as z:
        parts = {k: z[k] for k in z.files}
    parts["meta"] = np.array(json.dumps({"format": 1, "model": "campplus-0000000000000000"}))
    np.savez(tmp_path / "b.npz", **parts)
    with pytest.raises(fw.FwAsrError, match="enrol the voices again"):
        fw.Voices.load(tmp_path / "b.npz")
    (tmp_path / "c.npz").write_bytes(b"not a bank")
    with pytest.raises(VoiceBankError, match="not a voice bank"):
        fw.Voices.load(tmp_path / "c.npz")


def test_ami_pair_identify_and_link(shared_data: Path) -> None:
    """MEE009 and MEE012 speak in ami_dev00 and ami_dev01: enrol from one, find in the other."""
    refs = [
        Transcript.from_rttm(shared_data / "ami.rttm", file_id=f)
        for f in ("ami_dev00", "ami_dev01")
    ]
    audios = [_embed.load_audio(shared_data / f"{f}.wav") for f in ("ami_dev00", "ami_dev01")]
    v = fw.Voices()
    for spk in refs[0].speakers:
        v.enroll_from(refs[0], spk, name=f"person {spk}", audio=audios[0])
    named = refs[1].identify(v, audio=audios[1])
    assert sorted(named.speakers) == sorted(f"person {s}" for s in refs[1].speakers)

    # Anonymous labels on both sides, as a diarizer gives them: linking must restore identity.
    truth: dict[tuple[int, str], str] = {}
    anon = []
    for i, r in enumerate(refs):
        names = {
            spk: f"SPEAKER_{k:02d}" for k, spk in enumerate(sorted(r.speakers, reverse=i == 1))
        }
        truth.update({(i, anon_name): spk for spk, anon_name in names.items()})
        anon.append(relabel(r, names).with_source(f"f{i}"))
    linked, table = fw.link_speakers(anon, audios)
    assert list(table.columns) == ["file", "speaker", "label", "score", "seconds"]
    assert len(set(table.label)) == 2
    person = {r.label: truth[(int(r.file[1]), r.speaker)] for r in table.itertuples()}
    for r in table.itertuples():  # every label stands for one person in both files
        assert truth[(int(r.file[1]), r.speaker)] == person[r.label]
    assert set(linked[0].speakers) == set(linked[1].speakers) == set(table.label)
    _, table = fw.link_speakers(anon, audios, voices=v)
    assert set(table.label) == {"person MEE009", "person MEE012"}


def test_words_are_renamed_with_their_segments(bank: fw.Voices, call: dict) -> None:
    """A response-shaped transcript (segments with words, as the API returns) keeps words and
    segments in agreement after `identify`."""
    segs = []
    for i, s in enumerate(call["second"].segments):
        mid = (s.start + s.end) / 2
        words = [
            {"word": "a", "start": s.start, "end": mid, "speaker_id": s.speaker},
            {"word": "b", "start": mid, "end": s.end, "speaker_id": s.speaker},
        ]
        segs.append(
            {
                "id": i,
                "start": s.start,
                "end": s.end,
                "text": "a b",
                "speaker_id": s.speaker,
                "words": words,
            }
        )
    tr = Transcript.from_response({"text": "", "segments": segs})
    named = tr.identify(bank, audio=call["audio"])
    assert {w.speaker for w in named.words} == {"Diane", "Sheila"}
    for seg in named.segments:
        assert all(w.speaker == seg.speaker for w in seg.words)
    assert [w.word for w in named.words] == [w.word for w in tr.words]


def test_importing_the_package_does_not_load_onnxruntime() -> None:
    import subprocess
    import sys

    code = (
        "import sys, fw_asr_widgets as fw; assert 'onnxruntime' not in sys.modules; "
        "fw.Voices, fw.link_speakers; assert 'onnxruntime' not in sys.modules; "
        "assert 'fw_asr_widgets.voices' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
