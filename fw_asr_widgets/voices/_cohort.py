"""A small cohort of other people's voices, for adaptive score normalisation (AS-norm).

`cohort.npz` beside this module holds 22 CAM++ voice centroids (float16, 192 each; no audio)
of the speakers in the AMI Meeting Corpus snippets `ami_trn00`–`ami_trn06` and `ami_trn09` of
pyannote.audio's test data (MIT; the AMI Meeting Corpus is CC BY 4.0, Carletta et al., 2005,
"The AMI Meeting Corpus"), one per (snippet, speaker) with speech left after removing
overlapped time, computed on the reference turns (ami.rttm) exactly as `_embed.speaker_centroids`
does. The snippets used to measure identification and linking (`ami_trn07`, `ami_trn08`,
`ami_dev00`, `ami_dev01`) are not in it. `build` recomputes it from ../shared/data.

Decisions: the file records the model id; with other CAM++ weights it does not load
(`load` gives None) and linking falls back to raw cosine with `_bank.THRESHOLD`. AS-norm
(Matějka et al., 2017, "Analysis of score normalization in multilingual speaker recognition"):
a score s(a, b) becomes ½·((s − μa)/σa + (s − μb)/σb), with μ, σ the mean and spread of each
side's `TOP_K` best cosines to the cohort. A voice that resembles everybody (a diarizer's
mixture of several people, a generic far-field voice) has a high μ and is discounted; a
distinctive voice is not.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

COHORT_FILE = Path(__file__).with_name("cohort.npz")
FILES = tuple(f"ami_trn0{i}" for i in (0, 1, 2, 3, 4, 5, 6, 9))
TOP_K = 5
THRESHOLD = 2.0
"""AS-normalised scores from here up count as one voice (linking merges, names; see `_link`)."""
SOURCE = (
    "CAM++ voice centroids of the speakers of AMI Meeting Corpus snippets ami_trn00-06 and "
    "ami_trn09 (pyannote.audio test data, MIT; AMI Meeting Corpus CC BY 4.0, Carletta et al. "
    "2005), reference turns of ami.rttm, overlapped time removed"
)


@cache
def load() -> np.ndarray | None:
    """(n, 192) unit float32 cohort embeddings, or None (no file, or other CAM++ weights)."""
    from fw_asr_widgets.voices import _embed

    try:
        with np.load(COHORT_FILE, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            emb = z["embeddings"].astype(np.float32)
    except (OSError, KeyError, ValueError):
        return None
    if meta.get("model") != _embed.model_id() or emb.ndim != 2 or emb.shape[1] != _embed.DIM:
        return None
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def stats(vecs: np.ndarray, cohort: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """Per row of unit `vecs`: (mean, std) of its `k` best cosines to `cohort`."""
    top = -np.sort(-(vecs @ cohort.T), axis=1)[:, : min(k, len(cohort))]
    return top.mean(axis=1), np.maximum(top.std(axis=1), 1e-3)


def as_norm(
    sim: np.ndarray, left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """AS-normalised `sim` (rows: `left` voices, columns: `right`), given each side's `stats`."""
    (mu_l, sd_l), (mu_r, sd_r) = left, right
    return 0.5 * ((sim - mu_l[:, None]) / sd_l[:, None] + (sim - mu_r[None, :]) / sd_r[None, :])


def build(data_dir: str | Path, out: str | Path = COHORT_FILE) -> np.ndarray:
    """Recompute the cohort from `data_dir` (../shared/data) and write it to `out`."""
    from fw_asr_widgets.transcript import Transcript
    from fw_asr_widgets.voices import _embed

    d = Path(data_dir)
    vecs: list[np.ndarray] = []
    for f in FILES:
        ref = Transcript.from_rttm(d / "ami.rttm", file_id=f)
        cents = _embed.speaker_centroids(ref.segments, _embed.load_audio(d / f"{f}.wav"))
        vecs += [c for c, _n, _s in cents.values()]
    emb = np.stack(vecs).astype(np.float16)
    meta = {"model": _embed.model_id(), "files": list(FILES), "source": SOURCE}
    with open(out, "wb") as fh:
        np.savez_compressed(fh, meta=np.array(json.dumps(meta)), embeddings=emb)
    load.cache_clear()
    return emb
