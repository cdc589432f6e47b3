"""Bad input through `Client().transcribe` against the embedded engine over loopback HTTP.

Each case gets a typed, plain-language error or a correct transcript (WER against the
reference); none leaves a temporary file behind (the temp dir is private to each test and
must be empty afterwards) and none hangs (pytest-timeout).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import jiwer
import numpy as np
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.audio import decode
from tests.conftest import JFK_REFERENCE


def wer(text: str) -> float:
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.Strip()])
    return float(jiwer.wer(norm(JFK_REFERENCE), norm(text)))


@pytest.fixture(scope="module")
def jfk_audio(data_dir: Path) -> np.ndarray:
    return decode(data_dir / "jfk.wav")


@pytest.fixture()
def client(
    local_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[fw.Client]:
    """A client of the embedded engine; both use a private, initially empty temp dir."""
    spool = tmp_path / "tmpdir"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    c = fw.Client(base_url=local_server.url, max_retries=0)
    yield c
    c.close()
    assert sorted(os.listdir(spool)) == [], "a temporary file was left behind"


def write_audio(
    path: Path,
    samples: np.ndarray,
    *,
    rate: int = 16000,
    codec: str = "pcm_s16le",
    layout: str = "mono",
    video: bool = False,
) -> Path:
    """Encode float samples in [-1, 1] (shape (n,) or (n, 2)) with PyAV."""
    with av.open(str(path), "w") as out:
        if video:
            v = out.add_stream("mpeg4", rate=10)
            v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream(codec, rate=rate)
        a.layout = layout
        fmt = a.codec_context.format.name if a.codec_context.format else "s16"
        data = samples.reshape(len(samples), -1).T.astype(np.float32)  # (channels, n)
        block = rate // 10
        t = 0
        for i in range(0, data.shape[1], block):
            part = np.ascontiguousarray(data[:, i : i + block])
            frame = av.AudioFrame.from_ndarray(
                part.T.reshape(1, -1) if not fmt.endswith("p") and part.shape[0] > 1 else part,
                format="flt" if not fmt.endswith("p") and part.shape[0] > 1 else "fltp",
                layout=layout,
            )
            frame.sample_rate = rate
            frame.pts = t
            frame.time_base = Fraction(1, rate)
            t += part.shape[1]
            for packet in a.encode(frame):
                out.mux(packet)
            if video:
                img = av.VideoFrame.from_ndarray(
                    np.full((48, 64, 3), (i // block) % 255, dtype=np.uint8), format="rgb24"
                )
                img.pts = i // block
                img.time_base = Fraction(1, 10)
                for packet in v.encode(img):
                    out.mux(packet)
        for packet in a.encode(None):
            out.mux(packet)
        if video:
            for packet in v.encode(None):
                out.mux(packet)
    return path


def resample(x: np.ndarray, rate: int) -> np.ndarray:
    n = int(len(x) * rate / 16000)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


# ---------------------------------------------------------------------- errors
def test_empty_file_is_a_decode_error(client: fw.Client, tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(fw.AudioDecodeError, match="empty"):
        client.transcribe(p)
    with pytest.raises(fw.AudioDecodeError, match="empty"):
        client.transcribe(b"")


def test_random_bytes_with_audio_suffixes(client: fw.Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    for suffix in (".wav", ".mp3", ".flac", ".m4a", ".ogg"):
        p = tmp_path / f"noise{suffix}"
        p.write_bytes(rng.bytes(20_000))
        with pytest.raises(fw.AudioDecodeError) as info:
            client.transcribe(p)
        assert str(p) in str(info.value)


def test_directory_and_missing_path(client: fw.Client, tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="not an audio file"):
        client.transcribe(tmp_path)
    with pytest.raises(FileNotFoundError, match="No such audio file"):
        client.transcribe(tmp_path / "nope.wav")


def test_a_url_is_refused_by_the_offline_engine(client: fw.Client) -> None:
    # The client forwards URLs as a form field; the embedded engine never fetches them.
    with pytest.raises(fw.BadRequestError, match="does not fetch URLs"):
        client.transcribe("http://127.0.0.1:9/missing.wav")


# ---------------------------------------------------------------------- empty / truncated
def test_zero_length_wav_is_an_empty_transcript_or_a_decode_error(
    client: fw.Client, tmp_path: Path
) -> None:
    p = tmp_path / "zero.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    assert p.stat().st_size == 44
    try:
        tr = client.transcribe(p)
    except fw.AudioDecodeError as exc:
        assert "zero.wav" in str(exc)
    else:
        assert isinstance(tr, fw.Transcript) and tr.text == "" and tr.segments == ()


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".wav", "pcm_s16le"), (".mp3", "mp3"), (".flac", "flac")]
)
def test_truncated_files_keep_what_decodes(
    client: fw.Client, tmp_path: Path, jfk_audio: np.ndarray, suffix: str, codec: str
) -> None:
    whole = write_audio(tmp_path / f"whole{suffix}", jfk_audio, codec=codec)
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 6 // 10])  # about the first 6.6 s
    tr = client.transcribe(cut)
    assert isinstance(tr, fw.Transcript)
    words = jiwer.RemovePunctuation()(tr.text.lower()).split()
    assert words[:4] == ["and", "so", "my", "fellow"], tr.text
    assert "country" in words and len(words) < 20
    tiny = tmp_path / f"tiny{suffix}"
    tiny.write_bytes(data[:30])  # the header, barely: an error, not a crash
    with pytest.raises(fw.AudioDecodeError):
        client.transcribe(tiny)


# ---------------------------------------------------------------------- formats that work
@pytest.mark.parametrize("codec", ["pcm_u8", "pcm_s24le", "pcm_f32le"])
def test_wav_sample_formats(
    client: fw.Client, tmp_path: Path, jfk_audio: np.ndarray, codec: str
) -> None:
    p = write_audio(tmp_path / f"jfk_{codec}.wav", jfk_audio, codec=codec)
    with av.open(str(p)) as c:
        assert c.streams.audio[0].codec_context.name == codec
    tr = client.transcribe(p)
    assert wer(tr.text) < 0.15, tr.text


def test_stereo_and_8khz(client: fw.Client, tmp_path: Path, jfk_audio: np.ndarray) -> None:
    stereo = np.stack([jfk_audio, jfk_audio * 0.5], axis=1)
    p = write_audio(tmp_path / "stereo.wav", stereo, layout="stereo")
    assert wer(client.transcribe(p).text) < 0.15
    narrow = write_audio(tmp_path / "jfk8k.wav", resample(jfk_audio, 8000), rate=8000)
    assert wer(client.transcribe(narrow).text) < 0.2


def test_video_file_uses_the_audio_track(
    client: fw.Client, tmp_path: Path, jfk_audio: np.ndarray
) -> None:
    p = write_audio(tmp_path / "clip.mp4", jfk_audio, codec="aac", video=True)
    with av.open(str(p)) as c:
        assert c.streams.video and c.streams.audio
    tr = client.transcribe(p)
    assert wer(tr.text) < 0.15, tr.text


def test_non_utf8_file_name(client: fw.Client, tmp_path: Path, data_dir: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"j\xff\xfek.wav")
    shutil.copyfile(data_dir / "jfk.wav", raw)
    name = os.fsdecode(raw)  # str with surrogate escapes
    for arg in (name, Path(name)):
        tr = client.transcribe(arg)
        assert wer(tr.text) < 0.15
        assert tr.source == name
    broken = os.path.join(os.fsencode(tmp_path), b"br\xffoken.mp3")
    with open(broken, "wb") as f:
        f.write(b"not audio at all" * 100)
    with pytest.raises(fw.AudioDecodeError) as info:
        client.transcribe(os.fsdecode(broken))
    str(info.value).encode("utf-8", "backslashreplace")  # printable in a notebook
