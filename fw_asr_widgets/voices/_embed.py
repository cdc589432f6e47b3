"""Voice embeddings of time spans: CAM++ (the diarizer's speaker model) on 1.5 s windows.

A speaker's voice is the normalised mean of the L2-normalised CAM++ embeddings of 1.5 s
windows (0.75 s apart) inside the spans where they speak; spans shorter than 0.4 s are skipped.
The embeddings come from `fw_asr_widgets.local.speakers.embed`, the diarizer's own function
and onnxruntime session (one loaded model in the process).

Decisions: where another speaker's span overlaps, that time is left out unless less than
1 s would remain (overlapped speech mixes two voices into one embedding). `MODEL_ID` is the
first 16 hex digits of the model file's SHA-256: a voice bank records it, and a bank made with
other weights is refused (its embeddings live in another space). Windows step 0.75 s here
(the diarizer's 0.6 s gives its frame labels finer time steps; a voice centroid needs none,
and the identification threshold 0.70 was calibrated with 0.75 s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from fw_asr_widgets.audio import SAMPLE_RATE as SAMPLE_RATE  # re-exported for _bank
from fw_asr_widgets.audio import decode, to_float32
from fw_asr_widgets.local import speakers

DIM = speakers.EMB_DIM
WINDOW = 1.5
STEP = 0.75
MIN_SPAN = 0.4
MIN_CLEAN = 1.0  # s of non-overlapped speech needed before overlapped time is dropped
MODEL_FILE = speakers.EMB_MODEL_FILE

Span = tuple[float, float]


def model_id() -> str:
    """Short SHA-256 of the CAM++ model file (the embedding space a bank belongs to)."""
    return speakers.embedding_model_id()


def load_audio(audio: object) -> np.ndarray:
    """16 kHz mono float32 from a path, bytes, a file object or an array (16 kHz assumed)."""
    if isinstance(audio, np.ndarray):
        a = to_float32(audio)
        return a.mean(axis=1).astype(np.float32) if a.ndim == 2 else a.reshape(-1)
    return decode(audio)  # type: ignore[arg-type]


def embed_windows(audio: np.ndarray, spans: Sequence[Span]) -> np.ndarray:
    """(n, 192) L2-normalised CAM++ embeddings of the windows in `spans` (seconds)."""
    return speakers.embed(audio, spans, window=WINDOW, step=STEP, min_span=MIN_SPAN)


def unit(v: np.ndarray) -> np.ndarray:
    """`v` scaled to length 1 (zero stays zero)."""
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def centroid(audio: np.ndarray, spans: Sequence[Span]) -> tuple[np.ndarray | None, int]:
    """(unit mean embedding or None, number of windows) of the speech in `spans`."""
    emb = embed_windows(audio, spans)
    if emb.shape[0] == 0:
        return None, 0
    return unit(emb.mean(axis=0)).astype(np.float32), int(emb.shape[0])


def _subtract(span: Span, others: Sequence[Span]) -> list[Span]:
    pieces = [span]
    for o0, o1 in others:
        nxt: list[Span] = []
        for s, e in pieces:
            if o1 <= s or o0 >= e:
                nxt.append((s, e))
                continue
            if o0 > s:
                nxt.append((s, o0))
            if o1 < e:
                nxt.append((o1, e))
        pieces = nxt
    return pieces


def _timed(segments: Iterable[object]) -> dict[str, list[Span]]:
    by: dict[str, list[Span]] = {}
    for seg in segments:
        spk, s, e = (
            getattr(seg, "speaker", None),
            getattr(seg, "start", None),
            getattr(seg, "end", None),
        )
        if spk is None or s is None or e is None or e <= s:
            continue
        by.setdefault(str(spk), []).append((float(s), float(e)))
    return by


def _solo(by: dict[str, list[Span]]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for spk, spans in by.items():
        others = [sp for k, v in by.items() if k != spk for sp in v]
        out[spk] = [p for sp in spans for p in _subtract(sp, others) if p[1] - p[0] > 0]
    return out


def speaker_spans(segments: Iterable[object]) -> dict[str, list[Span]]:
    """Per speaker, the time spans where only they speak (all their time if too little is).

    `segments`: objects with `speaker`, `start`, `end` (a transcript's segments); segments
    without a speaker or without times are ignored.
    """
    by = _timed(segments)
    solo = _solo(by)
    return {spk: solo[spk] if _seconds(solo[spk]) >= MIN_CLEAN else by[spk] for spk in by}


def solo_seconds(segments: Iterable[object]) -> dict[str, float]:
    """Per speaker, the seconds they speak with no other speaker's segment overlapping."""
    return {spk: _seconds(sp) for spk, sp in _solo(_timed(segments)).items()}


def overlapped_speakers(segments: Iterable[object]) -> set[str]:
    """The speakers with less than `MIN_CLEAN` s of speech without overlap: their voice is
    measured on overlapped speech (see `speaker_spans`), which mixes voices."""
    return {spk for spk, s in solo_seconds(segments).items() if s < MIN_CLEAN}


def _seconds(spans: Sequence[Span]) -> float:
    return float(sum(e - s for s, e in spans))


def speaker_centroids(
    segments: Iterable[object], audio: np.ndarray
) -> dict[str, tuple[np.ndarray, int, float]]:
    """Per speaker of `segments`: (voice centroid, windows, seconds of speech used)."""
    out: dict[str, tuple[np.ndarray, int, float]] = {}
    for spk, spans in speaker_spans(segments).items():
        c, n = centroid(audio, spans)
        if c is not None:
            out[spk] = (c, n, float(sum(e - s for s, e in spans)))
    return out
