"""Synthetic corpora for the corpus tests: real speech from ../shared/data cut into 1-4 s
pieces, some mixed with a second piece, resampled to 8-44.1 kHz, plus a few corrupt files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
if not (SHARED / "jfk.wav").exists():  # a worktree one level deeper
    SHARED = REPO.parents[1] / "shared" / "data"
SOURCES = ("jfk.wav", "two_speakers.wav", "ami_trn00.wav", "ami_trn01.wav", "ami_dev00.wav")
RATES = (8000, 16000, 22050, 44100)


def _read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)
        return data / 32768.0, w.getframerate()


def _write(path: Path, x: np.ndarray, rate: int) -> None:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    n = int(round(len(x) * dst / src))
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


def make_corpus(
    folder: Path, n_good: int, n_bad: int, seed: int = 0
) -> tuple[list[Path], list[Path]]:
    """Write `n_good` audio files (in nested folders) and `n_bad` corrupt ones; return both."""
    rng = np.random.default_rng(seed)
    audio = [_read(SHARED / name) for name in SOURCES]
    good, bad = [], []
    for i in range(n_good):
        x, sr = audio[rng.integers(len(audio))]
        length = int(rng.uniform(1.0, 4.0) * sr)
        start = int(rng.integers(0, len(x) - length))
        piece = x[start : start + length].copy()
        if rng.random() < 0.3:  # mix in a quieter second speaker
            y, sr2 = audio[rng.integers(len(audio))]
            y = _resample(y, sr2, sr)
            s2 = int(rng.integers(0, len(y) - length))
            piece = piece + 0.4 * y[s2 : s2 + length]
        piece[: min(8, len(piece))] += np.float32(i * 1e-4)  # every file's bytes differ
        rate = int(RATES[rng.integers(len(RATES))])
        sub = folder / f"batch{i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / f"call{i:04d}.wav"
        _write(p, _resample(piece, sr, rate), rate)
        good.append(p)
    bad_dir = folder / "broken"
    bad_dir.mkdir(parents=True, exist_ok=True)
    for j in range(n_bad):
        p = bad_dir / f"bad{j:03d}{('.wav', '.mp3', '.flac')[j % 3]}"
        kind = j % 3
        if kind == 0:  # random bytes
            p.write_bytes(rng.bytes(2000) + j.to_bytes(4, "little"))
        elif kind == 1:  # text named as audio
            p.write_text(f"this is not audio, file {j}\n")
        else:  # a WAV header cut short
            head = (SHARED / "jfk.wav").read_bytes()[:40]
            p.write_bytes(head + j.to_bytes(4, "little"))
        bad.append(p)
    return good, bad
