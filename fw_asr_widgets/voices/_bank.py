"""`Voices`: a bank of enrolled voices (names → CAM++ voice embeddings) and `identify`.

Decisions:
- A match is a cosine between a transcript speaker's voice centroid (see `_embed`) and an
  enrolled name's centroid. Within one recording the names are given one-to-one (Hungarian
  assignment on the scores: the diarizer's speakers are distinct people), and a pair is
  accepted only at `THRESHOLD` or above; everything else keeps its label.
- `THRESHOLD = 0.70`, calibrated on the AMI snippets of ../shared/data with ami.rttm's corpus
  speaker ids: voices from the reference turns of trn00–trn06 and trn09 (the snippets not used
  for the benchmark's identification pairs), every ordered file pair enrolled on one and
  identified in the other with the one-to-one assignment, and the threshold chosen to maximise
  the share of speaker-time labelled right (the right name, or no name for a voice not
  enrolled). Correct assignments scored 0.55–0.84, wrong ones up to 0.76; 0.70 gave 95% of
  speaker-time right with 2 false accepts in 146 (0.675: 91%, 0.65: 87%, 0.75: 92%). On this
  far-field audio different voices often score 0.5–0.7, so lower values label strangers.
- A voice measured only on overlapped speech (a speaker with under 1 s without overlap, see
  `_embed.speaker_spans`; on either side: the enrolment or the transcript speaker) is never
  accepted: its embedding mixes the voices speaking at the same time and scores high against
  the wrong people (calibration set: the overlapped-only MEE094 of trn09 took MÉO069's name
  at 0.76). With this rule the calibration figure at 0.70 went from 92.4% to 95.1% of
  speaker-time right (false accepts 26.5 s → 0 of 851 s; the right names unchanged); on the
  benchmark pairs the right names are unchanged (88.1% reference turns, 76.5% engine) and the
  engine transcripts' false accepts fell from 12.6% to 9.0% (left-out people 9 s → 3 s).
  Projecting the co-speakers' voices out of an overlapped embedding instead (v − Σ w·(v·c)c)
  gave the same figures: the simpler rule is kept. The match table says which pairs it
  stopped (`overlapped`). A bank keeps a flag per enrolment (`solo` in the file; files
  without it count as clean), and a name's centroid uses its clean enrolments when it has any.
- A name must also stand out of the cohort: its AS-normalised score (`normalised_scores`:
  the cosine against the 22 `_cohort` voices, top-5, as linking uses it) must reach
  `_cohort.THRESHOLD` (2.0). A voice that resembles everybody (a diarizer's mixture of several
  people, a generic far-field voice) passes 0.70 against strangers without standing out: on
  the engine transcripts the trn08 mixture scored 0.72 against dev00's MEE009 (normalised
  0.80) and dev01's MEE009 0.70 against trn07's FEE087 (−0.03). With the rule the engine
  benchmark's false accepts fell from 9.0% to 1.8% (strangers 12 s → 0 of 111 s), the right
  names unchanged (76.5%; reference turns 88.1%, 0 false accepts); right names score 3.2–12
  normalised. Calibration set (cohort without the voice's own person and file): 95.1% right,
  0 false accepts, as with cosine alone.
- Not kept (calibration set, reference turns): AS-norm alone, without the cosine threshold:
  at its best (1.5–2.0) 92.7% right with 23.3 s of false accepts against 95.1% / 0 s; an
  adaptive cohort (the other enrolled voices and the transcript's other speakers added) no
  better (top-10 at 3.0: 89.0%); per-window scoring (mean of the top-k window-to-window
  cosines, k = 1, 3, 5) worse at every threshold (at most 89.9%). Windows 0.25 s apart
  instead of 0.75 s move the scores by ±0.03 and change no decision at 0.70. None of them
  names more of the benchmark pairs: the three trn07/08 people enrolled from 1.4–1.8 s of
  mostly overlapped speech score 0.43–0.56 against themselves and higher against others
  (one-to-one assignment would swap two of them), so any rule that names them names
  strangers too. Leaving out of the engine transcripts' voices the frames the diarizer's
  segmentation model hears as overlapped (expected speaker count ≥ 1.5, or ≥ 1.2) changed no
  figure: it finds 0–6.5 s of overlap per snippet, far less than ami.rttm marks. On the
  engine transcripts even a perfect per-speaker naming would reach 86.6% (48.0 of 55.4 s):
  the rest is speech the transcript does not cover or gives to another person's speaker.
- A bank file (`save`) holds only embeddings (float16, 192 per enrolment), names and window
  counts, a format version and the model id: never audio. `load` refuses a file made with
  another embedding model or a newer format (`VoiceBankError`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Collection, Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fw_asr_widgets.errors import FwAsrError
from fw_asr_widgets.voices import _cohort, _embed

THRESHOLD = 0.70
FORMAT = 1


class VoiceBankError(FwAsrError, ValueError):
    """A voice bank file that cannot be used (other model, other format, damaged)."""


class OverlappedEnrolmentWarning(UserWarning):
    """A name enrolled only from a speaker with under 1 s alone (the rest over other voices,
    or too little speech): kept, but `identify` will not give it until a clip of the person
    alone is enrolled too."""


class Voices:
    """Enrolled voices: `enroll` clips or a transcript's speaker, then `identify` transcripts.

    Example::

        voices = fw.Voices()
        voices.enroll("Diane", "diane.wav")
        voices.enroll_from(tr, "SPEAKER_01", name="Sheila", audio="call.wav")
        named = tr.identify(voices, audio="call2.wav")
        voices.save("team.voices.npz")
    """

    def __init__(self, *, threshold: float = THRESHOLD) -> None:
        self.threshold = float(threshold)
        # name -> [(unit embedding, windows, solo: measured on speech without overlap)]
        self._enrolments: dict[str, list[tuple[np.ndarray, int, bool]]] = {}
        self.last_matches: pd.DataFrame = _matches_frame([])

    # ------------------------------------------------------------------ enrolment
    def enroll(
        self, name: str, audio: Any, start: float | None = None, end: float | None = None
    ) -> Voices:
        """Add a clip of `name` speaking (path, bytes, file object or 16 kHz array); `start`/
        `end` (seconds) pick a span. Several enrolments of one name are averaged. The clip
        is taken to hold `name` alone."""
        a = _embed.load_audio(audio)
        s = 0.0 if start is None else float(start)
        e = a.size / _embed.SAMPLE_RATE if end is None else float(end)
        self._add(name, _embed.centroid(a, [(s, e)]), f"{s:.2f}–{e:.2f} s", solo=True)
        return self

    def enroll_from(self, transcript: Any, speaker: str, *, name: str, audio: Any) -> Voices:
        """Add `name` from the segments of `speaker` in `transcript` (times into `audio`).

        A speaker with under 1 s of speech without overlap is enrolled from overlapped
        speech; such a voice is never accepted by `identify` (see the module doc) until an
        enrolment of `name` from clean speech is added, and `OverlappedEnrolmentWarning`
        says so when the name has no clean enrolment yet."""
        a = _embed.load_audio(audio)
        spans = _embed.speaker_spans(transcript.segments).get(str(speaker))
        if not spans:
            raise KeyError(f"no timed segments of speaker {speaker!r} in the transcript")
        alone = _embed.solo_seconds(transcript.segments)[str(speaker)]
        solo = alone >= _embed.MIN_CLEAN
        self._add(name, _embed.centroid(a, spans), f"speaker {speaker!r}", solo=solo)
        if self.overlapped(name):
            warnings.warn(
                f"{name!r} was enrolled from speaker {speaker!r}, who speaks alone for only "
                f"{alone:.1f} s in this transcript ({_embed.MIN_CLEAN:g} s is needed): a "
                "voiceprint from less, or from speech over other voices, names the wrong "
                f"people, so identify() will not give {name!r} until a clip of them alone "
                "is enrolled (Voices.enroll(name, audio, start=, end=))",
                OverlappedEnrolmentWarning,
                stacklevel=2,
            )
        return self

    def _add(
        self, name: str, found: tuple[np.ndarray | None, int], what: str, *, solo: bool
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a voice needs a non-empty name, got {name!r}")
        vec, n = found
        if vec is None:
            raise ValueError(f"no speech long enough to enrol {name!r} from {what} (≥0.4 s)")
        self._enrolments.setdefault(name, []).append((vec, n, solo))

    # ------------------------------------------------------------------ bank
    @property
    def names(self) -> list[str]:
        """The enrolled names, in enrolment order."""
        return list(self._enrolments)

    def __len__(self) -> int:
        return len(self._enrolments)

    def __iter__(self) -> Iterator[str]:
        return iter(self._enrolments)

    def __contains__(self, name: object) -> bool:
        return name in self._enrolments

    def __repr__(self) -> str:
        return f"Voices({self.names!r}, threshold={self.threshold})"

    def rename(self, old: str, new: str) -> None:
        """Give the voice `old` the name `new` (merging with `new` if it exists)."""
        if old not in self._enrolments:
            raise KeyError(old)
        if not isinstance(new, str) or not new.strip():
            raise ValueError(f"a voice needs a non-empty name, got {new!r}")
        self._enrolments.setdefault(new, []).extend(self._enrolments.pop(old))

    def remove(self, name: str) -> None:
        """Forget the voice `name`."""
        del self._enrolments[name]

    def centroid(self, name: str) -> np.ndarray:
        """The unit voice embedding of `name`: window-weighted mean of its enrolments from
        speech without overlap, or of all of them if it has none."""
        parts = self._enrolments[name]
        clean = [p for p in parts if p[2]] or parts
        return _embed.unit(sum(v * n for v, n, _ in clean)).astype(np.float32)

    def overlapped(self, name: str) -> bool:
        """Whether `name` was enrolled only from overlapped speech (never accepted then)."""
        return not any(solo for _, _, solo in self._enrolments[name])

    def to_pandas(self) -> pd.DataFrame:
        """One row per voice: name, enrolments, windows (1.5 s embedding windows),
        overlapped (enrolled only from overlapped speech)."""
        rows = [
            {
                "name": k,
                "enrolments": len(v),
                "windows": sum(n for _, n, _ in v),
                "overlapped": self.overlapped(k),
            }
            for k, v in self._enrolments.items()
        ]
        return pd.DataFrame(rows, columns=["name", "enrolments", "windows", "overlapped"])

    # ------------------------------------------------------------------ files
    def save(self, path: str | PathLike[str]) -> Path:
        """Write the bank to an `.npz` file (embeddings and names only, never audio)."""
        p = Path(path)
        names = [k for k, v in self._enrolments.items() for _ in v]
        emb = [vec for v in self._enrolments.values() for vec, _, _ in v]
        meta = {"format": FORMAT, "model": _embed.model_id(), "threshold": self.threshold}
        with open(p, "wb") as f:
            np.savez_compressed(
                f,
                meta=np.array(json.dumps(meta)),
                names=np.array(names, dtype=str),
                embeddings=np.array(emb, dtype=np.float16).reshape(-1, _embed.DIM),
                windows=np.array([n for v in self._enrolments.values() for _, n, _ in v], np.int32),
                solo=np.array([s for v in self._enrolments.values() for _, _, s in v], bool),
            )
        return p

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Voices:
        """Read a bank written by `save`; `VoiceBankError` if it was made with other weights."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                names, emb, win = z["names"], z["embeddings"], z["windows"]
                # Banks written before the overlap flag existed count as clean.
                solo = z["solo"] if "solo" in z.files else np.ones(len(names), bool)
        except (OSError, KeyError, ValueError) as exc:
            raise VoiceBankError(f"not a voice bank file: {path} ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise VoiceBankError(f"{path}: voice bank format {meta.get('format')!r} unknown")
        if meta.get("model") != _embed.model_id():
            raise VoiceBankError(
                f"{path} was made with speaker model {meta.get('model')!r}; this install uses "
                f"{_embed.model_id()!r}: enrol the voices again"
            )
        if emb.shape != (len(names), _embed.DIM) or not len(win) == len(solo) == len(names):
            raise VoiceBankError(f"{path}: damaged voice bank (shapes do not agree)")
        bank = cls(threshold=float(meta.get("threshold", THRESHOLD)))
        vecs = emb.astype(np.float32)
        for n, v, w, c in zip(names.tolist(), vecs, win.tolist(), solo.tolist(), strict=True):
            bank._enrolments.setdefault(str(n), []).append((_embed.unit(v), int(w), bool(c)))
        return bank

    # ------------------------------------------------------------------ identify
    def scores(self, transcript: Any, *, audio: Any) -> pd.DataFrame:
        """Cosine of every transcript speaker (rows) to every enrolled name (columns)."""
        return self.score_voices(self._voices(transcript, audio))

    def _voices(self, transcript: Any, audio: Any) -> dict[str, np.ndarray]:
        cents = _embed.speaker_centroids(transcript.segments, _embed.load_audio(audio))
        return {spk: c for spk, (c, _n, _s) in cents.items()}

    def score_voices(self, vectors: Mapping[str, np.ndarray]) -> pd.DataFrame:
        """Cosine of unit voice embeddings (rows, by key) to every enrolled name (columns)."""
        if not self._enrolments or not vectors:
            return pd.DataFrame(index=list(vectors), columns=self.names, dtype=float)
        bank = np.stack([self.centroid(n) for n in self.names])
        mat = np.stack([np.asarray(v, dtype=np.float32) for v in vectors.values()]) @ bank.T
        return pd.DataFrame(mat, index=list(vectors), columns=self.names)

    def normalised_scores(self, vectors: Mapping[str, np.ndarray]) -> pd.DataFrame | None:
        """`score_voices` AS-normalised against the shipped cohort (`_cohort`), or None when
        the cohort does not fit the installed model."""
        cohort = _cohort.load()
        if cohort is None:
            return None
        cos = self.score_voices(vectors)
        if cos.size == 0 or cos.isna().all().all():
            return cos
        rows = np.stack([np.asarray(v, dtype=np.float32) for v in vectors.values()])
        bank = np.stack([self.centroid(n) for n in self.names])
        mat = _cohort.as_norm(
            cos.to_numpy(), _cohort.stats(rows, cohort), _cohort.stats(bank, cohort)
        )
        return pd.DataFrame(mat, index=cos.index, columns=cos.columns)

    def match(
        self,
        scores: pd.DataFrame,
        overlapped: Collection[str] = (),
        normalised: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """One-to-one best names for the rows of `scores` (cosines): speaker, name, score,
        normalised, accepted, overlapped. Accepted: score ≥ `threshold`, and the
        `normalised_scores` entry (if given) ≥ `_cohort.THRESHOLD`, and neither the speaker
        (a row key in `overlapped`) nor the name measured only on overlapped speech."""
        from scipy.optimize import linear_sum_assignment

        rows: list[dict[str, Any]] = []
        given: dict[int, int] = {}
        if scores.size:
            r, c = linear_sum_assignment(-scores.to_numpy(dtype=float))
            given = dict(zip(r.tolist(), c.tolist(), strict=True))
        for i, spk in enumerate(scores.index):
            j = given.get(i)
            if j is None:
                rows.append(
                    {
                        "speaker": spk,
                        "name": None,
                        "score": np.nan,
                        "normalised": np.nan,
                        "accepted": False,
                        "overlapped": spk in overlapped,
                    }
                )
                continue
            s = float(scores.iat[i, j])
            name = scores.columns[j]
            mixed = spk in overlapped or (name in self._enrolments and self.overlapped(name))
            z = np.nan if normalised is None else float(normalised.loc[spk, name])
            distinct = normalised is None or z >= _cohort.THRESHOLD
            rows.append(
                {
                    "speaker": spk,
                    "name": name,
                    "score": s,
                    "normalised": z,
                    "accepted": s >= self.threshold and distinct and not mixed,
                    "overlapped": mixed,
                }
            )
        return _matches_frame(rows)

    def identify(self, transcript: Any, *, audio: Any) -> Any:
        """A copy of `transcript` with the speakers that match an enrolled voice renamed.

        Voices are measured locally on `audio` at the transcript's segment times, so any
        transcript with times works (Fireworks results too). The per-speaker matches (speaker,
        name, score, normalised, accepted, overlapped) are in the result's
        `raw["speaker_matches"]` and in
        `self.last_matches`. Speakers without an accepted match keep their labels, and so do
        speakers with under 1 s of speech without overlap (their voice mixes others').
        """
        vectors = self._voices(transcript, audio)
        return self.apply(transcript, self.score_voices(vectors), self.normalised_scores(vectors))

    def apply(
        self, transcript: Any, scores: pd.DataFrame, normalised: pd.DataFrame | None = None
    ) -> Any:
        """`identify` with the speaker scores already computed (`scores`, and optionally
        `normalised`: `normalised_scores` of the same voices)."""
        overlapped = _embed.overlapped_speakers(transcript.segments)
        matches = self.match(scores, overlapped, normalised)
        self.last_matches = matches
        mapping = {
            r.speaker: r.name for r in matches.itertuples() if r.accepted and r.name is not None
        }
        raw = dict(transcript.raw)
        raw["speaker_matches"] = [
            {
                **r,
                "score": None if pd.isna(r["score"]) else float(r["score"]),
                "normalised": None if pd.isna(r["normalised"]) else float(r["normalised"]),
            }
            for r in matches.to_dict("records")
        ]
        return relabel(transcript, mapping, raw=raw)


def _matches_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["speaker", "name", "score", "normalised", "accepted", "overlapped"]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({"score": float, "normalised": float, "accepted": bool, "overlapped": bool})


def relabel(transcript: Any, mapping: dict[str, str], *, raw: dict[str, Any] | None = None) -> Any:
    """A copy of `transcript` with segment and word speakers renamed by `mapping`."""
    from dataclasses import replace

    def new(spk: str | None) -> str | None:
        return mapping.get(spk, spk) if spk is not None else None

    segments = tuple(
        replace(
            s,
            speaker=new(s.speaker),
            words=tuple(replace(w, speaker=new(w.speaker)) for w in s.words),
        )
        for s in transcript.segments
    )
    words = tuple(replace(w, speaker=new(w.speaker)) for w in transcript.words)
    return replace(
        transcript,
        segments=segments,
        words=words,
        raw=dict(transcript.raw) if raw is None else raw,
    )
