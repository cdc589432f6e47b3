"""Offline speaker diarization for the embedded engine (no torch, no resemblyzer at run time).

Two diarizers:
- `diarize` (the default): the meeting pipeline of `fw_asr_widgets.local.speakers`
  (pyannote segmentation-3.0 + CAM++ embeddings + spectral clustering, with onnxruntime);
  overlap-aware, it holds up on quiet far-field meetings.
- `diarize_voice_encoder` (the earlier one, ~3× faster, kept as a fast path; select it for
  the server with `FW_ASR_DIARIZER=voice_encoder`): Silero VAD (bundled with faster-whisper)
  finds speech; a voice encoder (resemblyzer's pretrained 3-layer LSTM-256 + linear, converted
  to `voice_encoder.npz` by `scripts/convert_voice_encoder.py`, Apache-2.0, see
  `VOICE_ENCODER_NOTICE.txt`) embeds overlapping windows of the speech; agglomerative
  clustering (cosine, average linkage) groups the windows into speakers; per-frame scores are
  smoothed into speaker turns.

`diarize_response` applies the turns to a verbose_json transcription: word times are clamped
to detected speech, every word gets a `speaker_id` (the turn it overlaps most), and segments
are split where the speaker changes, at sentence ends and at pauses over `MAX_GAP`.

Decisions:
- Diarization stands on its own speech analysis; words are assigned to it, not the reverse,
  so speech without recognised words still has speakers and a Whisper segment stretched over
  silence does not become a turn.
- A run of at most `SHORT_RUN_WORDS` words that continues an unfinished sentence (the previous
  word does not end in . ? !) keeps the previous speaker: a turn boundary a few hundred ms
  off must not cut "…from Chicago | also." across speakers.
- A segment's span is its words' span widened to its speaker's turn (never over another
  segment's words), so segments cover the speech the diarizer heard, not only Whisper's word
  estimates; turns of different speakers may overlap where both talk.
- A word outside any detected speech keeps at most `MAX_GAP` s (its end is kept: Whisper
  stretches word starts back over silence); a word shorter than `MIN_WORD` is given 100 ms (up
  to the next word, at least `MIN_WORD`).
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms hop
N_MELS = 40
FRAME_SECONDS = HOP / SAMPLE_RATE
AUDIO_NORM_TARGET_DBFS = -30.0

WEIGHTS_PATH = Path(__file__).with_name("voice_encoder.npz")


# --------------------------------------------------------------------------------------------
# Features


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa's default, `htk=False`)."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    mels = f / f_sp
    return np.where(
        f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


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


def analyse(
    audio: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    seg: tuple[np.ndarray, ...] | None = None,
) -> Any:
    """The meeting pipeline's `speakers.Analysis` (turns, speech frames, overlap) of `audio`.

    `seg`: the segmentation output already computed for 16 kHz `audio` (the engine's).
    """
    from fw_asr_widgets.local import speakers

    _check_counts(min_speakers, max_speakers)
    a = _mono16k(audio, sample_rate)
    return speakers.analyse(a, min_speakers=min_speakers, max_speakers=max_speakers, seg=seg)


def diarize(
    audio: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> list[Turn]:
    """Who spoke when in mono `audio` (float or int samples): speaker turns in time order.

    The meeting pipeline (`fw_asr_widgets.local.speakers`): turns of two speakers overlap
    where both talk. Speakers are labelled `SPEAKER_00`, `SPEAKER_01`, … in order of first
    appearance; without `min_speakers`/`max_speakers` the count is estimated within [1, 15].
    Silence or empty audio gives no turns. Raises `ValueError` for bad speaker counts or
    non-finite samples.
    """
    an = analyse(
        audio, sample_rate=sample_rate, min_speakers=min_speakers, max_speakers=max_speakers
    )
    return [Turn(t.start, t.end, t.speaker) for t in an.turns]


def _speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """Speech (start, end) sample ranges from faster-whisper's bundled Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=0.5, min_silence_duration_ms=100, speech_pad_ms=30)
    stamps = get_speech_timestamps(audio, opts, sampling_rate=SAMPLE_RATE)
    return [(int(s["start"]), int(s["end"])) for s in stamps if s["end"] > s["start"]]


def _check_counts(min_speakers: int | None, max_speakers: int | None) -> tuple[int, int]:
    for name, v in (("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    lo = 1 if min_speakers is None else int(min_speakers)
    hi = max(MAX_SPEAKERS, lo) if max_speakers is None else int(max_speakers)
    if lo > hi:
        raise ValueError(f"min_speakers ({lo}) is greater than max_speakers ({hi})")
    return lo, hi


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
    from fw_asr_widgets.local.speakers import smooth_runs

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
    lo, hi = _check_counts(min_speakers, max_speakers)
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


# --------------------------------------------------------------------------------------------
# Applying turns to a transcription


def _speaker_for(start: float, end: float, t0: np.ndarray, t1: np.ndarray, names: list[str]) -> str:
    """The speaker overlapping [start, end] most; the nearest turn when none overlaps."""
    overlap = np.minimum(end, t1) - np.maximum(start, t0)
    if end > start and overlap.max() > 0:
        per: dict[str, float] = {}
        for i in np.flatnonzero(overlap > 0):
            per[names[i]] = per.get(names[i], 0.0) + float(overlap[i])
        return max(per, key=lambda k: per[k])
    mid = 0.5 * (start + end)
    gap = np.maximum(t0 - mid, 0) + np.maximum(mid - t1, 0)
    return names[int(np.argmin(gap))]


def _time(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _label_words(words: list[dict], t0: np.ndarray, t1: np.ndarray, names: list[str]) -> None:
    """Set `speaker_id` on each word (in place); untimed words take their neighbour's."""
    last: str | None = None
    pending: list[dict] = []
    for w in words:
        s, e = _time(w.get("start")), _time(w.get("end"))
        if not names:
            w["speaker_id"] = None
            continue
        if s is None and e is None:
            w["speaker_id"] = last
            if last is None:
                pending.append(w)
            continue
        s = e if s is None else s
        e = s if e is None else e
        last = w["speaker_id"] = _speaker_for(s, max(e, s), t0, t1, names)
        for p in pending:
            p["speaker_id"] = last
        pending.clear()


def _join(words: list[dict]) -> str:
    """Segment text from its words: Whisper-style words carry their leading space."""
    texts = [str(w.get("word", "")) for w in words]
    if any(t[:1].isspace() for t in texts[1:]):
        return "".join(texts).strip()
    return " ".join(t.strip() for t in texts if t.strip())


def _owners(words: list[dict], segments: list[Any]) -> list[int]:
    """Index of the segment each word belongs to: the one holding its midpoint, else nearest."""
    bounds = []
    for seg in segments:
        s0 = _time(seg.get("start")) if isinstance(seg, dict) else None
        s1 = _time(seg.get("end")) if isinstance(seg, dict) else None
        bounds.append((np.inf, -np.inf) if s0 is None or s1 is None else (s0, max(s0, s1)))
    b0 = np.array([b[0] for b in bounds], dtype=np.float64).reshape(-1)
    b1 = np.array([b[1] for b in bounds], dtype=np.float64).reshape(-1)
    owners: list[int] = []
    for w in words:
        s, e = _time(w.get("start")), _time(w.get("end"))
        if (s is None and e is None) or b0.size == 0 or not np.isfinite(b0).any():
            owners.append(owners[-1] if owners else 0)
            continue
        mid = 0.5 * ((s if s is not None else e) + (e if e is not None else s))  # type: ignore[operator]
        gap = np.maximum(b0 - mid, 0) + np.maximum(mid - b1, 0)
        gap[~np.isfinite(gap)] = np.inf
        owners.append(int(np.argmin(gap)))
    return owners


MAX_GAP = 1.0  # s of non-speech a word may span, and the pause that always ends a segment
SHORT_RUN_WORDS = 2
MIN_WORD = 0.05  # s: shorter words (Whisper gives some zero-length ones) are lengthened
CONTINUE_GAP = 0.5
_SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")


def _ends_sentence(word: dict) -> bool:
    return str(word.get("word", "")).strip().endswith(_SENTENCE_END)


def _clamp_words(words: list[dict], regions: list[tuple[float, float]]) -> None:
    """Fit word times (in place) to the detected speech `regions` (sorted, seconds)."""
    if not regions:
        return
    r0 = np.array([r[0] for r in regions])
    r1 = np.array([r[1] for r in regions])
    for i, w in enumerate(words):
        s, e = _time(w.get("start")), _time(w.get("end"))
        if s is None or e is None:
            continue
        e = max(e, s)
        ov = np.minimum(e, r1) - np.maximum(s, r0)
        hit = np.flatnonzero(ov > 0)
        if hit.size:
            # Keep the part in the speech region the word overlaps most.
            k = hit[int(np.argmax(ov[hit]))]
            s, e = max(s, float(r0[k])), min(e, float(r1[k]))
        elif e - s > MAX_GAP:
            s = e - MAX_GAP
        if e - s < MIN_WORD:
            nxt = _time(words[i + 1].get("start")) if i + 1 < len(words) else None
            e = s + 0.1 if nxt is None or nxt <= s else min(s + 0.1, max(nxt, s + MIN_WORD))
        w["start"], w["end"] = round(s, 3), round(e, 3)


def _keep_sentences(words: list[dict]) -> None:
    """Words finishing an unfinished sentence right after it keep the previous speaker.

    When the speaker changes after a word that does not end a sentence, the next words up to
    the first sentence end (at most `SHORT_RUN_WORDS`, starting within `CONTINUE_GAP` s) go
    to the previous speaker.
    """
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and words[j].get("speaker_id") == words[i].get("speaker_id"):
            j += 1
        if i > 0 and not _ends_sentence(words[i - 1]):
            k = i
            while k < j - 1 and not _ends_sentence(words[k]):
                k += 1
            pe, ws = _time(words[i - 1].get("end")), _time(words[i].get("start"))
            close = pe is None or ws is None or ws - pe < CONTINUE_GAP
            if (
                k + 1 - i <= SHORT_RUN_WORDS
                and close
                and (k + 1 < j or _ends_sentence(words[k]) or j - i <= SHORT_RUN_WORDS)
            ):
                for w in words[i : k + 1]:
                    w["speaker_id"] = words[i - 1].get("speaker_id")
                if k + 1 < j:
                    i = k + 1
                    continue
        i = j


def _pieces(words: list[dict]) -> list[list[dict]]:
    """Split a segment's words at speaker changes, sentence ends and pauses over MAX_GAP."""
    runs: list[list[dict]] = []
    for w in words:
        if runs:
            prev = runs[-1][-1]
            pe, ws = _time(prev.get("end")), _time(w.get("start"))
            same = prev.get("speaker_id") == w.get("speaker_id")
            pause = pe is not None and ws is not None and ws - pe > MAX_GAP
            if same and not pause and not _ends_sentence(prev):
                runs[-1].append(w)
                continue
        runs.append([w])
    return runs


def _widen(
    segments: list[dict], turns: list[Turn], overlap: list[tuple[float, float]] | None = None
) -> None:
    """Widen each segment (in place) to its speaker's turn, never over another's words except
    inside `overlap` (where the diarizer hears two speakers: there segments overlap too)."""
    first = [_time(s["words"][0].get("start")) if s.get("words") else None for s in segments]
    last = [_time(s["words"][-1].get("end")) if s.get("words") else None for s in segments]
    both = overlap or []
    for i, seg in enumerate(segments):
        s0, s1 = _time(seg.get("start")), _time(seg.get("end"))
        if s0 is None or s1 is None or seg.get("speaker_id") is None:
            continue
        lo = max([x for x in last[:i] if x is not None], default=0.0)
        hi = min([x for x in first[i + 1 :] if x is not None], default=np.inf)
        # Inside an overlap region the bound moves to the region's edge.
        lo = min([o0 for o0, o1 in both if o0 < lo <= o1] + [lo])
        hi = max([o1 for o0, o1 in both if o0 <= hi < o1] + [hi])
        for t in turns:
            if t.speaker != seg["speaker_id"]:
                continue
            if t.start <= s0 <= t.end:
                s0 = min(s0, max(t.start, lo))  # widened, never narrowed
            if t.start <= s1 <= t.end:
                s1 = max(s1, min(t.end, hi))
        seg["start"], seg["end"] = round(s0, 3), round(max(s1, s0), 3)
        for key, src in (("audio_start", "start"), ("audio_end", "end")):
            if _time(seg.get(key)) is not None:
                seg[key] = seg[src]


def assign_speakers(
    response: dict,
    turns: list[Turn],
    *,
    speech: list[tuple[float, float]] | None = None,
    overlap: list[tuple[float, float]] | None = None,
) -> dict:
    """A copy of a verbose_json `response` with `speaker_id` on words and segments.

    With `speech` (detected speech regions in seconds), word times are first fitted to it (see
    the module's decisions). Each word gets the speaker it overlaps most (the nearest turn when
    it overlaps none); a short run continuing an unfinished sentence keeps the previous
    speaker. A segment is split where its words change speaker, end a sentence, or pause over
    `MAX_GAP`. New segments rebuild `text`, `start` and `end` (and `audio_start`/`audio_end`
    when set) from their words, widened to their speaker's turn when `speech` is given (over
    another speaker's words only inside `overlap`, the stretches where two talk), carry
    `speaker_id`, keep the segment's other fields, and are renumbered 0..n-1. Segments without
    words get the speaker they overlap most. With no turns at all, every `speaker_id` is None.
    """
    out = copy.deepcopy(response)
    t0 = np.array([t.start for t in turns], dtype=np.float64)
    t1 = np.array([t.end for t in turns], dtype=np.float64)
    names = [t.speaker for t in turns]
    top_words = out.get("words")
    segments = out.get("segments")
    seg_words = [
        w
        for seg in (segments if isinstance(segments, list) else [])
        if isinstance(seg, dict) and isinstance(seg.get("words"), list)
        for w in seg["words"]
    ]
    for group in (top_words if isinstance(top_words, list) else [], seg_words):
        if speech is not None:
            _clamp_words(group, speech)
        _label_words(group, t0, t1, names)
        if names:
            _keep_sentences(group)
    if not isinstance(segments, list):
        return out

    # Segments that carry no `words` of their own take the top-level words whose midpoint
    # falls inside them (or, in a gap, the nearest segment).
    pool = top_words if isinstance(top_words, list) else []
    owner = _owners(pool, segments)
    new_segments: list[dict] = []
    for si, seg in enumerate(segments):
        if not isinstance(seg, dict):
            continue
        has_words = isinstance(seg.get("words"), list) and len(seg["words"]) > 0
        words = (
            seg["words"] if has_words else [w for w, o in zip(pool, owner, strict=True) if o == si]
        )
        if not words:
            seg = dict(seg)
            s0, s1 = _time(seg.get("start")), _time(seg.get("end"))
            if names and s0 is not None and s1 is not None:
                seg["speaker_id"] = _speaker_for(s0, s1, t0, t1, names)
            else:
                seg["speaker_id"] = None
            new_segments.append(seg)
            continue
        runs = _pieces(words) if names else [words]
        for run in runs:
            piece = {k: copy.deepcopy(v) for k, v in seg.items() if k != "words"}
            starts = [x for x in (_time(w.get("start")) for w in run) if x is not None]
            ends = [x for x in (_time(w.get("end")) for w in run) if x is not None]
            if len(runs) > 1 or starts:
                piece["start"] = min(starts) if starts else seg.get("start")
                piece["end"] = max(ends) if ends else seg.get("end")
            for key, src in (("audio_start", "start"), ("audio_end", "end")):
                if _time(piece.get(key)) is not None:
                    piece[key] = piece[src]
            piece["text"] = _join(run)
            piece["speaker_id"] = run[0].get("speaker_id")
            if has_words:
                piece["words"] = run
            new_segments.append(piece)
    if speech is not None and names:
        _widen(new_segments, turns, overlap)
    for i, seg in enumerate(new_segments):
        seg["id"] = i
    out["segments"] = new_segments
    return out


def diarize_response(
    audio: np.ndarray,
    response: dict,
    *,
    min_speakers: int | None,
    max_speakers: int | None,
    seg: tuple[np.ndarray, ...] | None = None,
) -> dict:
    """Diarize 16 kHz mono `audio` and apply the turns to its verbose_json `response`.

    Returns a new dict (the input is not modified): see `assign_speakers`. The meeting
    pipeline is used unless the environment sets `FW_ASR_DIARIZER=voice_encoder`.
    """
    if os.environ.get("FW_ASR_DIARIZER", "").strip().lower() == "voice_encoder":
        turns = diarize_voice_encoder(audio, min_speakers=min_speakers, max_speakers=max_speakers)
        return assign_speakers(response, turns)
    an = analyse(audio, min_speakers=min_speakers, max_speakers=max_speakers, seg=seg)
    turns = [Turn(t.start, t.end, t.speaker) for t in an.turns]
    return assign_speakers(response, turns, speech=an.regions, overlap=an.overlap)
