"""Evaluation: word error rate (via jiwer) and diarization error rate (numpy).

`normalize_text` (used by `wer(normalize=True)`): Unicode NFKC, lowercase, every punctuation
or symbol character removed (so "didn't" → "didnt", "U.S." → "us"), whitespace collapsed.
Digits are kept as they are ("3" and "three" differ).

`der`: NIST definition, (missed speech + false alarm + speaker confusion) / reference speech,
with the one-to-one speaker mapping that maximises the overlap (Hungarian algorithm via
scipy when installed, else exhaustive search up to 8 speakers). Regions within ±`collar` s
of every reference segment boundary are left out of the evaluation (as NIST md-eval's
`-c collar`; this is pyannote.metrics' `collar=2*collar`). Overlapping speech counts once
per speaker, even where one speaker's own segments overlap (pyannote.metrics would count
those twice; on well-formed diarizations both agree to 1e-6, checked in the tests).
`skip_overlap=True` leaves out regions where the reference has ≥ 2 speakers.
"""

from __future__ import annotations

import itertools
import unicodedata
from os import PathLike
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from fw_asr_widgets.transcript import formats

if TYPE_CHECKING:
    from fw_asr_widgets.transcript._model import Transcript

__all__ = ["der", "der_components", "normalize_text", "wer"]


def normalize_text(text: str) -> str:
    """NFKC, lowercase, punctuation and symbols removed, whitespace collapsed."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = "".join(" " if unicodedata.category(c)[0] == "Z" else c for c in t)
    t = "".join(c for c in t if unicodedata.category(c)[0] not in "PS")
    return " ".join(t.split())


def _as_text(x: str | Transcript) -> str:
    if isinstance(x, str):
        return x
    if hasattr(x, "segments") and hasattr(x, "text"):  # a Transcript
        return x.text or " ".join(s.text for s in x.segments if s.text)
    raise TypeError(f"expected a str or Transcript, not {type(x).__name__}")


def wer(
    reference: str | Transcript, hypothesis: str | Transcript, *, normalize: bool = True
) -> float:
    """Word error rate of `hypothesis` against `reference` (0.0 = identical)."""
    import jiwer

    ref, hyp = _as_text(reference), _as_text(hypothesis)
    if normalize:
        ref, hyp = normalize_text(ref), normalize_text(hyp)
    else:
        ref, hyp = " ".join(ref.split()), " ".join(hyp.split())
    if not ref:
        if not hyp:
            return 0.0
        raise ValueError("the reference is empty: WER is undefined for a non-empty hypothesis")
    if not hyp:
        return 1.0
    return float(jiwer.wer(ref, hyp))


# ---------------------------------------------------------------------- DER
def _tracks(tr: Transcript) -> dict[str, list[tuple[float, float]]]:
    """Speaker → intervals, from segments (or words when segments carry no speakers)."""
    out: dict[str, list[tuple[float, float]]] = {}
    items: Any = [s for s in tr.segments if s.speaker is not None]
    if not items:
        items = [w for w in tr.words if w.speaker is not None]
    for it in items:
        if it.start is None or it.end is None or not it.end > it.start:
            continue
        out.setdefault(it.speaker, []).append((float(it.start), float(it.end)))
    return out


def _active(intervals: list[tuple[float, float]], mids: np.ndarray) -> np.ndarray:
    """Whether each midpoint lies in the union of `intervals`."""
    iv = sorted(intervals)
    merged: list[list[float]] = []
    for a, b in iv:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    starts = np.array([m[0] for m in merged])
    ends = np.array([m[1] for m in merged])
    k = np.searchsorted(starts, mids, side="right") - 1
    return (k >= 0) & (mids < ends[np.clip(k, 0, None)])


def _best_mapping(m: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (ref, hyp) maximising the summed overlap matrix `m` (one-to-one)."""
    r, h = m.shape
    if r == 0 or h == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(m, maximize=True)
        return list(zip(rows.tolist(), cols.tolist(), strict=True))
    except ImportError:
        pass
    if min(r, h) > 8:
        raise ImportError("DER with more than 8 speakers needs scipy: pip install scipy")
    best: tuple[float, list[tuple[int, int]]] = (-1.0, [])
    if r <= h:
        for perm in itertools.permutations(range(h), r):
            pairs = list(zip(range(r), perm, strict=True))
            score = float(sum(m[i, j] for i, j in pairs))
            if score > best[0]:
                best = (score, pairs)
    else:
        for perm in itertools.permutations(range(r), h):
            pairs = list(zip(perm, range(h), strict=True))
            score = float(sum(m[i, j] for i, j in pairs))
            if score > best[0]:
                best = (score, pairs)
    return best[1]


def _as_reference(ref: str | PathLike[str] | Transcript) -> Any:
    """A transcript-shaped reference (`segments`, `words`): a Transcript as it is, a file
    read by suffix, or RTTM text."""
    if hasattr(ref, "segments") and hasattr(ref, "words"):  # a Transcript
        return ref
    if isinstance(ref, PathLike):
        return SimpleNamespace(**formats.load(ref))
    if isinstance(ref, str):
        if "\n" not in ref.strip() and not ref.lstrip().startswith("SPEAKER"):
            return SimpleNamespace(**formats.load(Path(ref)))
        return SimpleNamespace(**formats.read_rttm(ref))
    raise TypeError(
        f"reference must be a Transcript, a path or RTTM text, not {type(ref).__name__}"
    )


def der_components(
    reference: str | PathLike[str] | Transcript,
    hypothesis: Transcript,
    *,
    collar: float = 0.25,
    skip_overlap: bool = False,
) -> dict[str, float]:
    """`der`'s parts in seconds: `missed`, `false_alarm`, `confusion`, `total` (scored
    reference speech) and `der`, plus `mapping` (reference → hypothesis speaker)."""
    if collar < 0:
        raise ValueError("collar must be ≥ 0 seconds")
    ref_tr = _as_reference(reference)
    ref = _tracks(ref_tr)
    hyp = _tracks(hypothesis)
    if not ref:
        raise ValueError("the reference has no speaker-labelled segments")
    if not hyp and (hypothesis.segments or hypothesis.words):
        raise ValueError("the hypothesis has no speakers: transcribe with diarize=True")
    bounds = {t for ivs in (*ref.values(), *hyp.values()) for iv in ivs for t in iv}
    ref_edges = [t for ivs in ref.values() for iv in ivs for t in iv]
    if collar > 0:
        bounds |= {t + d for t in ref_edges for d in (-collar, collar)}
    b = np.array(sorted(bounds))
    mids = (b[:-1] + b[1:]) / 2
    dur = np.diff(b)
    weight = dur.copy()
    if collar > 0:
        edges = np.array(sorted(ref_edges))
        k = np.searchsorted(edges, mids)
        near = np.full(len(mids), np.inf)
        for kk in (k - 1, k):
            ok = (kk >= 0) & (kk < len(edges))
            near[ok] = np.minimum(near[ok], np.abs(mids[ok] - edges[kk[ok]]))
        weight[near < collar] = 0.0
    r_names, h_names = list(ref), list(hyp)
    R = np.array([_active(ref[n], mids) for n in r_names]).reshape(len(r_names), len(mids))
    H = np.array([_active(hyp[n], mids) for n in h_names]).reshape(len(h_names), len(mids))
    n_ref = R.sum(axis=0)
    n_hyp = H.sum(axis=0)
    if skip_overlap:
        weight[n_ref > 1] = 0.0
    m = (
        (R[:, None, :] & H[None, :, :]).astype(np.float64) @ weight
        if len(h_names)
        else np.zeros((len(r_names), 0))
    )
    pairs = _best_mapping(m)
    correct = np.zeros(len(mids))
    for i, j in pairs:
        correct += R[i] & H[j]
    missed = float(np.sum(weight * np.maximum(n_ref - n_hyp, 0)))
    fa = float(np.sum(weight * np.maximum(n_hyp - n_ref, 0)))
    conf = float(np.sum(weight * (np.minimum(n_ref, n_hyp) - correct)))
    total = float(np.sum(weight * n_ref))
    return {
        "missed": missed,
        "false_alarm": fa,
        "confusion": conf,
        "total": total,
        "der": (missed + fa + conf) / total if total > 0 else float("nan"),
        "mapping": {r_names[i]: h_names[j] for i, j in pairs},  # type: ignore[dict-item]
    }


def der(
    reference: str | PathLike[str] | Transcript,
    hypothesis: Transcript,
    *,
    collar: float = 0.25,
    skip_overlap: bool = False,
) -> float:
    """Diarization error rate of `hypothesis` against `reference` (see module docs)."""
    return float(
        der_components(reference, hypothesis, collar=collar, skip_overlap=skip_overlap)["der"]
    )
