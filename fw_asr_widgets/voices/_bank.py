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
- A bank file (`save`) holds only embeddings (float16, 192 per enrolment), names and window
  counts, a format version and the model id: never audio. `load` refuses a file made with
  another embedding model or a newer format (`VoiceBankError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fw_asr_widgets.errors import FwAsrError
from fw_asr_widgets.voices import _embed

THRESHOLD = 0.70
FORMAT = 1


class VoiceBankError(FwAsrError, ValueError):
    """A voice bank file that cannot be used (other model, other format, damaged)."""


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
        self._enrolments: dict[str, list[tuple[np.ndarray, int]]] = {}
        self.last_matches: pd.DataFrame = _matches_frame([])

    # ------------------------------------------------------------------ enrolment
    def enroll(
        self, name: str, audio: Any, start: float | None = None, end: float | None = None
    ) -> Voices:
        """Add a clip of `name` speaking (path, bytes, file object or 16 kHz array); `start`/
        `end` (seconds) pick a span. Several enrolments of one name are averaged."""
        a = _embed.load_audio(audio)
        s = 0.0 if start is None else float(start)
        e = a.size / _embed.SAMPLE_RATE if end is None else float(end)
        self._add(name, _embed.centroid(a, [(s, e)]), f"{s:.2f}–{e:.2f} s")
        return self

    def enroll_from(self, transcript: Any, speaker: str, *, name: str, audio: Any) -> Voices:
        """Add `name` from the segments of `speaker` in `transcript` (times into `audio`)."""
        a = _embed.load_audio(audio)
        spans = _embed.speaker_spans(transcript.segments).get(str(speaker))
        if not spans:
            raise KeyError(f"no timed segments of speaker {speaker!r} in the transcript")
        self._add(name, _embed.centroid(a, spans), f"speaker {speaker!r}")
        return self

    def _add(self, name: str, found: tuple[np.ndarray | None, int], what: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a voice needs a non-empty name, got {name!r}")
        vec, n = found
        if vec is None:
            raise ValueError(f"no speech long enough to enrol {name!r} from {what} (≥0.4 s)")
        self._enrolments.setdefault(name, []).append((vec, n))

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
        """The unit voice embedding of `name` (window-weighted mean of its enrolments)."""
        parts = self._enrolments[name]
        return _embed.unit(sum(v * n for v, n in parts)).astype(np.float32)

    def to_pandas(self) -> pd.DataFrame:
        """One row per voice: name, enrolments, windows (1.5 s embedding windows)."""
        rows = [
            {"name": k, "enrolments": len(v), "windows": sum(n for _, n in v)}
            for k, v in self._enrolments.items()
        ]
        return pd.DataFrame(rows, columns=["name", "enrolments", "windows"])

    # ------------------------------------------------------------------ files
    def save(self, path: str | PathLike[str]) -> Path:
        """Write the bank to an `.npz` file (embeddings and names only, never audio)."""
        p = Path(path)
        names = [k for k, v in self._enrolments.items() for _ in v]
        emb = [vec for v in self._enrolments.values() for vec, _ in v]
        meta = {"format": FORMAT, "model": _embed.model_id(), "threshold": self.threshold}
        with open(p, "wb") as f:
            np.savez_compressed(
                f,
                meta=np.array(json.dumps(meta)),
                names=np.array(names, dtype=str),
                embeddings=np.array(emb, dtype=np.float16).reshape(-1, _embed.DIM),
                windows=np.array([n for v in self._enrolments.values() for _, n in v], np.int32),
            )
        return p

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Voices:
        """Read a bank written by `save`; `VoiceBankError` if it was made with other weights."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                names, emb, win = z["names"], z["embeddings"], z["windows"]
        except (OSError, KeyError, ValueError) as exc:
            raise VoiceBankError(f"not a voice bank file: {path} ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise VoiceBankError(f"{path}: voice bank format {meta.get('format')!r} unknown")
        if meta.get("model") != _embed.model_id():
            raise VoiceBankError(
                f"{path} was made with speaker model {meta.get('model')!r}; this install uses "
                f"{_embed.model_id()!r}: enrol the voices again"
            )
        if emb.shape != (len(names), _embed.DIM) or len(win) != len(names):
            raise VoiceBankError(f"{path}: damaged voice bank (shapes do not agree)")
        bank = cls(threshold=float(meta.get("threshold", THRESHOLD)))
        for n, v, w in zip(names.tolist(), emb.astype(np.float32), win.tolist(), strict=True):
            bank._enrolments.setdefault(str(n), []).append((_embed.unit(v), int(w)))
        return bank

    # ------------------------------------------------------------------ identify
    def scores(self, transcript: Any, *, audio: Any) -> pd.DataFrame:
        """Cosine of every transcript speaker (rows) to every enrolled name (columns)."""
        cents = _embed.speaker_centroids(transcript.segments, _embed.load_audio(audio))
        return self.score_voices({spk: c for spk, (c, _n, _s) in cents.items()})

    def score_voices(self, vectors: Mapping[str, np.ndarray]) -> pd.DataFrame:
        """Cosine of unit voice embeddings (rows, by key) to every enrolled name (columns)."""
        if not self._enrolments or not vectors:
            return pd.DataFrame(index=list(vectors), columns=self.names, dtype=float)
        bank = np.stack([self.centroid(n) for n in self.names])
        mat = np.stack([np.asarray(v, dtype=np.float32) for v in vectors.values()]) @ bank.T
        return pd.DataFrame(mat, index=list(vectors), columns=self.names)

    def match(self, scores: pd.DataFrame) -> pd.DataFrame:
        """One-to-one best names for the rows of `scores`: speaker, name, score, accepted."""
        from scipy.optimize import linear_sum_assignment

        rows: list[dict[str, Any]] = []
        given: dict[int, int] = {}
        if scores.size:
            r, c = linear_sum_assignment(-scores.to_numpy(dtype=float))
            given = dict(zip(r.tolist(), c.tolist(), strict=True))
        for i, spk in enumerate(scores.index):
            j = given.get(i)
            if j is None:
                rows.append({"speaker": spk, "name": None, "score": np.nan, "accepted": False})
                continue
            s = float(scores.iat[i, j])
            rows.append(
                {
                    "speaker": spk,
                    "name": scores.columns[j],
                    "score": s,
                    "accepted": s >= self.threshold,
                }
            )
        return _matches_frame(rows)

    def identify(self, transcript: Any, *, audio: Any) -> Any:
        """A copy of `transcript` with the speakers that match an enrolled voice renamed.

        Voices are measured locally on `audio` at the transcript's segment times, so any
        transcript with times works (Fireworks results too). The per-speaker matches (speaker,
        name, score, accepted) are in the result's `raw["speaker_matches"]` and in
        `self.last_matches`. Speakers without an accepted match keep their labels.
        """
        return self.apply(transcript, self.scores(transcript, audio=audio))

    def apply(self, transcript: Any, scores: pd.DataFrame) -> Any:
        """`identify` with the speaker scores already computed (`scores`)."""
        matches = self.match(scores)
        self.last_matches = matches
        mapping = {
            r.speaker: r.name for r in matches.itertuples() if r.accepted and r.name is not None
        }
        raw = dict(transcript.raw)
        raw["speaker_matches"] = [
            {**r, "score": None if pd.isna(r["score"]) else float(r["score"])}
            for r in matches.to_dict("records")
        ]
        return relabel(transcript, mapping, raw=raw)


def _matches_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["speaker", "name", "score", "accepted"])
    return df.astype({"score": float, "accepted": bool})


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
