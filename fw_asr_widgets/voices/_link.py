"""`link_speakers`: one label per voice across recordings (cross-file speaker linking).

Decisions: each file's speakers become voice centroids (`_embed`); they are clustered
agglomeratively with average linkage, never joining two speakers of the same file (the
diarizer already says they differ). Clusters are labelled `VOICE_00`, … by first appearance;
with `voices=` a cluster whose centroid is accepted for an enrolled name (one-to-one, the
bank's cosine threshold) takes that name. Past `EXACT_LIMIT` voices (a corpus:
`Corpus.link_speakers`) the exact clustering (O(n^3)) gives way to an online one (each file's
voices join the clusters they match one to one, in file order): the same rule, decided
greedily, linear in the number of files.

- Two clusters merge only while their average cosine reaches the calibrated `THRESHOLD` of
  `_bank` (0.70) and their average AS-normalised score reaches `LINK_THRESHOLD` (2.0; see
  `_cohort`: each side's cosine minus the mean of its 5 best cosines to a cohort of 22 other
  AMI voices, over their spread); the best AS-normalised pair merges first. Raw cosine alone
  joined a diarizer's mixture of several trn08 people with dev00/dev01's MEE009 (average
  cosine 0.72): mixtures and generic far-field voices score high against everyone, and the
  cohort discounts exactly that. Measured on the AMI snippets' voices, purity / coverage
  (labels for people): engine transcripts of trn07/08 + dev00/01: cosine 66% / 100% (4 for 5),
  with the cohort rule 100% / 100% (5 for 5, at AS thresholds 1.5–2.5); reference turns of
  the same four: 100% / 92.1% (9 for 6) both ways; calibration set (reference turns of
  trn00–06 and trn09, 13 people, the cohort without the voice's own person and file): cosine
  90.9% / 85.2%, cosine 0.75 97.1% / 82.3%, with the cohort rule at 1.5–2.0 100% / 85.2%
  (2.5: 100% / 82.3%). 2.0 is the upper end of the plateau, the side that keeps people apart.
- The cosine condition stays because the cohort is far-field meeting audio: on other audio
  its spread is small and everything looks distinctive (two_speakers.wav, a phone call:
  Diane against Sheila cosine 0.66–0.73 but AS-normalised 3.6–8.2), so AS-norm alone would
  merge different people there; with both conditions such audio is linked as before. AS-norm
  alone gives the same AMI figures as the pair of conditions. Without the cohort file (other
  CAM++ weights) linking uses the cosine condition only.
- Not kept: top-10 instead of top-5 (the same results at 2.0; at 1.5 the calibration set's
  purity drops to 89.7%), mean-only normalisation (score − ½(μa + μb): at 0.05 the engine
  result but 90.1% calibration purity, at 0.10 100% purity but 82.3% coverage).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fw_asr_widgets.voices import _cohort, _embed
from fw_asr_widgets.voices._bank import THRESHOLD, Voices, relabel

LINK_THRESHOLD = _cohort.THRESHOLD
"""Merging stops below this AS-normalised score (2.0, see the module doc)."""


def _file_name(tr: Any, audio: Any, i: int) -> str:
    src = getattr(tr, "source", None)
    if src:
        return str(src)
    return str(audio) if isinstance(audio, str) else f"file{i}"


EXACT_LIMIT = 600
"""Up to this many voices, `link_centroids` clusters exactly (average linkage); beyond it,
online (see `_online`), so a corpus of thousands of files links in seconds."""


def _cluster(rules: list[tuple[np.ndarray, float]], files: list[int]) -> list[int]:
    """Average-linkage clusters; items of one file never share a cluster. `rules`: (symmetric
    score matrix, threshold) pairs: two clusters may merge only if their average score reaches
    the threshold in every matrix, and the best such pair by the first matrix merges first.

    Vectorised: `totals[m][a, b]` is the sum of the pairwise scores between clusters a and b,
    `clash[a, b]` says they hold speakers of one file; a merge adds rows (O(n^2) per merge).
    """
    n = len(files)
    totals = [np.array(m, dtype=np.float64) for m, _ in rules]
    f = np.asarray(files)
    clash = f[:, None] == f[None, :]
    size = np.ones(n)
    alive = np.ones(n, dtype=bool)
    members: list[list[int]] = [[i] for i in range(n)]
    while alive.sum() > 1:
        pairs = np.outer(size, size)
        ok = ~(clash | ~alive[:, None] | ~alive[None, :])
        np.fill_diagonal(ok, False)
        for total, (_, threshold) in zip(totals, rules, strict=True):
            ok &= total / pairs >= threshold
        if not ok.any():
            break
        rank = np.where(ok, totals[0] / pairs, -np.inf)
        a, b = divmod(int(np.argmax(rank)), n)
        a, b = min(a, b), max(a, b)
        for total in totals:
            total[a] += total[b]
            total[:, a] += total[:, b]
        clash[a] |= clash[b]
        clash[:, a] |= clash[:, b]
        size[a] += size[b]
        alive[b] = False
        members[a] += members[b]
    clusters = [members[i] for i in range(n) if alive[i]]
    label = [0] * n
    for k, group in enumerate(sorted(clusters, key=min)):
        for i in group:
            label[i] = k
    return label


def _online(
    vecs: np.ndarray, files: list[int], threshold: float, cohort: np.ndarray | None
) -> list[int]:
    """File by file (in order): each file's voices take the existing clusters they match one
    to one (Hungarian on the scores to the cluster centroids, AS-normalised with `cohort`
    unless None; accepted at cosine `threshold` and, with a cohort, `LINK_THRESHOLD`), the
    rest start new clusters; centroids are running means. O(voices x clusters)."""
    from scipy.optimize import linear_sum_assignment

    label = [0] * len(vecs)
    sums: list[np.ndarray] = []
    order: dict[int, list[int]] = {}
    for i, f in enumerate(files):
        order.setdefault(f, []).append(i)
    for items in order.values():
        if sums:
            cent = np.stack(sums)
            cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
            cos = vecs[items] @ cent.T
            ok = cos >= threshold
            sim = cos
            if cohort is not None:
                sim = _cohort.as_norm(
                    cos, _cohort.stats(vecs[items], cohort), _cohort.stats(cent, cohort)
                )
                ok &= sim >= LINK_THRESHOLD
            r, c = linear_sum_assignment(-sim)
            taken = {int(i): int(j) for i, j in zip(r, c, strict=True) if ok[i, j]}
        else:
            taken = {}
        for pos, i in enumerate(items):
            k = taken.get(pos)
            if k is None:
                k = len(sums)
                sums.append(np.zeros(vecs.shape[1]))
            sums[k] = sums[k] + vecs[i]
            label[i] = k
    return label


def link_centroids(
    vecs: np.ndarray,
    files: Sequence[int],
    *,
    voices: Voices | None = None,
    threshold: float = THRESHOLD,
    normalise: bool = True,
) -> tuple[list[str], list[float]]:
    """A global label and a score for each voice (rows of unit `vecs`, `files[i]` the file of
    row i): `VOICE_00`, … by first appearance, or the enrolled name `voices` accepts for the
    cluster; score = cosine to the cluster centroid (or to the accepted name).

    Clusters merge while their average cosine reaches `threshold` and, with `normalise` (the
    default; skipped when the cohort file does not fit the installed model), their average
    AS-normalised score reaches `LINK_THRESHOLD`; the best AS-normalised pair merges first."""
    if len(vecs) == 0:
        return [], []
    fl = list(files)
    cohort = _cohort.load() if normalise else None
    if len(vecs) <= EXACT_LIMIT:
        cos = vecs @ vecs.T
        rules = [(cos, threshold)]
        if cohort is not None:
            st = _cohort.stats(vecs, cohort)
            rules.insert(0, (_cohort.as_norm(cos, st, st), LINK_THRESHOLD))
        labels = _cluster(rules, fl)
    else:
        labels = _online(vecs, fl, threshold, cohort)
    k = max(labels) + 1
    lab = np.asarray(labels)
    cent = np.stack([_embed.unit(vecs[lab == c].mean(axis=0)) for c in range(k)])
    names = [f"VOICE_{c:02d}" for c in range(k)]
    named: dict[int, float] = {}
    if voices is not None and len(voices):
        vectors = {names[c]: cent[c] for c in range(k)}
        scores = voices.score_voices(vectors)
        normalised = voices.normalised_scores(vectors)
        for r in voices.match(scores, normalised=normalised).itertuples():
            if r.accepted:
                c = names.index(r.speaker)
                names[c], named[c] = r.name, float(r.score)
    out_names = [names[c] for c in labels]
    out_scores = [
        named[c] if c in named else float(vecs[i] @ cent[c]) for i, c in enumerate(labels)
    ]
    return out_names, out_scores


def link_speakers(
    transcripts: Sequence[Any],
    audios: Sequence[Any],
    *,
    voices: Voices | None = None,
    threshold: float = THRESHOLD,
    normalise: bool = True,
) -> tuple[list[Any], pd.DataFrame]:
    """Give the same speaker label to the same voice in every transcript.

    `audios[i]` is the recording of `transcripts[i]` (path, bytes or 16 kHz array). Returns
    the relabelled transcripts and a DataFrame with one row per file speaker: file, speaker,
    label (global), score (cosine to its cluster's centroid, or to the enrolled name when
    named by `voices`), seconds (speech used). Speakers with no usable speech keep their label.
    `threshold`/`normalise`: see `link_centroids`.
    """
    if len(transcripts) != len(audios):
        raise ValueError(f"{len(transcripts)} transcripts but {len(audios)} audios")
    items: list[tuple[int, str, np.ndarray, float]] = []
    for i, (tr, au) in enumerate(zip(transcripts, audios, strict=True)):
        cents = _embed.speaker_centroids(tr.segments, _embed.load_audio(au))
        items += [(i, spk, c, sec) for spk, (c, _n, sec) in cents.items()]
    cols = ["file", "speaker", "label", "score", "seconds"]
    if not items:
        return list(transcripts), pd.DataFrame(columns=cols)
    vecs = np.stack([it[2] for it in items])
    labels, scores = link_centroids(
        vecs, [it[0] for it in items], voices=voices, threshold=threshold, normalise=normalise
    )
    rows = []
    for (i, spk, _v, sec), label, score in zip(items, labels, scores, strict=True):
        name = _file_name(transcripts[i], audios[i], i)
        rows.append({"file": name, "speaker": spk, "label": label, "score": score, "seconds": sec})
    out = []
    for i, tr in enumerate(transcripts):
        mapping = {spk: lab for (j, spk, _, _), lab in zip(items, labels, strict=True) if j == i}
        out.append(relabel(tr, mapping))
    return out, pd.DataFrame(rows, columns=cols)
