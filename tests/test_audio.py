"""Decoding, probing and sample conversion on real files and the odd formats users bring."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from fw_asr_widgets import audio
from fw_asr_widgets.audio import AudioDecodeError


@pytest.mark.parametrize(
    ("name", "seconds"),
    [("jfk.wav", 11.0), ("english.wav", 2.7), ("french.aiff", None), ("chinese.flac", 0.96)],
)
def test_decode_real_files_to_16k_mono(shared_data: Path, name: str, seconds: float | None) -> None:
    path = shared_data / name
    info = audio.probe(path)
    a = audio.decode(path)
    assert a.dtype == np.float32 and a.ndim == 1
    assert float(np.abs(a).max()) > 0.05  # real speech, not silence
    assert float(np.abs(a).max()) <= 1.0
    if seconds is not None:
        assert a.size / 16000 == pytest.approx(seconds, abs=0.05)
    assert info.duration is not None and info.duration == pytest.approx(a.size / 16000, abs=0.05)


def test_iter_decode_yields_bounded_blocks(shared_data: Path) -> None:
    blocks = list(audio.iter_decode(shared_data / "jfk.wav", chunk_seconds=2.0))
    assert all(b.size == 32000 for b in blocks[:-1])
    assert 0 < blocks[-1].size <= 32000
    np.testing.assert_array_equal(np.concatenate(blocks), audio.decode(shared_data / "jfk.wav"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        # Seeded: some random byte strings hold valid MPEG frame headers by chance.
        (
            lambda p: p.write_bytes(np.random.default_rng(7).bytes(20000)),
            "not a recognised audio file|could not be decoded|no audio",
        ),
    ],
)
def test_probe_refuses_non_audio(tmp_path: Path, make: object, message: str) -> None:
    p = tmp_path / "clip.mp3"
    make(p)  # type: ignore[operator]
    with pytest.raises(AudioDecodeError, match=message) as err:
        audio.probe(p)
    assert "clip.mp3" in str(err.value)


def test_probe_refuses_directories_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match="directory"):
        audio.probe(tmp_path)
    with pytest.raises(AudioDecodeError, match="no such file"):
        audio.probe(tmp_path / "nope.wav")
    with pytest.raises(AudioDecodeError, match="empty"):
        audio.probe(b"")


def test_truncated_wav_keeps_what_decodes(tmp_path: Path, shared_data: Path) -> None:
    data = (shared_data / "jfk.wav").read_bytes()
    p = tmp_path / "cut.wav"
    p.write_bytes(data[: len(data) // 2])
    a = audio.decode(p)
    assert a.size / 16000 == pytest.approx(5.5, abs=0.1)


def _write_wav(path: Path, samples: np.ndarray, rate: int, width: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


@pytest.mark.parametrize("width", [1, 2, 4])
def test_integer_wav_widths_decode_to_the_same_tone(tmp_path: Path, width: int) -> None:
    rate = 8000
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    if width == 1:
        pcm = np.round(tone * 127 + 128).astype(np.uint8)
    elif width == 2:
        pcm = np.round(tone * 32767).astype("<i2")
    else:
        pcm = np.round(tone * 2147483647).astype("<i4")
    p = tmp_path / f"tone{width}.wav"
    _write_wav(p, pcm, rate, width)
    a = audio.decode(p)
    assert a.size == 16000  # 8 kHz → 16 kHz
    assert float(np.abs(a[1000:-1000]).max()) == pytest.approx(0.5, abs=0.03)


def test_stereo_int16_wav_is_mixed_to_mono(tmp_path: Path) -> None:
    left = np.full(16000, 8000, dtype="<i2")
    right = np.full(16000, -8000, dtype="<i2")
    p = tmp_path / "stereo.wav"
    _write_wav(p, np.stack([left, left], axis=1), 16000, 2, channels=2)
    a = audio.decode(p)
    assert a.size == 16000 and float(a.mean()) == pytest.approx(8000 / 32768, abs=0.01)
    mixed = audio.to_float32(np.stack([left, right], axis=1))
    assert float(np.abs(mixed).max()) < 1e-6


def test_to_float32_scales_integers_before_mixing() -> None:
    stereo = np.full((100, 2), 16384, dtype=np.int16)
    assert audio.to_float32(stereo)[0] == pytest.approx(0.5)
    assert audio.to_float32(np.array([0, 255], dtype=np.uint8)).tolist() == pytest.approx(
        [-1.0, 127 / 128]
    )


def test_resample_and_pcm_round_trip() -> None:
    x = np.sin(2 * np.pi * 300 * np.arange(48000) / 48000).astype(np.float32)
    y = audio.resample(x, 48000)
    assert y.size == 16000
    pcm = audio.float_to_pcm16(y)
    assert len(pcm) == 32000
    back = audio.pcm16_to_float(pcm)
    assert float(np.abs(back - np.clip(y, -1, 1)).max()) < 1e-4
    assert audio.float_to_pcm16(np.array([2.0, -2.0])) == np.array([32767, -32767], "<i2").tobytes()


def test_stream_resampler_has_no_chunk_edges() -> None:
    """Chunk by chunk (100 ms at 48 kHz) equals resampling the whole signal at once."""
    t = np.arange(48000 * 2) / 48000
    x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    whole = audio.StreamResampler(48000)
    ref = np.concatenate([whole.process(x), whole.flush()])
    rs = audio.StreamResampler(48000)
    parts = [rs.process(x[i : i + 4800]) for i in range(0, x.size, 4800)]
    out = np.concatenate([*parts, rs.flush()])
    assert out.size == ref.size == 32000
    assert float(np.abs(out - ref).max()) < 1e-4
