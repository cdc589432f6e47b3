"""Meeting diarization with onnxruntime: who speaks when, with overlap, in far-field audio.

Length (over 500 lines): one pipeline read top to bottom whose steps share the 10 ms grid,
the two sessions and the measured constants; a third of it is the decisions below.

Pipeline (all CPU, no torch):

1. Speech and overlap from pyannote `segmentation-3.0` (ONNX, MIT) on 10 s windows every
   `SEG_STEP` s: each window gives 7 powerset probabilities per 16.9 ms frame (nobody, one of
   three local speakers, or two of them); averaged over windows onto a 10 ms grid they give
   P(speech) and the expected number of simultaneous speakers.
2. Speaker embeddings from CAM++ (ONNX, Apache-2.0; input the Kaldi fbank of `_fbank`) on
   1.5 s windows every 0.6 s inside speech (`embed`/`embed_spans`, public: `voices` uses them
   too, on the same onnxruntime session).
3. Spectral clustering of the embeddings (cosine affinity, row-wise p-pruning, unnormalised
   Laplacian, eigengap speaker count within [min_speakers, max_speakers], k-means on the
   spectral embedding), then clusters smaller than `MIN_CLUSTER` windows are absorbed and
   clusters whose centroids are more alike than `MERGE_COS` are merged.
4. Each 10 ms speech frame takes the cluster whose centroid is most like the windows covering
   it; where the segmentation hears two speakers, the second-best cluster speaks too.

Decisions (measured on the 12 AMI snippets and the phone call in ../shared/data; see
benchmarks/RESULTS.md): parameters start from 3D-Speaker's diarization recipe (p-value 0.012,
minimum cluster size 4, merge above cosine 0.875), changed where the snippets measured better
on the diarizer's own turns (mean AMI DER 37% → 28%): P(speech) threshold 0.35 instead of 0.5,
the normalised Laplacian, at least 30% of neighbours kept per affinity row, merge above cosine
0.8. Fewer than `MIN_WINDOWS` embedding windows is one speaker.
Measured and not kept: starting the eigengap search at the most distinct local speakers one
segmentation window heard (pyannote's heuristic) got the count right on 4 instead of 3 of 12
snippets but raised mean AMI DER through the API from 30.0% to 30.4% (ami_trn08: 4 speakers
found, 52% → 66% DER); NME-SC's p sweep and agglomerative clustering (complete/average
linkage, cosine thresholds 0.5-0.8) did no better; every extra cluster took frames from the
main speaker. Short talkers (0.4-3 s) get one or two 1.5 s windows here: counting them needs
embeddings per local speaker of each segmentation window, as pyannote does. `SEG_STEP` 2.5 s
(or 2 s) saved ~23% CPU but cost 3.3 (0.9) points of mean DER on the diarizer's own turns;
`EMB_STEP` 1.0 s cost 5.4.
Measured and not kept: pyannote's own scheme (one CAM++ embedding per segmentation window and
local speaker, over that speaker's non-overlapped frames; agglomerative clustering of those
(average/complete/centroid linkage, cosine thresholds 0.3-0.8, clusters under 0.3-1 s of
speech absorbed); each window's local speakers assigned to clusters (Hungarian: two local
speakers of a window are two people); frame labels rebuilt from the segmentation's
activations). On the diarizer's own turns it scored mean AMI DER 27-35% against 24.3% here,
with the count right on at most 6 of 12 (then at 30.3%); two_speakers.wav 0-2%. The cause is
measured: on ami_dev01 segmentation-3.0 puts both men into one local speaker in every 10 s
window (the window at 3 s: 2.4 s of MEE012 and 4.5 s of MEE009 in the same local speaker), so
any label per (window, local speaker) merges them (dev01 28% → 53-69%). Using those labels
only where the 1.5 s windows inside a local speaker agree (mean cosine to their mean ≥ 0.75,
the 1.5 s-window labels elsewhere) helped dev00 and ami_trn03/06/09 but, with its thresholds
chosen by leave-one-out over the twelve snippets (+ two_speakers.wav), scored mean DER 26.9%
with 3 of 12 counts right, no better than this pipeline. Speakers who talk for 0.4-1.5 s in
30 s (ami_trn01/05/07/09) give one or two noisy embeddings in any scheme here.
Also measured and not kept: this pipeline plus those per-local-speaker embeddings (every
window, ≥ 0.5 s alone) grouped by average linkage (cosine distance 0.4), a group with ≥ 1 s
of speech less like every speaker found than cosine 0.7 (between the 0.39-0.56 measured
between two AMI speakers' 1.5 s windows and the 0.75-0.90 within one) added as a speaker.
Own turns: mean DER 24.3% → 22.2% (leave-one-out over the threshold 22.9%), through the API
27.7% → 27.1%, but the count stayed right on 3 of 12 (ami_trn04 gained its third speaker,
ami_dev01 got a phantom third) and the diarizer took about twice as long (every window's
local speakers embedded; every second window lost ami_trn06's gain).
The count itself can be estimated better than it can be placed: the voice-encoder diarizer's
count (`_voice_encoder`, threshold clustering of resemblyzer embeddings) is right on 8 of 12
snippets (own-turn DER 53.7%); forcing this pipeline to that count (min = max = it) gave the
right count on 9 of 12 but mean DER 39.6% (ami_trn00 28% → 56%, ami_trn05 2% → 63%: the
forced clusters split the main speaker), and filling it with the most distinct
local-speaker groups instead left the count at 3 of 12 (1.5 s windows never pick the short
talkers' centroids).
The count's ceiling, measured (so the next attempt starts from it): a method that tells voices
apart where one person talks (every one above) can count a speaker only if they talk alone
somewhere. In ami.rttm every speaker talks alone for ≥ 0.5 s at a stretch in only 6 of the 12
snippets (≥ 1 s: 3 of 12; benchmarks/accuracy.py reports it beside the count); the others' extra
speakers are only heard under someone else (ami_trn09's MEE094: 13 s, all under FEE083). Where a
missed speaker does talk alone (0.4-1.1 s), CAM++ does not set them apart: those runs score
cosine 0.35-0.53 to the nearest speaker found, the found speakers' own short runs 0.42-0.68, and
each snippet's least-alike 0.8 s windows mix both (ami_trn03: 0.34 the missed MEE067, 0.38 the
main speaker). segmentation-3.0's local speakers, stitched across windows (Hungarian on the 9 s
two windows share), do not separate them either (ami_trn05: one track for FEE078 and FEE081;
ami_trn00: two tracks, each part MEE068 and part MÉO069). Its overlap detection is precise (7.2
of the 7.3 s it flags in ami_trn09 are overlap) and hears MEE094, but a voice heard only in
overlap gets no words (a word has one speaker), hence no segment and no count through the API.
The previous engine (voice encoder, turns from Whisper's segments) gives the right count on 8 of
12, but by splitting voices: its speakers are that many different people (each found speaker's
main reference speaker distinct) on 3 of 12, as here (benchmarks/accuracy.py reports both).
Model files and their provenance: `weights/` (MANIFEST.json, NOTICE.txt).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from fw_asr_widgets.local._fbank import fbank

SAMPLE_RATE = 16_000
WEIGHTS = Path(__file__).with_name("weights")
EMB_MODEL_FILE = WEIGHTS / "campplus.onnx"
EMB_DIM = 192
SEG_WINDOW = 160_000  # 10 s
SEG_STEP = 1.0  # s between segmentation windows
SEG_FRAMES = 589
SEG_FRAME_STEP = 270 / SAMPLE_RATE
SEG_FRAME_DURATION = 991 / SAMPLE_RATE
GRID = 0.01  # output frame step (s)
SPEECH_THRESHOLD = 0.35  # far-field speech sits at P ≈ 0.35-0.5; 0.5 loses it
EMB_WINDOW = 1.5
EMB_STEP = 0.6
EMB_MIN = 0.4  # speech regions shorter than this (s) get no embedding of their own
P_VAL = 0.012
MIN_PNUM = 6
MIN_CLUSTER = 4
KEEP_FRACTION = 0.3  # each row of the affinity keeps at least this share of neighbours
NORMALISED = True  # symmetric normalised Laplacian (steadier eigengap on 30 s snippets)
MERGE_COS = 0.8
MIN_WINDOWS = 10
MAX_SPEAKERS = 15
MAX_CLUSTER_WINDOWS = 1200  # spectral clustering on at most this many windows (eigh is cubic)
EMB_BATCH = 8  # CAM++ windows per run (its activations are large: the arena grows with it)
MIN_RUN = 0.3  # label runs shorter than this (s of speech) join a neighbour
MERGE_GAP = 0.5  # same-speaker turns closer than this (s) are joined

T = TypeVar("T", int, float)

# Powerset classes of segmentation-3.0: which local speakers each class holds.
_POWERSET = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32
)


@dataclass(frozen=True)
class Turn:
    """One speaker turn: `speaker` (`SPEAKER_00`, …) speaks from `start` to `end` seconds."""

    start: float
    end: float
    speaker: str


@dataclass
class Analysis:
    """What `analyse` found: turns (overlapping where two speak) and the speech timeline.

    `speech` is one bool per 10 ms frame (frame i covers [i/100, (i+1)/100) s); `regions` are
    the speech runs in seconds; `overlap` the stretches where two speakers talk at once.
    """

    turns: list[Turn]
    speech: np.ndarray
    regions: list[tuple[float, float]]
    overlap: list[tuple[float, float]] = field(default_factory=list)
    speakers: int = 0


class _Models:
    """The two ONNX sessions, each loaded on first use and shared (diarizer and `voices`)."""

    _lock = threading.Lock()
    _default: _Models | None = None

    def __init__(self, weights: Path = WEIGHTS) -> None:
        self._weights = weights
        self._sessions: dict[str, object] = {}

    def _session(self, name: str):  # type: ignore[no-untyped-def]
        with self._lock:
            if name not in self._sessions:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = 2
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                opts.enable_cpu_mem_arena = False  # return activations' memory between runs
                self._sessions[name] = ort.InferenceSession(
                    str(self._weights / name), opts, providers=["CPUExecutionProvider"]
                )
            return self._sessions[name]

    @property
    def seg(self):  # type: ignore[no-untyped-def]
        return self._session("segmentation-3.0.onnx")

    @property
    def emb(self):  # type: ignore[no-untyped-def]
        return self._session(EMB_MODEL_FILE.name)

    @classmethod
    def default(cls) -> _Models:
        # Same lazy process-wide instance as `_voice_encoder.VoiceEncoder.default` (another
        # class; five lines do not earn a shared base).
        with cls._lock:
            if cls._default is None:
                cls._default = cls()
            return cls._default


def load_models() -> None:
    """Load both ONNX models now (otherwise on first use)."""
    m = _Models.default()
    m.seg, m.emb  # noqa: B018 (loads them)


def _seg_windows(n: int) -> list[int]:
    """Start samples of the segmentation windows covering `n` samples."""
    step = int(SEG_STEP * SAMPLE_RATE)
    if n <= SEG_WINDOW:
        return [0]
    starts = list(range(0, n - SEG_WINDOW + 1, step))
    if starts[-1] + SEG_WINDOW < n:
        starts.append(n - SEG_WINDOW)
    return starts


def segmentation(audio: np.ndarray, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(P(speech), expected speaker count) per 10 ms frame, averaged over 10 s windows."""
    models = _Models.default()
    n = audio.size
    n_grid = int(np.ceil(n / SAMPLE_RATE / GRID))
    speech = np.zeros(n_grid, dtype=np.float64)
    count = np.zeros(n_grid, dtype=np.float64)
    hits = np.zeros(n_grid, dtype=np.float64)
    starts = _seg_windows(n)
    # 10 ms grid frame j of a window ↦ segmentation frame whose centre is nearest.
    grid_t = (np.arange(int(SEG_WINDOW / SAMPLE_RATE / GRID)) + 0.5) * GRID
    seg_idx = np.clip(
        np.round((grid_t - SEG_FRAME_DURATION / 2) / SEG_FRAME_STEP).astype(int), 0, SEG_FRAMES - 1
    )
    for b in range(0, len(starts), batch):
        chunk = starts[b : b + batch]
        x = np.zeros((len(chunk), 1, SEG_WINDOW), dtype=np.float32)
        for k, s in enumerate(chunk):
            piece = audio[s : s + SEG_WINDOW]
            x[k, 0, : piece.size] = piece
        probs = np.exp(models.seg.run(None, {"waveform": x})[0])  # (B, 589, 7)
        active = probs @ _POWERSET  # (B, 589, 3) P(local speaker active)
        p_speech = 1.0 - probs[..., 0]
        p_count = active.sum(axis=-1)
        for k, s in enumerate(chunk):
            g0 = int(round(s / SAMPLE_RATE / GRID))
            valid = min(len(seg_idx), n_grid - g0, int(np.ceil((n - s) / SAMPLE_RATE / GRID)))
            if valid <= 0:
                continue
            sl = slice(g0, g0 + valid)
            speech[sl] += p_speech[k, seg_idx[:valid]]
            count[sl] += p_count[k, seg_idx[:valid]]
            hits[sl] += 1
    hits = np.maximum(hits, 1)
    return (speech / hits).astype(np.float32), (count / hits).astype(np.float32)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the True runs of a bool array."""
    if mask.size == 0:
        return []
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _fill_gaps(mask: np.ndarray, max_gap: int, min_run: int) -> np.ndarray:
    """Close False gaps shorter than `max_gap` frames, then drop True runs below `min_run`."""
    out = mask.copy()
    runs = _runs(out)
    for (_s0, e0), (s1, _e1) in itertools.pairwise(runs):
        if s1 - e0 < max_gap:
            out[e0:s1] = True
    for s, e in _runs(out):
        if e - s < min_run:
            out[s:e] = False
    return out


def speech_mask(p_speech: np.ndarray) -> np.ndarray:
    """Speech frames of `segmentation`'s P(speech): above `SPEECH_THRESHOLD`, gaps under 0.1 s
    closed, runs under 0.1 s dropped."""
    return _fill_gaps(p_speech > SPEECH_THRESHOLD, max_gap=int(0.1 / GRID), min_run=int(0.1 / GRID))


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the speech the segmentation model hears in 16 kHz `audio`."""
    if audio.size < SAMPLE_RATE // 10 or not np.any(audio):
        return []
    return [(s * GRID, e * GRID) for s, e in _runs(speech_mask(segmentation(audio)[0]))]


@functools.lru_cache(maxsize=1)
def embedding_model_id() -> str:
    """`campplus-` + the first 16 hex digits of the CAM++ file's SHA-256 (its embedding space)."""
    h = hashlib.sha256()
    with open(EMB_MODEL_FILE, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "campplus-" + h.hexdigest()[:16]


def windows(spans: Iterable[tuple[T, T]], *, window: T, step: T, min_span: T) -> list[tuple[T, T]]:
    """Windows of length `window` every `step` inside each span, the last one ending at its end.

    A span up to `window` long is one window; spans shorter than `min_span` get none. Any one
    unit (seconds, or 10 ms grid frames as the diarizer uses).
    """
    out: list[tuple[T, T]] = []
    for s, e in spans:
        if e - s < min_span:
            continue
        if e - s <= window:
            out.append((s, e))
            continue
        t = s
        while t + window < e:
            out.append((t, t + window))
            t += step
        out.append((max(s, e - window), e))
    return out


def embed_spans(audio: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """(len(spans), 192) CAM++ embeddings, L2-normalised, one per span (seconds) of `audio`.

    A span too short for a single fbank frame gives a zero row. Features are made batch by
    batch of `EMB_BATCH` equal-length spans (never all at once: memory stays flat).
    """
    models = _Models.default()
    emb = np.zeros((len(spans), EMB_DIM), dtype=np.float32)
    pending: dict[int, list[tuple[int, np.ndarray]]] = {}

    def flush(n_frames: int) -> None:
        part = pending.pop(n_frames)
        x = np.stack([f for _, f in part]).astype(np.float32)
        out = models.emb.run(None, {"fbank": x})[0]
        for (i, _), v in zip(part, out, strict=True):
            emb[i] = v

    for i, (s, e) in enumerate(spans):
        f = fbank(audio[int(round(s * SAMPLE_RATE)) : int(round(e * SAMPLE_RATE))])
        if f.shape[0] == 0:
            continue
        pending.setdefault(f.shape[0], []).append((i, f - f.mean(axis=0, keepdims=True)))
        if len(pending[f.shape[0]]) >= EMB_BATCH:
            flush(f.shape[0])
    for n_frames in list(pending):
        flush(n_frames)
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    return np.divide(emb, norm, out=np.zeros_like(emb), where=norm > 0)


def embed(
    audio: np.ndarray,
    spans: Iterable[tuple[float, float]],
    *,
    window: float = EMB_WINDOW,
    step: float = EMB_STEP,
    min_span: float = EMB_MIN,
) -> np.ndarray:
    """(n, 192) unit CAM++ embeddings of the `windows` of `spans` (seconds) in 16 kHz `audio`.

    Windows without features are left out, so n ≤ len(windows(spans, ...)).
    """
    wins = windows(spans, window=window, step=step, min_span=min_span)
    emb = embed_spans(audio, wins)
    return emb[np.any(emb != 0, axis=1)]


def _embed_windows(audio: np.ndarray, regions: list[tuple[int, int]]) -> tuple[np.ndarray, list]:
    """Unit CAM++ embeddings of 1.5 s windows inside speech regions, and the windows (frames)."""
    spans = windows(
        regions, window=int(EMB_WINDOW / GRID), step=int(EMB_STEP / GRID), min_span=EMB_MIN / GRID
    )
    emb = embed_spans(audio, [(s * GRID, e * GRID) for s, e in spans])
    keep = np.any(emb != 0, axis=1)
    return emb[keep], [sp for sp, k in zip(spans, keep, strict=True) if k]


def _spectral(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Labels of the rows of `x` (unit vectors) by spectral clustering with eigengap count."""
    from scipy.cluster.vq import kmeans2

    n = x.shape[0]
    a = x @ x.T
    n_zero = min(int((1 - P_VAL) * n), n - max(MIN_PNUM, int(KEEP_FRACTION * n)))
    if n_zero > 0:
        low = np.argpartition(a, n_zero, axis=1)[:, :n_zero]
        np.put_along_axis(a, low, 0.0, axis=1)
    a = 0.5 * (a + a.T)
    np.fill_diagonal(a, 0.0)
    deg = np.abs(a).sum(axis=1)
    if NORMALISED:
        d = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
        lap = np.eye(n) - d[:, None] * a * d[None, :]
    else:
        lap = np.diag(deg) - a
    lam, vec = np.linalg.eigh(lap)
    hi = min(hi, n - 1)
    lo = min(lo, hi)
    if lo == hi:
        k = lo
    else:
        gaps = np.diff(lam[lo - 1 : hi + 1])
        k = int(np.argmax(gaps)) + lo
    if k <= 1:
        return np.zeros(n, dtype=int)
    emb = vec[:, :k]
    rng = np.random.default_rng(0)
    best, best_inertia = None, np.inf
    for _ in range(5):
        cent, labels = kmeans2(emb, k, minit="++", seed=rng, iter=30)
        inertia = float(((emb - cent[labels]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    assert best is not None
    return best


def _centroids(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.unique(labels)
    c = np.stack([x[labels == i].mean(axis=0) for i in ids])
    return ids, c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)


def cluster(x: np.ndarray, lo: int = 1, hi: int = MAX_SPEAKERS) -> np.ndarray:
    """(k, 192) speaker centroids from window embeddings; k within [lo, hi] when possible."""
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    if (n < MIN_WINDOWS and lo <= 1) or hi == 1 or n < 2:
        return _centroids(x, np.zeros(n, dtype=int))[1]
    sub = x
    if n > MAX_CLUSTER_WINDOWS:
        sub = x[np.linspace(0, n - 1, MAX_CLUSTER_WINDOWS).round().astype(int)]
    labels = _spectral(sub, lo, hi)
    # Absorb clusters too small to be a speaker.
    ids, sizes = np.unique(labels, return_counts=True)
    major = ids[sizes >= MIN_CLUSTER]
    if major.size == 0:
        labels[:] = 0
    elif major.size < ids.size and major.size >= lo:
        cm = np.stack([sub[labels == m].mean(axis=0) for m in major])
        minor = ~np.isin(labels, major)
        labels[minor] = major[np.argmax(sub[minor] @ cm.T, axis=1)]
    # Merge speakers whose centroids are alike (not below lo).
    while True:
        ids, cent = _centroids(sub, labels)
        if ids.size <= max(lo, 1):
            break
        sim = np.triu(cent @ cent.T, 1)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < MERGE_COS:
            break
        labels[labels == ids[j]] = ids[i]
    _, cent = _centroids(sub, labels)
    if n > MAX_CLUSTER_WINDOWS and cent.shape[0] > 1:  # refine on all windows
        for _ in range(3):
            assign = np.argmax(x @ cent.T, axis=1)
            if np.unique(assign).size < cent.shape[0]:
                break
            cent = _centroids(x, assign)[1]
    return cent


def smooth_runs(labels: np.ndarray, min_run: int) -> np.ndarray:
    """Give label runs shorter than `min_run` to the longer neighbouring run."""
    if labels.size == 0:
        return labels
    edges = np.flatnonzero(np.diff(labels)) + 1
    run_labels = list(labels[np.r_[0, edges]].tolist())
    lengths = list(np.diff(np.r_[0, edges, labels.size]).tolist())
    while len(lengths) > 1:
        i = min(range(len(lengths)), key=lengths.__getitem__)
        if lengths[i] >= min_run:
            break
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(lengths) else -1
        n_i = lengths.pop(i)
        run_labels.pop(i)
        lengths[i - 1 if left >= right else i] += n_i
        # The runs either side of the removed one may now be one speaker: join them.
        if 0 < i < len(lengths) and run_labels[i] == run_labels[i - 1]:
            lengths[i - 1] += lengths.pop(i)
            run_labels.pop(i)
    return np.repeat(np.asarray(run_labels, dtype=int), lengths)


def _turns_of(frames: np.ndarray, labels: np.ndarray, names: dict[int, str]) -> Iterator[Turn]:
    """Turns from grid frame indices (sorted) and their labels; gaps ≥ MERGE_GAP split turns."""
    if frames.size == 0:
        return
    gap = (np.diff(frames) - 1) * GRID
    breaks = np.flatnonzero((np.diff(labels) != 0) | (gap >= MERGE_GAP)) + 1
    for f0, f1 in zip(
        np.r_[0, breaks].tolist(), (np.r_[breaks, frames.size] - 1).tolist(), strict=True
    ):
        name = names[int(labels[f0])]
        yield Turn(round(frames[f0] * GRID, 3), round((frames[f1] + 1) * GRID, 3), name)


def _frame_ranking(frames: np.ndarray, sim: np.ndarray, spans: list) -> np.ndarray:
    """(len(frames), 2) best and second-best cluster of each speech frame.

    A frame's score for a cluster is the mean similarity to its centroid of the embedding
    windows covering the frame (the nearest window when none does). Window starts and ends
    are both non-decreasing, so the covering windows are an index range: scores come from
    cumulative sums over windows, in blocks of frames (memory stays flat for long audio).
    """
    st = np.array([s for s, _ in spans])
    en = np.array([e for _, e in spans])
    csum = np.vstack([np.zeros((1, sim.shape[1])), np.cumsum(sim, axis=0)])
    out = np.empty((frames.size, 2), dtype=np.int16)
    for c in range(0, frames.size, 65_536):
        f = frames[c : c + 65_536]
        lo = np.searchsorted(en, f, side="right")  # first window ending after f
        hi = np.searchsorted(st, f, side="right") - 1  # last window starting at or before f
        empty = hi < lo
        if empty.any():  # between windows: the nearer of the two neighbours
            prev = np.clip(lo - 1, 0, len(st) - 1)
            nxt = np.clip(lo, 0, len(st) - 1)
            use_next = np.abs(st[nxt] - f) < np.abs(f - en[prev])
            pick = np.where(use_next, nxt, prev)
            lo = np.where(empty, pick, lo)
            hi = np.where(empty, pick, hi)
        score = (csum[hi + 1] - csum[lo]) / (hi + 1 - lo)[:, None]
        top = np.argsort(-score, axis=1)[:, :2]
        out[c : c + 65_536] = top
    return out


def check_counts(
    min_speakers: int | None, max_speakers: int | None, default_max: int = MAX_SPEAKERS
) -> tuple[int, int]:
    """Validate the speaker-count hints; (lo, hi) with defaults 1 and `default_max`."""
    for name, v in (("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    lo = 1 if min_speakers is None else int(min_speakers)
    hi = max(default_max, lo) if max_speakers is None else int(max_speakers)
    if lo > hi:
        raise ValueError(f"min_speakers ({lo}) is greater than max_speakers ({hi})")
    return lo, hi


def analyse(
    audio: np.ndarray,
    *,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    seg: tuple[np.ndarray, np.ndarray] | None = None,
) -> Analysis:
    """Who spoke when in 16 kHz mono float32 `audio` (see the module docstring).

    Speakers are named `SPEAKER_00`, … in order of first appearance. Turns of two speakers
    overlap where the segmentation hears both. Silence gives no turns. `seg`: the output of
    `segmentation(audio)` when already computed (e.g. by the engine's speech detection).
    """
    lo, hi = check_counts(min_speakers, max_speakers)
    a = np.asarray(audio, dtype=np.float32).reshape(-1)
    n_grid = int(np.ceil(a.size / SAMPLE_RATE / GRID))
    empty = Analysis([], np.zeros(n_grid, dtype=bool), [], [], 0)
    if a.size < SAMPLE_RATE // 10 or not np.any(a):
        return empty
    p_speech, n_spk = segmentation(a) if seg is None else seg
    if p_speech.size != n_grid:
        p_speech = np.resize(p_speech, n_grid) if p_speech.size else np.zeros(n_grid, np.float32)
        n_spk = np.resize(n_spk, n_grid) if n_spk.size else np.zeros(n_grid, np.float32)
    speech = speech_mask(p_speech)
    regions = _runs(speech)
    if not regions:
        return empty
    emb, spans = _embed_windows(a, regions)
    cent = cluster(emb, lo, hi) if emb.shape[0] else np.zeros((0, 192), dtype=np.float32)
    frames = np.flatnonzero(speech)
    k = cent.shape[0]
    if k <= 1:
        best = np.zeros(frames.size, dtype=int)
        second = None
    else:
        order = _frame_ranking(frames, emb @ cent.T, spans)
        best = smooth_runs(order[:, 0], int(MIN_RUN / GRID))
        if np.unique(best).size < min(lo, k):  # smoothing must not undo min_speakers
            best = order[:, 0].astype(int)
        second = order[:, 1]
    # Names in order of first appearance.
    names: dict[int, str] = {}
    for lab in best.tolist():
        if lab not in names:
            names[lab] = f"SPEAKER_{len(names):02d}"
    ov_mask = np.zeros(n_grid, dtype=bool)
    ov_mask[frames] = n_spk[frames] >= 1.5
    ov_mask = _fill_gaps(ov_mask, max_gap=int(0.1 / GRID), min_run=int(0.2 / GRID)) & speech
    turns = list(_turns_of(frames, best, names))
    if second is not None:
        ov_frames = np.flatnonzero(ov_mask[frames])
        sec = np.where(second == best, -1, second)[ov_frames]
        # A second speaker must be one that speaks elsewhere.
        ok = np.isin(sec, list(names))
        if ok.any():
            turns += list(_turns_of(frames[ov_frames[ok]], sec[ok], names))
    turns.sort(key=lambda t: (t.start, t.end))
    return Analysis(
        turns=turns,
        speech=speech,
        regions=[(s * GRID, e * GRID) for s, e in regions],
        overlap=[(s * GRID, e * GRID) for s, e in _runs(ov_mask)],
        speakers=len(names),
    )
