"""Audio for the players of the widgets: encode what the user passed into bytes a browser plays.

Browser-playable files (wav, mp3, ogg, flac, webm, m4a) up to `AUDIO_PASSTHROUGH_BYTES` go as
they are; anything else, longer audio and numpy arrays whose PCM16 WAV would exceed that size
are transcoded with PyAV to Opus in WebM (~25 kbit/s on speech), block by block so memory
stays bounded. Used by `TranscriptViewer`, `compare()` and the corpus search widget.
"""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path
from typing import Any

import numpy as np

from fw_asr_widgets.audio import float_to_pcm16, iter_decode, probe, resample, to_float32

__all__ = ["AUDIO_PASSTHROUGH_BYTES", "OPUS_BITRATE", "encode_audio"]

AUDIO_PASSTHROUGH_BYTES = 64 * 1024 * 1024
"""Playable files up to this size are sent unchanged; larger audio is transcoded to Opus."""

OPUS_BITRATE = 24_000
_OPUS_RATES = {8_000, 12_000, 16_000, 24_000, 48_000}


_PLAYABLE: dict[str, tuple[set[str], str]] = {
    # PyAV container name → (codecs the browser plays in it, MIME type)
    "wav": ({"pcm_s16le", "pcm_u8", "pcm_f32le", "pcm_s24le", "pcm_s32le"}, "audio/wav"),
    "mp3": ({"mp3", "mp3float"}, "audio/mpeg"),
    "ogg": ({"vorbis", "opus", "flac"}, "audio/ogg"),
    "flac": ({"flac"}, "audio/flac"),
    "matroska,webm": ({"opus", "vorbis"}, "audio/webm"),
    "mov,mp4,m4a,3gp,3g2,mj2": ({"aac"}, "audio/mp4"),
}


# ---------------------------------------------------------------------------------------------
# Audio → (bytes, mime)


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    pcm = float_to_pcm16(to_float32(samples))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm)
    return buf.getvalue()


def _opus_webm(source: Any, sample_rate: int | None = None) -> bytes:
    """Transcode a path/bytes or a float array to mono Opus in WebM, block by block.

    Arrays at a rate Opus takes (8/12/16/24/48 kHz; the recorder's 16 kHz) are encoded as
    they are; others are resampled to 48 kHz a minute at a time, so memory stays bounded.
    """
    import av

    if isinstance(source, np.ndarray):
        sr = int(sample_rate or 48_000)
        rate = sr if sr in _OPUS_RATES else 48_000
        mono = source if source.ndim == 1 else to_float32(source)  # channels mixed, ints scaled
        step = sr * 60

        def gen() -> Any:
            for k in range(0, mono.shape[0], step):
                block = mono[k : k + step]
                yield resample(block, sr, rate) if sr != rate else to_float32(block)

        blocks: Any = gen()
    else:
        rate = 48_000
        blocks = iter_decode(source, sample_rate=rate, chunk_seconds=60.0)
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="webm")
    try:
        stream = out.add_stream("libopus", rate=rate)
        stream.bit_rate = OPUS_BITRATE
        stream.layout = "mono"
        for block in blocks:
            if block.size == 0:
                continue
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block, dtype=np.float32).reshape(1, -1),
                format="flt",
                layout="mono",
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    finally:
        out.close()
    return buf.getvalue()


def _unwrap_widget(audio: Any) -> Any:
    """ipywebrtc: an `AudioRecorder` → its `.audio` widget → the recorded bytes (`.value`)."""
    inner = getattr(audio, "audio", None)
    if inner is not None and hasattr(inner, "value") and not isinstance(audio, np.ndarray):
        audio = inner
    value = getattr(audio, "value", None)
    if isinstance(value, bytes | bytearray | memoryview):
        if len(value) == 0:
            raise ValueError("the recording is empty: record something first")
        return bytes(value)
    return audio


def encode_audio(audio: Any, sample_rate: int | None = None) -> tuple[bytes, str]:
    """Turn a path, bytes, numpy array or ipywebrtc audio widget into (bytes, MIME type).

    Playable files up to `AUDIO_PASSTHROUGH_BYTES` are returned unchanged; other formats and
    larger files become Opus/WebM. Arrays need `sample_rate`; they become a PCM16 WAV when
    that fits in `AUDIO_PASSTHROUGH_BYTES` (≈33 min at 16 kHz), Opus/WebM otherwise.
    Raises `AudioDecodeError` for undecodable input, `ValueError`/`TypeError` for bad args.
    """

    audio = _unwrap_widget(audio)
    if isinstance(audio, np.ndarray):
        if not sample_rate or sample_rate <= 0:
            raise ValueError("a numpy audio array needs sample_rate= (in Hz)")
        n = audio.shape[0] if audio.ndim == 1 else max(audio.shape)
        if n * 2 + 44 <= AUDIO_PASSTHROUGH_BYTES:
            return _wav_bytes(audio, sample_rate), "audio/wav"
        return _opus_webm(audio, sample_rate), "audio/webm"
    if isinstance(audio, bytes | bytearray | memoryview):
        data = bytes(audio)
        info = probe(data)
        size = len(data)
        src: Any = data
    elif isinstance(audio, str | os.PathLike):
        path = Path(audio)
        info = probe(path)
        size = path.stat().st_size
        src = path
    else:
        raise TypeError(
            f"audio must be a path, bytes, a numpy array or None, not {type(audio).__name__}"
        )
    playable = _PLAYABLE.get(info.container)
    if playable and info.codec in playable[0] and size <= AUDIO_PASSTHROUGH_BYTES:
        return (src if isinstance(src, bytes) else Path(src).read_bytes()), playable[1]
    return _opus_webm(src), "audio/webm"


# ---------------------------------------------------------------------------------------------
# Transcript → compact rows
