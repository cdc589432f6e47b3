"""The meeting diarizer's shared parts on real audio: the one CAM++ embedding function (used by
`voices` too), the speaker-count check of both diarizers, and the second decode of speech the
file's decode left without words (issue 15: ami_trn01 came back empty)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fw_asr_widgets.audio import decode
from fw_asr_widgets.local import _voice_encoder, engine, models, speakers
from fw_asr_widgets.local import diarize as dz
from fw_asr_widgets.voices import _embed


def test_window_grid_in_any_unit() -> None:
    # Grid frames (the diarizer) and seconds (voices) give the same windows.
    frames = speakers.windows([(0, 400), (500, 520), (600, 700)], window=150, step=60, min_span=40)
    assert frames == [(0, 150), (60, 210), (120, 270), (180, 330), (240, 390), (250, 400),
                      (600, 700)]  # fmt: skip
    secs = speakers.windows([(0.0, 4.0), (5.0, 5.2)], window=1.5, step=0.6, min_span=0.4)
    assert [(round(a, 2), round(b, 2)) for a, b in secs] == [
        (s / 100, e / 100) for s, e in frames[:6]
    ]


def test_one_embedding_function_serves_diarizer_and_voices(shared_data: Path) -> None:
    audio = decode(shared_data / "two_speakers.wav")
    spans = [(7.0, 10.0), (12.0, 12.2), (20.0, 22.5)]
    ours = speakers.embed(audio, spans, window=_embed.WINDOW, step=_embed.STEP)
    theirs = _embed.embed_windows(audio, spans)
    wins = speakers.windows(spans, window=_embed.WINDOW, step=_embed.STEP, min_span=_embed.MIN_SPAN)
    assert ours.shape == theirs.shape == (len(wins), 192)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # One session: voices loads no second CAM++ model.
    assert speakers._Models.default().emb is speakers._Models.default().emb
    assert _embed.model_id() == speakers.embedding_model_id()
    assert _embed.model_id().startswith("campplus-") and len(_embed.model_id()) == 25
    # Windows of the same voice are alike; one per span, zero rows for empty spans.
    one = speakers.embed_spans(audio, [(7.0, 8.5), (7.5, 9.0), (9.0, 9.0)])
    assert float(one[0] @ one[1]) > 0.7 and not one[2].any()


def test_one_speaker_count_check_with_each_diarizers_default() -> None:
    assert speakers.check_counts(None, None) == (1, speakers.MAX_SPEAKERS)
    assert speakers.check_counts(None, None, default_max=8) == (1, 8)
    assert speakers.check_counts(10, None, default_max=8) == (10, 10)
    with pytest.raises(ValueError, match="greater than"):
        speakers.check_counts(3, 2)
    with pytest.raises(ValueError, match="min_speakers"):
        _voice_encoder.diarize_voice_encoder(np.zeros(16_000, np.float32), min_speakers=0)


def test_unheard_regions_are_speech_without_words() -> None:
    hi = {"start": 1.0, "text": "hi", "words": [{"word": "hi", "start": 1.0, "end": 1.4}]}
    resp = {"segments": [hi]}
    regions = [(0.9, 1.5), (3.0, 3.5), (5.0, 5.1), (1.55, 2.0)]
    # (5.0, 5.1) is too short; (1.55, 2.0) touches the word within 0.2 s.
    assert dz.unheard(resp, regions) == [(3.0, 3.5)]
    merged = dz._add_segments(
        {"segments": resp["segments"], "text": "hi"},
        [{"start": 3.0, "text": "okay", "words": [{"word": "okay", "start": 3.0, "end": 3.4}]}],
    )
    assert merged["text"] == "hi okay" and [s["id"] for s in merged["segments"]] == [0, 1]
    assert [w["word"] for w in merged["words"]] == ["hi", "okay"]


def test_backchannel_whisper_skipped_is_decoded_again(shared_data: Path) -> None:
    """ami_trn01: 3.3 s of quiet backchannels; the file's decode finds no words, the
    segmentation hears speech at 19.0-19.4 s (MEE068, 18.7-19.7 s in ami.rttm)."""
    res = engine.transcribe_file(
        shared_data / "ami_trn01.wav",
        engine.FileOptions(language="en", speech_model="segmentation"),
        keep_audio=True,
    )
    assert res.audio is not None
    assert not res.response["words"]
    seen: list[list[tuple[float, float]]] = []

    def redecode(audio: np.ndarray, regions: list[tuple[float, float]]) -> list[dict]:
        seen.append(regions)
        return engine.redecode_speech(audio, regions, engine.FileOptions(language="en"),
                                      res.model_name)  # fmt: skip

    out = dz.diarize_response(
        res.audio, res.response, min_speakers=None, max_speakers=None,
        seg=res.extra["segmentation"], redecode=redecode,
    )  # fmt: skip
    assert seen and seen[0], "the segmentation's speech region was not offered again"
    words = out["words"]
    assert words and all(w["start"] >= 18.0 and w["end"] <= 20.0 for w in words)
    assert all(w["speaker_id"] == "SPEAKER_00" for w in words)
    # Whisper was unsure (its no-speech gate had fired): the guard says so on the words.
    assert all(w["hallucination_score"] == 1.0 for w in words)


def test_quiet_meeting_has_words_without_diarization(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file transcribed without diarization gets the same second decode where its decode
    found no words at all (ami_trn01 and ami_trn02 came back empty); a file with words is
    decoded once, with no segmentation run."""
    opts = engine.FileOptions(language="en")
    one = engine.transcribe_file(shared_data / "ami_trn01.wav", opts).response
    assert one["words"] and all(w["start"] >= 18.0 and w["end"] <= 20.0 for w in one["words"])
    # Whisper's no-speech gate had fired there: the guard says so on the words.
    assert all(w["hallucination_score"] == 1.0 for w in one["words"])
    two = engine.transcribe_file(shared_data / "ami_trn02.wav", opts).response
    # FEO066 speaks at 20.70-21.39 s (ami.rttm); the only words must be there.
    assert two["words"] and all(w["start"] >= 20.0 and w["end"] <= 21.9 for w in two["words"])
    assert [s["id"] for s in two["segments"]] == list(range(len(two["segments"])))
    assert two["text"] == " ".join(s["text"] for s in two["segments"])

    def no_segmentation(audio: np.ndarray) -> list:
        raise AssertionError("a piece with words was decoded again")

    monkeypatch.setattr(speakers, "speech_regions", no_segmentation)
    jfk = engine.transcribe_file(shared_data / "jfk.wav", opts).response
    assert len(jfk["words"]) == 22


@pytest.mark.parametrize("kind", ["white", "hum"])
def test_noise_is_not_decoded_again(kind: str) -> None:
    """Noise gives the segmentation no speech, so no second decode can invent words."""
    rng = np.random.default_rng(7)
    t = np.arange(16_000 * 8) / 16_000
    if kind == "white":
        noise = rng.standard_normal(t.size) * 0.01
    else:
        noise = 0.05 * np.sin(2 * np.pi * 50 * t) + rng.standard_normal(t.size) * 0.002
    noise = noise.astype(np.float32)
    empty = {"text": "", "words": [], "segments": []}
    calls: list[list[tuple[float, float]]] = []

    def redecode(audio: np.ndarray, regions: list[tuple[float, float]]) -> list[dict]:
        calls.append(regions)
        return engine.redecode_speech(audio, regions, engine.FileOptions(language="en"),
                                      models.ENGLISH)  # fmt: skip

    out = dz.diarize_response(noise, empty, min_speakers=None, max_speakers=None,
                              redecode=redecode)  # fmt: skip
    assert calls == [[]] and out["words"] == [] and out["segments"] == []


def test_second_decode_stops_when_the_client_is_gone() -> None:
    import threading

    gone = threading.Event()
    gone.set()
    audio = np.zeros(16_000 * 4, dtype=np.float32)
    with pytest.raises(engine.JobCancelled):
        engine.redecode_speech(
            audio, [(1.0, 2.0)], engine.FileOptions(language="en"), models.ENGLISH, cancel=gone
        )
