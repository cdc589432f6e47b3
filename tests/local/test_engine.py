"""The file engine: piece cutting, subtitle rendering, model choice, and piecewise decoding."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer
import numpy as np
import pytest

from fw_asr_widgets.audio import SAMPLE_RATE, AudioDecodeError, decode
from fw_asr_widgets.local import engine, models
from tests.conftest import JFK_REFERENCE


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower())).strip()


def test_pieces_cover_the_signal_and_cut_at_quiet_points() -> None:
    rng = np.random.default_rng(0)
    sr = SAMPLE_RATE
    signal = (rng.standard_normal(sr * 100) * 0.3).astype(np.float32)
    quiet_at = [37.0, 71.5]  # seconds; 0.6 s of silence each
    for q in quiet_at:
        signal[int(q * sr) : int((q + 0.6) * sr)] = 0.0
    blocks = iter(np.array_split(signal, 17))
    pieces = list(engine.iter_pieces(blocks, piece_seconds=35.0, search_seconds=5.0))
    joined = np.concatenate([p for _, p in pieces])
    assert np.array_equal(joined, signal)
    offsets = [o for o, _ in pieces]
    assert offsets[0] == 0.0
    for (o, p), o_next in zip(pieces, offsets[1:], strict=False):
        assert o + p.size / sr == pytest.approx(o_next)
    # Both cuts fall inside a silent stretch.
    assert len(pieces) == 3
    for cut, q in zip(offsets[1:], quiet_at, strict=True):
        assert q <= cut <= q + 0.6


def test_short_input_is_one_piece_and_empty_input_none() -> None:
    a = np.ones(SAMPLE_RATE * 3, dtype=np.float32)
    assert [(o, p.size) for o, p in engine.iter_pieces(iter([a]))] == [(0.0, a.size)]
    assert list(engine.iter_pieces(iter([]))) == []


def test_srt_and_vtt_rendering() -> None:
    resp = engine.build_verbose(
        "transcribe",
        "en",
        3725.5,
        [
            {"start": 0.0, "end": 1.25, "text": "Hello.", "words": []},
            {"start": 3661.001, "end": 3662.5, "text": "World", "words": []},
        ],
    )
    assert resp["text"] == "Hello. World"
    assert engine.to_srt(resp) == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello.\n\n2\n01:01:01,001 --> 01:01:02,500\nWorld\n"
    )
    assert engine.to_vtt(resp) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello.\n\n01:01:01.001 --> 01:01:02.500\nWorld\n"
    )
    assert engine.to_srt(engine.build_verbose("transcribe", "en", 0.0, [])) == ""


def test_model_choice() -> None:
    assert engine.choose_model("transcribe", "en") == models.ENGLISH
    if models.multilingual_available():
        assert engine.choose_model("transcribe", "de") == models.MULTILINGUAL
        assert engine.choose_model("translate", None) == models.MULTILINGUAL
        assert engine.choose_model("transcribe", None) is None  # detect first
    else:
        assert engine.choose_model("transcribe", None) == models.ENGLISH
        with pytest.raises(engine.EngineInputError, match=r"fw-asr-widgets\[multilingual\]"):
            engine.choose_model("translate", None)


def test_piecewise_decoding_offsets_times(data_dir: Path) -> None:
    """jfk, 4 s of silence, jfk again, cut into ~13 s pieces: times follow the file."""
    jfk = decode(data_dir / "jfk.wav")
    gap = np.zeros(SAMPLE_RATE * 4, dtype=np.float32)
    audio = np.concatenate([jfk, gap, jfk])

    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((audio * 32767).astype("<i2").tobytes())
    buf.seek(0)
    result = engine.transcribe_file(
        buf,
        engine.FileOptions(language="en", beam_size=1),
        keep_audio=True,
        piece_seconds=13.0,
        search_seconds=3.0,
    )
    assert result.pieces == 2 and result.model_name == models.ENGLISH
    assert result.audio is not None and result.audio.size == audio.size
    body = result.response
    assert body["duration"] == pytest.approx(26.0, abs=0.01)
    assert jiwer.wer(norm(JFK_REFERENCE + " " + JFK_REFERENCE), norm(body["text"])) <= 0.15
    starts = [w["start"] for w in body["words"]]
    assert starts == sorted(starts)
    second = [w for w in body["words"] if w["start"] >= 14.0]
    assert norm(" ".join(w["word"] for w in second)).startswith("and so")
    assert [s["id"] for s in body["segments"]] == list(range(len(body["segments"])))
    seeks = [s["seek"] for s in body["segments"]]
    assert seeks == sorted(seeks) and seeks[-1] >= 1000  # second piece starts at ~11-15 s


def test_undecodable_input_raises_typed_error() -> None:
    import io

    with pytest.raises(AudioDecodeError):
        engine.transcribe_file(io.BytesIO(b"\x00\x01" * 500), engine.FileOptions(language="en"))
