"""Audio decoding and resampling shared by the client, the engine and the widgets.

Everything goes through PyAV (its wheel bundles FFmpeg), so any container or codec FFmpeg
knows decodes without a system ffmpeg. The canonical internal format is 16 kHz mono: float32
in [-1, 1] for models, PCM16 little-endian bytes on the wire.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Union

import numpy as np

from fw_asr_widgets.errors import AudioDecodeError

SAMPLE_RATE = 16_000
"""The wire and model sample rate (Hz)."""

AudioSource = Union[str, "os.PathLike[str]", bytes, IO[bytes]]


@dataclass(frozen=True)
class AudioInfo:
    """What `probe` found: container, codec, native rate/channels and duration (seconds)."""

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration: float | None


def _name(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(source)
    name = getattr(source, "name", None)
    # Spooled temp files report an int file descriptor as their name: not useful to a reader.
    return name if isinstance(name, str) and name else "<bytes>"


def _open(source: AudioSource):  # type: ignore[no-untyped-def]
    """The opened container; `AudioDecodeError` for anything FFmpeg cannot open."""
    import av

    try:
        return _av_open(source)
    except AudioDecodeError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioDecodeError(
            f"not a recognised audio file ({type(exc).__name__}: {exc})", source=_name(source)
        ) from None


def _av_open(source: AudioSource):  # type: ignore[no-untyped-def]
    import io

    import av

    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise AudioDecodeError("the audio is empty (0 bytes)", source="<bytes>")
        return av.open(io.BytesIO(bytes(source)), mode="r")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise AudioDecodeError("is a directory, not an audio file", source=str(path))
        if not path.exists():
            raise AudioDecodeError("no such file", source=str(path))
        if path.stat().st_size == 0:
            raise AudioDecodeError("the file is empty (0 bytes)", source=str(path))
        return av.open(str(path), mode="r")
    return av.open(source, mode="r")


def probe(source: AudioSource) -> AudioInfo:
    """Check that `source` holds a decodable audio stream; raise `AudioDecodeError` if not.

    Reads only the container header and the first packets: cheap for a 1 GB file.
    """
    import av

    name = _name(source)
    container = _open(source)
    try:
        if not container.streams.audio:
            raise AudioDecodeError("the file has no audio stream", source=name)
        stream = container.streams.audio[0]
        # Decode one frame to prove the codec really works (catches random bytes named .mp3).
        got = False
        try:
            for frame in container.decode(stream):
                got = frame.samples > 0 or got
                if got:
                    break
        except (av.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(f"the audio could not be decoded ({exc})", source=name) from None
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        if not got and (duration is None or duration > 0):
            raise AudioDecodeError("no audio frames could be decoded", source=name)
        return AudioInfo(
            container=container.format.name,
            codec=codec,
            sample_rate=int(stream.rate or 0),
            channels=int(stream.channels or 0),
            duration=duration,
        )
    finally:
        container.close()


def iter_decode(
    source: AudioSource, *, sample_rate: int = SAMPLE_RATE, chunk_seconds: float = 30.0
) -> Iterator[np.ndarray]:
    """Decode `source` to mono float32 at `sample_rate`, yielding blocks of ~`chunk_seconds`.

    Memory stays bounded by one block, so hours of audio decode in constant memory.
    Raises `AudioDecodeError` for input FFmpeg cannot read.
    """
    import av

    name = _name(source)
    container = _open(source)
    block = max(1, int(chunk_seconds * sample_rate))
    pending: list[np.ndarray] = []
    pending_len = 0
    try:
        if not container.streams.audio:
            raise AudioDecodeError("the file has no audio stream", source=name)
        stream = container.streams.audio[0]
        # Keep the channel layout through the resampler and average channels here: FFmpeg's
        # own stereo→mono downmix adds the channels at -3 dB, which can exceed full scale.
        resampler = av.AudioResampler(format="fltp", rate=sample_rate)

        def mono(out: av.AudioFrame) -> np.ndarray:
            planes = out.to_ndarray()
            return planes[0] if planes.shape[0] == 1 else planes.mean(axis=0)

        def frames() -> Iterator[np.ndarray]:
            try:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        yield mono(out)
            except av.error.EOFError:
                pass
            except (av.FFmpegError, ValueError) as exc:
                # Truncated files end here; keep what decoded unless nothing did.
                if pending_len == 0 and not emitted[0]:
                    raise AudioDecodeError(
                        f"the audio could not be decoded ({exc})", source=name
                    ) from None
            for out in resampler.resample(None):
                yield mono(out)

        emitted = [False]
        for arr in frames():
            pending.append(arr.astype(np.float32, copy=False))
            pending_len += arr.size
            while pending_len >= block:
                joined = np.concatenate(pending)
                emitted[0] = True
                yield joined[:block]
                rest = joined[block:]
                pending = [rest] if rest.size else []
                pending_len = rest.size
        if pending_len:
            emitted[0] = True
            yield np.concatenate(pending)
    finally:
        container.close()


def decode(source: AudioSource, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a whole file to a mono float32 array at `sample_rate` (16 kHz by default)."""
    blocks = list(iter_decode(source, sample_rate=sample_rate))
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(blocks)


def resample(audio: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono (or (n, channels) → mixed to mono) float or int array to `target_rate`.

    Integer input is scaled to [-1, 1]. Uses soxr (a core dependency; band-limited, so no
    aliasing when going down to 16 kHz), the same resampler as `StreamResampler`.
    """
    a = to_float32(audio)
    if orig_rate == target_rate or a.size == 0:
        return a
    import soxr

    return np.ascontiguousarray(soxr.resample(a, orig_rate, target_rate, quality="HQ"), np.float32)


class StreamResampler:
    """Resample a live stream chunk by chunk, carrying the filter state across chunks.

    Resampling each chunk on its own leaves a small click at every chunk edge; this does not.
    Uses soxr's streaming resampler (C, ~15 µs per 100 ms chunk). Output lags input by a few
    milliseconds of filter delay: call `flush()` at the end to get the tail.
    """

    def __init__(self, orig_rate: int, target_rate: int = SAMPLE_RATE) -> None:
        import soxr

        if orig_rate <= 0 or target_rate <= 0:
            raise ValueError(f"sample rates must be positive, not {orig_rate} → {target_rate}")
        self.orig_rate = orig_rate
        self.target_rate = target_rate
        self._stream = soxr.ResampleStream(orig_rate, target_rate, 1, dtype="float32")

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Mono float32 at `target_rate` for the next chunk (int or float input, any layout)."""
        return self._stream.resample_chunk(to_float32(audio))

    def flush(self) -> np.ndarray:
        """The samples still held in the filter; the resampler is finished afterwards."""
        return self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


def to_float32(audio: np.ndarray) -> np.ndarray:
    """Convert int or float samples (mono, or (n, channels)) to mono float32 in [-1, 1]."""
    a = np.asarray(audio)
    # Scale integers first: mixing channels turns them into floats and loses the scale.
    if a.dtype.kind == "i":
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
    elif a.dtype.kind == "u":
        info = np.iinfo(a.dtype)
        mid = (info.max + 1) / 2
        a = (a.astype(np.float32) - mid) / mid
    if a.ndim == 2:
        # (n, channels) is the usual layout; (channels, n) when channels is the short axis.
        a = a.mean(axis=1) if a.shape[1] <= a.shape[0] else a.mean(axis=0)
    return np.ascontiguousarray(a, dtype=np.float32)


def float_to_pcm16(audio: np.ndarray) -> bytes:
    """Mono float32 in [-1, 1] → PCM16 little-endian bytes (clipped)."""
    a = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return (a * 32767.0).astype("<i2").tobytes()


def pcm16_to_float(data: bytes | bytearray | memoryview) -> np.ndarray:
    """PCM16 little-endian bytes → mono float32 in [-1, 1]."""
    return np.frombuffer(bytes(data), dtype="<i2").astype(np.float32) / 32768.0
