"""`link_speakers`: one label per voice across recordings (cross-file speaker linking).

Decisions: each file's speakers become voice centroids (`_embed`); they are clustered
agglomeratively with average linkage on cosine similarity, never joining two speakers of the
same file (the diarizer already says they differ), and merging stops below the calibrated
`THRESHOLD` of `_bank` (0.70: the same voices-across-files question it was chosen on).
Clusters are labelled `VOICE_00`, … by first appearance; with `voices=` a cluster whose
centroid is accepted for an enrolled name (one-to-one, same threshold) takes that name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fw_asr_widgets.voices import _embed
from fw_asr_widgets.voices._bank import THRESHOLD, Voices, relabel


def _file_name(tr: Any, audio: Any, i: int) -> str:
    src = getattr(tr, "source", None)
    if src:
        return str(src)
    return str(audio) if isinstance(audio, str) else f"file{i}"


def _cluster(vecs: np.ndarray, files: list[int], threshold: float) -> list[int]:
    """Average-linkage clusters of unit `vecs`; items of one file never share a cluster."""
    sim = vecs @ vecs.T
    clusters: list[list[int]] = [[i] for i in range(len(vecs))]
    while len(clusters) > 1:
        best, pair = -2.0, None
        for a in range(len(clusters)):
            fa = {files[i] for i in clusters[a]}
            for b in range(a + 1, len(clusters)):
                if fa & {files[i] for i in clusters[b]}:
                    continue
                s = float(sim[np.ix_(clusters[a], clusters[b])].mean())
                if s > best:
                    best, pair = s, (a, b)
        if pair is None or best < threshold:
            break
        a, b = pair
        clusters[a] = clusters[a] + clusters[b]
        del clusters[b]
    label = [0] * len(vecs)
    for k, members in enumerate(sorted(clusters, key=min)):
        for i in members:
            label[i] = k
    return label


def link_speakers(
    transcripts: Sequence[Any],
    audios: Sequence[Any],
    *,
    voices: Voices | None = None,
    threshold: float = THRESHOLD,
) -> tuple[list[Any], pd.DataFrame]:
    """Give the same speaker label to the same voice in every transcript.

    `audios[i]` is the recording of `transcripts[i]` (path, bytes or 16 kHz array). Returns
    the relabelled transcripts and a DataFrame with one row per file speaker: file, speaker,
    label (global), score (cosine to its cluster's centroid, or to the enrolled name when
    named by `voices`), seconds (speech used). Speakers with no usable speech keep their label.
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
    labels = _cluster(vecs, [it[0] for it in items], threshold)
    k = max(labels) + 1
    cent = np.stack([_embed.unit(vecs[[j == c for j in labels]].mean(axis=0)) for c in range(k)])
    names = [f"VOICE_{c:02d}" for c in range(k)]
    named: dict[int, float] = {}
    if voices is not None and len(voices):
        scores = voices.score_voices({names[c]: cent[c] for c in range(k)})
        for r in voices.match(scores).itertuples():
            if r.accepted:
                c = names.index(r.speaker)
                names[c], named[c] = r.name, float(r.score)
    rows = []
    for (i, spk, v, sec), c in zip(items, labels, strict=True):
        score = named[c] if c in named else float(v @ cent[c])
        name = _file_name(transcripts[i], audios[i], i)
        rows.append(
            {"file": name, "speaker": spk, "label": names[c], "score": score, "seconds": sec}
        )
    out = []
    for i, tr in enumerate(transcripts):
        mapping = {spk: names[c] for (j, spk, _, _), c in zip(items, labels, strict=True) if j == i}
        out.append(relabel(tr, mapping))
    return out, pd.DataFrame(rows, columns=cols)
