"""The voice-encoder diarizer: the embedded engine's fast path (`FW_ASR_DIARIZER=voice_encoder`).

Silero VAD (bundled with faster-whisper) finds speech; a voice encoder (resemblyzer's
pretrained 3-layer LSTM-256 + linear, converted to `voice_encoder.npz` by
`scripts/convert_voice_encoder.py`, Apache-2.0, see `VOICE_ENCODER_NOTICE.txt`) embeds
overlapping windows of the speech; agglomerative clustering (cosine, average linkage) groups the
windows into speakers; per-frame scores are smoothed into speaker turns. Public names are
re-exported by `fw_asr_widgets.local.diarize`.

Decisions:
- Kept beside the meeting pipeline (`speakers`) because it is several times faster and still
  good on close-microphone calls (benchmarks/RESULTS.md); it lives in its own module so that
  `diarize` holds only the public entry points and the word/segment assignment.
- `Turn` and `_mono16k` live here (the bottom of the two) and are shared by `diarize`.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fw_asr_widgets.local.speakers import check_counts, smooth_runs

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms hop
N_MELS = 40
FRAME_SECONDS = HOP / SAMPLE_RATE
AUDIO_NORM_TARGET_DBFS = -30.0

WEIGHTS_PATH = Path(__file__).with_name("voice_encoder.npz")


# --------------------------------------------------------------------------------------------
# Features


# Slaney mel scale (librosa's default, `htk=False`): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-10) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, f / _F_SP)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log_part, _F_SP * m)


def mel_filterbank(
    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) Slaney-normalised mel filters, as `librosa.filters.mel` makes.

    fmin 0, fmax sample_rate / 2, Slaney mel scale and area normalisation (librosa's defaults,
    which resemblyzer's encoder was trained with).
    """
    fftfreqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    weights = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, None]
    return weights.astype(np.float32)


_MEL_BASIS = mel_filterbank()
_MEL_BLOCK = 4096
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """(n_frames, 40) float32 power mel spectrogram of 16 kHz mono audio (not log).

    Same as resemblyzer's `wav_to_mel_spectrogram` (librosa: 400-sample periodic Hann window,
    160-sample hop, centred frames with reflect padding, |STFT|², 40 Slaney mel bands). Frame
    `i` is centred on sample `i * 160`; there are `len(audio) // 160 + 1` frames.
    """
    a = np.asarray(audio, dtype=np.float32).reshape(-1)
    if a.size == 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    pad = N_FFT // 2
    mode = "reflect" if a.size > pad else "constant"
    padded = np.pad(a, pad, mode=mode)
    n_frames = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded,
        shape=(n_frames, N_FFT),
        strides=(padded.strides[0] * HOP, padded.strides[0]),
        writeable=False,
    )
    out = np.empty((n_frames, N_MELS), dtype=np.float32)
    for i in range(0, n_frames, _MEL_BLOCK):  # in blocks: memory stays flat for long audio
        spec = np.fft.rfft(frames[i : i + _MEL_BLOCK] * _WINDOW, axis=1)
        power = (spec.real**2 + spec.imag**2).astype(np.float32)
        out[i : i + _MEL_BLOCK] = power @ _MEL_BASIS.T
    return out


# --------------------------------------------------------------------------------------------
# Voice encoder


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to one thread while the encoder runs (when threadpoolctl is installed).

    The LSTM's per-step products are small; multi-threaded OpenBLAS spends more time
    synchronising than computing, and is several times slower still on a busy machine.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class VoiceEncoder:
    """Numpy forward pass of resemblyzer's voice encoder (LSTM 40→256 ×3, linear, ReLU, L2).

    Weights come from `voice_encoder.npz` (stored float16, upcast to float32 at load). Use
    `VoiceEncoder.default()` to share one instance per process.
    """

    hidden_size = 256
    embedding_size = 256

    _default: VoiceEncoder | None = None
    _default_lock = threading.Lock()

    def __init__(self, path: str | Path = WEIGHTS_PATH) -> None:
        with np.load(path) as z:
            n_layers = int(z["num_layers"])
            h = int(z["hidden_size"])
            self.layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            # Torch orders gate rows (i, f, g, o); reorder to (i, f, o, g) so one sigmoid
            # covers the first 3H columns and one tanh the last H.
            order = np.r_[0 : 2 * h, 3 * h : 4 * h, 2 * h : 3 * h]
            for layer in range(n_layers):
                w_ih = z[f"lstm_w_ih_l{layer}"].astype(np.float32)[order]
                w_hh = z[f"lstm_w_hh_l{layer}"].astype(np.float32)[order]
                b = z[f"lstm_b_l{layer}"].astype(np.float32)[order]
                self.layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b))
            self.linear_w = np.ascontiguousarray(z["linear_w"].astype(np.float32).T)
            self.linear_b = z["linear_b"].astype(np.float32)
        self.hidden_size = h

    @classmethod
    def default(cls) -> VoiceEncoder:
        """The process-wide encoder, loaded from the bundled weights on first use."""
        with cls._default_lock:
            if cls._default is None:
                cls._default = cls()
            return cls._default

    def embed_windows(self, mels: np.ndarray, *, batch_size: int = 96) -> np.ndarray:
        """(B, T, 40) mel windows → (B, 256) L2-normalised float32 embeddings.

        Embeds each window as one partial utterance (resemblyzer's `VoiceEncoder.forward`):
        the last layer's final hidden state, linear, ReLU, L2 normalisation.
        """
        x = np.asarray(mels, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != N_MELS:
            raise ValueError(f"expected mel windows of shape (B, T, {N_MELS}), got {x.shape}")
        if x.shape[0] == 0:
            return np.zeros((0, self.embedding_size), dtype=np.float32)
        if x.shape[1] == 0:
            raise ValueError("mel windows must have at least one frame")
        with _one_blas_thread():
            out = [self._forward(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        return np.concatenate(out, axis=0)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        b, t, _ = x.shape
        hs = self.hidden_size
        seq = np.ascontiguousarray(x.transpose(1, 0, 2))  # time-major: (T, B, features)
        h = np.zeros((b, hs), dtype=np.float32)
        g = np.empty((b, 4 * hs), dtype=np.float32)
        for li, (w_ih, w_hh, bias) in enumerate(self.layers):
            last = li == len(self.layers) - 1
            gx = (seq.reshape(t * b, -1) @ w_ih).reshape(t, b, 4 * hs)
            gx += bias
            h = np.zeros((b, hs), dtype=np.float32)
            c = np.zeros((b, hs), dtype=np.float32)
            outs = None if last else np.empty((t, b, hs), dtype=np.float32)
            for step in range(t):
                np.matmul(h, w_hh, out=g)
                g += gx[step]
                sig = _sigmoid(g[:, : 3 * hs])  # input, forget, output gates
                c *= sig[:, hs : 2 * hs]
                c += sig[:, :hs] * np.tanh(g[:, 3 * hs :])
                h = sig[:, 2 * hs :] * np.tanh(c)
                if outs is not None:
                    outs[step] = h
            if outs is not None:
                seq = outs
        e = np.maximum(h @ self.linear_w + self.linear_b, 0.0)
        norm = np.linalg.norm(e, axis=1, keepdims=True)
        return (e / np.maximum(norm, 1e-12)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Diarization


@dataclass(frozen=True)
class Turn:
    """One speaker turn: `speaker` (`SPEAKER_00`, …) speaks from `start` to `end` seconds."""

    start: float
    end: float
    speaker: str


WINDOW_FRAMES = 150  # 1.5 s embedding windows …
WINDOW_HOP = 50  # … every 0.5 s of speech
MIN_SPEECH_FRAMES = 50  # below 0.5 s of speech there is nothing to cluster: one speaker
MAX_SPEAKERS = 8
CLUSTER_THRESHOLD = 0.26  # average-linkage cosine distance above which large clusters stay apart
MIN_CLUSTER_FRACTION = 0.1  # smaller clusters are not speakers (transitions, noise)
MAX_CLUSTER_WINDOWS = 1500  # cluster at most this many windows (pdist is quadratic)
MIN_RUN_FRAMES = 25  # label runs shorter than 0.25 s of speech join a neighbour
MERGE_GAP = 0.5  # same-speaker turns separated by less silence than this (s) are joined


def _mono16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Float32 mono 16 kHz copy of `audio`; ValueError for non-mono or non-finite samples."""
    from fw_asr_widgets.audio import resample, to_float32

    a = to_float32(audio)
    if a.ndim != 1:
        raise ValueError(f"expected mono audio, got shape {np.shape(audio)}")
    if a.size and not np.isfinite(a).all():
        raise ValueError("audio contains NaN or infinite samples")
    if sample_rate != SAMPLE_RATE:
        a = resample(a, sample_rate, SAMPLE_RATE)
    return np.ascontiguousarray(a, dtype=np.float32)


def _speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """Speech (start, end) sample ranges from faster-whisper's bundled Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=0.5, min_silence_duration_ms=100, speech_pad_ms=30)
    stamps = get_speech_timestamps(audio, opts, sampling_rate=SAMPLE_RATE)
    return [(int(s["start"]), int(s["end"])) for s in stamps if s["end"] > s["start"]]


def _centroids(emb: np.ndarray, labels: np.ndarray, which: np.ndarray) -> np.ndarray:
    cent = np.stack([emb[labels == c].mean(axis=0) for c in which])
    return cent / np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)


def _cluster(emb: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Speaker centroids (k, 256) from window embeddings: agglomerative, cosine, average linkage.

    The speaker count is 1 + the number of merges above `CLUSTER_THRESHOLD` that join two
    large clusters (each at least `MIN_CLUSTER_FRACTION` of the windows), clamped to
    [lo, hi]. Small clusters (windows straddling a speaker change, noise) are no speakers:
    their windows go to the nearest large one, then every window is reassigned to its nearest
    centroid a few times.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    n_all = emb.shape[0]
    sub = emb
    if n_all > MAX_CLUSTER_WINDOWS:  # evenly spread subset; all windows are reassigned below
        sub = emb[np.linspace(0, n_all - 1, MAX_CLUSTER_WINDOWS).round().astype(int)]
    n = sub.shape[0]
    hi = min(hi, n)
    lo = min(lo, hi)
    mean = emb.mean(axis=0, keepdims=True)
    if n < 2 or hi == 1:
        return mean / np.linalg.norm(mean)
    z = linkage(pdist(sub.astype(np.float64), "cosine"), method="average")
    min_size = max(2, int(np.ceil(MIN_CLUSTER_FRACTION * n)))
    child_size = np.where(z[:, :2] < n, 1, z[np.maximum(z[:, :2].astype(int) - n, 0), 3])
    splits = int(np.sum((z[:, 2] > CLUSTER_THRESHOLD) & (child_size.min(axis=1) >= min_size)))
    k = max(lo, min(hi, 1 + splits))
    if k == 1:
        return mean / np.linalg.norm(mean)
    for cut in range(k, min(n, 4 * k + 20) + 1):
        labels = fcluster(z, cut, criterion="maxclust") - 1
        sizes = np.bincount(labels)
        keep = np.argsort(-sizes, kind="stable")
        if np.sum(sizes >= min_size) >= k:
            break
    else:  # k forced by min_speakers beyond what the data shows: take k clusters as they come
        labels = fcluster(z, k, criterion="maxclust") - 1
        keep = np.argsort(-np.bincount(labels), kind="stable")
    cent = _centroids(sub, labels, keep[:k])
    for _ in range(3):
        assign = np.argmax(emb @ cent.T, axis=1)
        if len(np.unique(assign)) < k:
            break
        cent = _centroids(emb, assign, np.arange(k))
    return cent


def _label_frames(mel: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """One speaker index per speech frame (speech-only timeline of mel frames)."""
    n = mel.shape[0]
    win = min(WINDOW_FRAMES, n)
    starts = list(range(0, n - win + 1, WINDOW_HOP))
    if starts[-1] + win < n:
        starts.append(n - win)
    enc = VoiceEncoder.default()
    chunk = 384  # windows stacked at a time: memory stays flat for long audio
    emb = np.concatenate(
        [
            enc.embed_windows(np.stack([mel[s : s + win] for s in starts[i : i + chunk]]))
            for i in range(0, len(starts), chunk)
        ]
    )
    cent = _cluster(emb, lo, hi)
    if cent.shape[0] == 1:
        return np.zeros(n, dtype=int)
    # Each frame: mean similarity to each centroid over the windows that cover it.
    sim = emb @ cent.T
    score = np.zeros((n + 1, cent.shape[0]))
    count = np.zeros(n + 1)
    st = np.asarray(starts)
    np.add.at(score, st, sim)
    np.add.at(score, st + win, -sim)
    np.add.at(count, st, 1)
    np.add.at(count, st + win, -1)
    score, count = np.cumsum(score, axis=0)[:n], np.cumsum(count)[:n]
    return smooth_runs(np.argmax(score / np.maximum(count, 1)[:, None], axis=1), MIN_RUN_FRAMES)


def _turns(idx: np.ndarray, labels: np.ndarray) -> list[Turn]:
    """Runs of equal labels over speech frames → turns, named in order of first appearance.

    Turns of one speaker separated by less than `MERGE_GAP` of silence are joined.
    """
    if idx.size == 0:
        return []
    gap = (np.diff(idx) - 1) * FRAME_SECONDS
    breaks = np.flatnonzero((np.diff(labels) != 0) | (gap >= MERGE_GAP)) + 1
    first = np.r_[0, breaks]
    last = np.r_[breaks, idx.size] - 1
    names: dict[int, str] = {}
    out = []
    for f0, f1 in zip(first.tolist(), last.tolist(), strict=True):
        name = names.setdefault(int(labels[f0]), f"SPEAKER_{len(names):02d}")
        start, end = idx[f0] * FRAME_SECONDS, (idx[f1] + 1) * FRAME_SECONDS
        out.append(Turn(round(float(start), 3), round(float(end), 3), name))
    return out


# The same keyword signature as `diarize.diarize` on purpose: the two diarizers are
# interchangeable (`FW_ASR_DIARIZER`).
def diarize_voice_encoder(
    audio: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> list[Turn]:
    """The voice-encoder diarizer (fast path): speaker turns in time order, never overlapping.

    Speakers are labelled `SPEAKER_00`, `SPEAKER_01`, … in order of first appearance. Without
    `min_speakers`/`max_speakers` the count is estimated (a distance threshold) within [1, 8].
    Silence or empty audio gives no turns; speech too short to cluster (< 0.5 s) is one
    speaker. Raises `ValueError` for bad speaker counts or non-finite samples.
    """
    lo, hi = check_counts(min_speakers, max_speakers, default_max=MAX_SPEAKERS)
    a = _mono16k(audio, sample_rate)
    if a.size < N_FFT:
        return []
    regions = _speech_regions(a)
    if not regions:
        return []
    speech = np.zeros(a.size // HOP + 1, dtype=bool)
    for s, e in regions:
        speech[int(round(s / HOP)) : int(round(e / HOP))] = True
    idx = np.flatnonzero(speech)  # speech frames, concatenated into a speech-only timeline
    if idx.size == 0:
        return []
    if idx.size < MIN_SPEECH_FRAMES:
        return _turns(idx, np.zeros(idx.size, dtype=int))
    # The encoder takes power (not log) mel frames, so loudness matters: bring the speech to
    # -30 dBFS RMS (resemblyzer's target), up or down.
    seg = np.concatenate([a[s:e] for s, e in regions]).astype(np.float64)
    rms = float(np.sqrt(np.mean(seg**2)))
    gain = 10 ** ((AUDIO_NORM_TARGET_DBFS - 20 * np.log10(rms)) / 20) if rms > 0 else 1.0
    mel = mel_frames(a)[idx] * np.float32(gain**2)
    return _turns(idx, _label_frames(mel, lo, hi))
