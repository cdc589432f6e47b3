"""Kaldi-compatible 80-bin log mel filterbank in numpy (the CAM++ speaker model's input).

Same as `torchaudio.compliance.kaldi.fbank` / kaldifeat with the options CAM++ was trained
with: 25 ms frames every 10 ms (`snip_edges`), DC offset removed, pre-emphasis 0.97, Povey
window, FFT padded to 512, power spectrum, 80 triangular mel bins (Kaldi's mel scale,
1127·ln(1 + f/700)) from 20 Hz to Nyquist, natural log floored at float32 epsilon, no dither.
`scripts/convert_diarization_models.py` checks it against the C++ extractor shipped in the
source wheel.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
FRAME = 400
SHIFT = 160
N_FFT = 512
N_BINS = 80
LOW_HZ = 20.0
PREEMPH = 0.97
_EPS = float(np.finfo(np.float32).eps)


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def kaldi_mel_banks(
    n_bins: int = N_BINS, n_fft: int = N_FFT, sr: int = SAMPLE_RATE, low: float = LOW_HZ
) -> np.ndarray:
    """(n_fft // 2 + 1, n_bins) Kaldi mel weights (the Nyquist row is zero, as in Kaldi)."""
    n_half = n_fft // 2
    freqs = np.arange(n_half) * (sr / n_fft)
    mel_low, mel_high = _mel(low), _mel(sr / 2)
    delta = (mel_high - mel_low) / (n_bins + 1)
    m = _mel(freqs)
    out = np.zeros((n_half + 1, n_bins), dtype=np.float64)
    for b in range(n_bins):
        left, centre, right = (mel_low + (b + k) * delta for k in range(3))
        up = (m - left) / (centre - left)
        down = (right - m) / (right - centre)
        out[:n_half, b] = np.maximum(0.0, np.minimum(up, down)) * ((m > left) & (m < right))
    return out.astype(np.float32)


_BANKS = kaldi_mel_banks()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))) ** 0.85
_WINDOW = _WINDOW.astype(np.float32)


def fbank(audio: np.ndarray) -> np.ndarray:
    """(n_frames, 80) float32 log mel energies of 16 kHz mono float audio.

    `n_frames = 1 + (len(audio) - 400) // 160` (no frames when shorter than 400 samples).
    """
    a = np.asarray(audio, dtype=np.float32).reshape(-1)
    if a.size < FRAME:
        return np.zeros((0, N_BINS), dtype=np.float32)
    n = 1 + (a.size - FRAME) // SHIFT
    frames = np.lib.stride_tricks.as_strided(
        a, shape=(n, FRAME), strides=(a.strides[0] * SHIFT, a.strides[0]), writeable=False
    ).astype(np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True)
    pre = np.empty_like(frames)
    pre[:, 1:] = frames[:, 1:] - PREEMPH * frames[:, :-1]
    pre[:, 0] = frames[:, 0] * (1.0 - PREEMPH)
    spec = np.fft.rfft(pre * _WINDOW, n=N_FFT, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    return np.log(np.maximum(power @ _BANKS, _EPS)).astype(np.float32)
