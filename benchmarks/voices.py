"""Speakers with names on the AMI snippets whose people recur across files.

Identification: each person of one snippet is enrolled from its reference turns (ami.rttm),
then identified in the other snippet of the pair (trn07 ↔ trn08: four people, dev00 ↔ dev01:
two), on the reference turns (oracle diarization) and on the engine's diarized transcript
through the API (`Client.transcribe(..., diarize=True)`, as users get it; full mode only).
Accuracy is the share of single-speaker reference time labelled with the right name. False
accepts: enrolled on one pair, identified on the other pair's snippets (nobody enrolled speaks
there), and leaving each person out of the enrolment in turn: the share of those voices' time
given a name. Baseline: nearest centroid on the same embeddings (no threshold, not one-to-one).
Linking: `link_speakers` over the four snippets at once; purity (share of each label's time
from its main person) and coverage (share of each person's time under their main label).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._util import FigureResult, Row, data_dir

NAME = "Voices"
PAIRS = (("ami_trn07", "ami_trn08"), ("ami_dev00", "ami_dev01"))
GRID = 0.01


def _ref(name: str) -> Any:
    from fw_asr_widgets import Transcript

    return Transcript.from_rttm(Path(data_dir()) / "ami.rttm", file_id=name)


def _anonymous(tr: Any) -> Any:
    """`tr` with its speakers renamed SPEAKER_00, … (a kept label must not be a right name)."""
    from fw_asr_widgets.voices._bank import relabel

    return relabel(tr, {s: f"SPEAKER_{k:02d}" for k, s in enumerate(tr.speakers)})


def _single_frames(ref: Any) -> dict[str, np.ndarray]:
    """Per reference speaker, the 10 ms frames where only they speak."""
    n = int(np.ceil(30.0 / GRID)) + 1
    cover = {s: np.zeros(n, bool) for s in ref.speakers}
    for seg in ref.segments:
        cover[seg.speaker][int(seg.start / GRID) : int(seg.end / GRID)] = True
    total = sum(m.astype(int) for m in cover.values())
    return {s: m & (total == 1) for s, m in cover.items()}


def _labels(hyp: Any, n: int) -> np.ndarray:
    out = np.full(n, None, dtype=object)
    for seg in hyp.segments:
        out[int(seg.start / GRID) : int(seg.end / GRID)] = seg.speaker
    return out


def _score(hyp: Any, ref: Any, enrolled: set[str]) -> tuple[float, float, float, float]:
    """(right, enrolled time, named-unenrolled, unenrolled time) in seconds."""
    frames = _single_frames(ref)
    lab = _labels(hyp, next(iter(frames.values())).size)
    right = total = wrong_acc = other = 0.0
    for spk, m in frames.items():
        if spk in enrolled:
            right += float(np.sum(lab[m] == spk)) * GRID
            total += float(m.sum()) * GRID
        else:
            named = np.isin(lab[m].astype(str), list(enrolled))
            wrong_acc += float(named.sum()) * GRID
            other += float(m.sum()) * GRID
    return right, total, wrong_acc, other


_VOICES: dict[tuple[str, int], dict[str, np.ndarray]] = {}


def _voices_of(hyp: Any, audio: np.ndarray, key: str) -> dict[str, np.ndarray]:
    """The hypothesis speakers' voice centroids, computed once per transcript."""
    from fw_asr_widgets.voices import _embed

    k = (key, id(hyp))
    if k not in _VOICES:
        cents = _embed.speaker_centroids(hyp.segments, audio)
        _VOICES[k] = {spk: c for spk, (c, _n, _s) in cents.items()}
    return _VOICES[k]


def _both(voices: Any, hyp: Any, audio: np.ndarray, key: str) -> tuple[Any, Any]:
    """(ours: `identify`, baseline: nearest enrolled centroid for every speaker)."""
    from fw_asr_widgets.voices._bank import relabel

    vecs = _voices_of(hyp, audio, key)
    sc = voices.score_voices(vecs)
    near = {
        spk: sc.columns[int(np.argmax(row))]
        for spk, row in zip(sc.index, sc.to_numpy(), strict=True)
    }
    return voices.apply(hyp, sc, voices.normalised_scores(vecs)), relabel(hyp, near)


def _engine_transcripts(names: list[str], folder: Path | None = None) -> dict[str, Any]:
    """`Client.transcribe(..., diarize=True)` of `{name}.wav` in `folder` (../shared/data)."""
    from fw_asr_widgets import Client
    from fw_asr_widgets.local import serve

    where = folder or Path(data_dir())
    out = {}
    with serve() as srv, Client(base_url=srv.url, max_retries=0, timeout=600) as c:
        for name in names:
            out[name] = c.transcribe(where / f"{name}.wav", language="en", diarize=True)
    return out


def _enrol(bank: Any, ref: Any, speakers: list[str], audio: np.ndarray) -> Any:
    """`bank` with each of `speakers` enrolled under their own name from `ref`'s turns; a
    speaker with too little speech to enrol (under 0.4 s) is left out."""
    for spk in speakers:
        with contextlib.suppress(ValueError):
            bank.enroll_from(ref, spk, name=spk, audio=audio)
    return bank


def _identification(
    pairs: tuple, hyps: dict[str, dict[str, Any]], audios: dict, refs: dict | None = None
) -> list[Row]:
    """Identification and false-accept rows; `refs`: reference transcripts by file name
    (default: ami.rttm's)."""
    from fw_asr_widgets import Voices

    ref_of = refs.__getitem__ if refs is not None else _ref
    rows: list[Row] = []
    for source, by_file in hyps.items():
        acc = defaultdict(float)
        for a, b in [p for pair in pairs for p in (pair, pair[::-1])]:
            ref_a, ref_b = ref_of(a), ref_of(b)
            v = _enrol(Voices(), ref_a, ref_a.speakers, audios[a])
            hyp = by_file[b]
            for key, named in zip(("ours", "near"), _both(v, hyp, audios[b], b), strict=True):
                r, t, _, _ = _score(named, ref_b, set(v.names))
                acc[key + "_r"] += r
                acc[key + "_t"] += t
            # Unenrolled voices: each person left out of the bank in turn.
            for spk in ref_a.speakers:
                if spk not in ref_b.speakers:
                    continue
                w = _enrol(Voices(), ref_a, [o for o in ref_a.speakers if o != spk], audios[a])
                for key, named in zip(("ours", "near"), _both(w, hyp, audios[b], b), strict=True):
                    frames = _single_frames(ref_b)[spk]
                    lab = _labels(named, frames.size)[frames].astype(str)
                    acc[key + "_fa"] += float(np.isin(lab, w.names).sum()) * GRID
                    acc[key + "_ft"] += float(frames.sum()) * GRID
            # Strangers: enrolled here, identified in the other pair's snippets.
            for other_pair in pairs:
                if a in other_pair:
                    continue
                for c in other_pair:
                    if c not in by_file:
                        continue
                    both = _both(v, by_file[c], audios[c], c)
                    for key, named in zip(("ours", "near"), both, strict=True):
                        _, _, fa, ft = _score(named, ref_of(c), set(v.names))
                        acc[key + "_sa"] += fa
                        acc[key + "_st"] += ft
        ours = acc["ours_r"] / max(acc["ours_t"], 1e-9)
        near = acc["near_r"] / max(acc["near_t"], 1e-9)
        label = ", ".join(f"{x}↔{y}" for x, y in pairs)
        rows.append(
            Row(
                NAME,
                f"identification, {source} ({label}): speaker-time named right",
                f"{ours:.1%} of {acc['ours_t']:.0f} s",
                "nearest centroid, no threshold",
                f"{near:.1%}",
                f"{ours - near:+.1%} abs.",
                "≥ 90%",
                ours >= 0.9,
            )
        )
        fa = (acc["ours_fa"] + acc["ours_sa"]) / max(acc["ours_ft"] + acc["ours_st"], 1e-9)
        fa_near = (acc["near_fa"] + acc["near_sa"]) / max(acc["near_ft"] + acc["near_st"], 1e-9)
        rows.append(
            Row(
                NAME,
                f"false accepts, {source}: unenrolled voices' time given a name "
                f"(left-out person {acc['ours_fa']:.0f}/{acc['ours_ft']:.0f} s, "
                f"strangers {acc['ours_sa']:.0f}/{acc['ours_st']:.0f} s)",
                f"{fa:.1%}",
                "nearest centroid, no threshold",
                f"{fa_near:.1%}",
                "—",
                "low (reported)",
                None,
            )
        )
    return rows


def _linking(
    files: list[str], hyps: dict[str, dict[str, Any]], audios: dict, refs: dict | None = None
) -> list[Row]:
    """Cross-file linking rows; `refs` as in `_identification`."""
    from fw_asr_widgets import link_speakers
    from fw_asr_widgets.voices._bank import relabel

    ref_of = refs.__getitem__ if refs is not None else _ref
    rows = []
    for source, by_file in hyps.items():
        trs, truth = [], {}
        for f in files:
            ref, hyp = ref_of(f), by_file[f]
            # Each hypothesis speaker stands for the reference person it overlaps most.
            frames = _single_frames(ref)
            lab = _labels(hyp, next(iter(frames.values())).size)
            anon = {}
            for k, spk in enumerate(hyp.speakers):
                over = {p: float(np.sum(lab[m] == spk)) for p, m in frames.items()}
                truth[(f, f"S{k}")] = max(over, key=over.get)
                anon[spk] = f"S{k}"
            trs.append(relabel(hyp, anon).with_source(f))
        _, table = link_speakers(trs, [audios[f] for f in files])
        table["person"] = [truth[(r.file, r.speaker)] for r in table.itertuples()]
        w = table.groupby(["label", "person"]).seconds.sum()
        purity = w.groupby(level=0).max().sum() / w.sum()
        coverage = w.groupby(level=1).max().sum() / w.sum()
        people = table.person.nunique()
        rows.append(
            Row(
                NAME,
                f"cross-file linking, {source} ({len(files)} snippets, {people} people): "
                "purity / coverage",
                f"{purity:.1%} / {coverage:.1%} ({table.label.nunique()} labels)",
                "one label per file speaker (no linking)",
                f"100.0% / {table.groupby('person').seconds.max().sum() / table.seconds.sum():.1%}",
                "—",
                "all linked correctly",
                bool(purity == 1 and coverage == 1),
            )
        )
    return rows


def run(quick: bool) -> FigureResult:
    from fw_asr_widgets.voices import _embed

    res = FigureResult(NAME)
    pairs = PAIRS[1:] if quick else PAIRS
    files = [f for p in pairs for f in p]
    audios = {f: _embed.load_audio(Path(data_dir()) / f"{f}.wav") for f in files}
    hyps: dict[str, dict[str, Any]] = {"reference turns": {f: _anonymous(_ref(f)) for f in files}}
    if not quick:
        hyps["engine via the API"] = _engine_transcripts(files)
    res.rows += _identification(pairs, hyps, audios)
    res.rows += _linking(files, hyps, audios)
    res.notes.append(
        "Voices: enrolment from one snippet's reference turns (ami.rttm), identification in the "
        "other snippet of the pair, both directions; a name is given at cosine ≥ 0.70 and "
        "AS-normalised score ≥ 2.0 against a cohort of 22 voices from the other AMI snippets "
        "(trn00–06, trn09), never to a voice heard only in overlap; linking merges at "
        "AS-normalised ≥ 2.0 (see fw_asr_widgets/voices/_bank.py, _link.py). Speaker-time = "
        "10 ms frames where one reference speaker talks alone."
    )
    return res
