"""Immutable `Segment` and `Word`: the bottom of the transcript package.

Every other module of `fw_asr_widgets.transcript` imports these at the top; `Transcript`
(in `_model`) sits above the readers, tables, metrics and display that it calls.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any


def _f(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _items(d: Mapping[str, Any], key: str) -> list[Any]:
    """`d[key]` as a list (missing or null: empty); TypeError if it is not a list."""
    v = d.get(key)
    if not v:
        return []
    if not isinstance(v, list | tuple):
        raise TypeError(f"'{key}' must be a list, not {type(v).__name__}")
    return list(v)


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def _majority(labels: Iterable[str | None]) -> str | None:
    counts = Counter(x for x in labels if x is not None)
    return counts.most_common(1)[0][0] if counts else None


# Word and Segment declare their optional fields alike (`x: float | None = None`, which
# duplicates pairs by shape): they are the data, one field a line.
@dataclass(frozen=True, slots=True)
class Word:
    """One timed word. `start`/`end` in seconds (None when the server gave none).

    `segment_id` links the word to its `Segment.id` (None when unknown); `is_final` is set by
    streaming responses (False while the server may still revise the word).
    """

    word: str
    start: float | None
    end: float | None
    speaker: str | None = None
    probability: float | None = None
    language: str | None = None
    is_final: bool | None = None
    segment_id: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, segment_id: str | None = None) -> Word:
        """Build from an API word object (`word`/`text`, `start`, `end`, `speaker_id`, ...)."""
        if not isinstance(d, Mapping):
            raise TypeError(f"a word must be an object, not {type(d).__name__}")
        is_final = d.get("is_final")
        seg = d.get("segment_id", segment_id)
        return cls(
            word=str(d.get("word", d.get("text", ""))),
            start=_f(d.get("start")),
            end=_f(d.get("end")),
            speaker=_s(d.get("speaker_id", d.get("speaker"))),
            probability=_f(d.get("probability")),
            language=_s(d.get("language")),
            is_final=None if is_final is None else bool(is_final),
            segment_id=_s(seg),
        )

    def to_dict(self) -> dict[str, Any]:
        """The API word object (keys with None values left out, except start/end)."""
        d: dict[str, Any] = {"word": self.word, "start": self.start, "end": self.end}
        for k, v in (
            ("speaker_id", self.speaker),
            ("probability", self.probability),
            ("language", self.language),
            ("is_final", self.is_final),
        ):
            if v is not None:
                d[k] = v
        return d


@dataclass(frozen=True, repr=False, slots=True)
class Segment:
    """One timed segment with its words. `id` is a string (streaming ids are strings)."""

    id: str
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] = ()
    language: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    temperature: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, index: int = 0) -> Segment:
        """Build from an API segment object; a missing `id` becomes `str(index)`."""
        if not isinstance(d, Mapping):
            raise TypeError(f"a segment must be an object, not {type(d).__name__}")
        seg_id = d.get("id")
        sid = str(index if seg_id is None else seg_id)
        words = tuple(Word.from_dict(w, segment_id=sid) for w in _items(d, "words"))
        start = _f(d.get("start"))
        end = _f(d.get("end"))
        if start is None:
            start = next((w.start for w in words if w.start is not None), 0.0)
        if end is None:
            end = next((w.end for w in reversed(words) if w.end is not None), start)
        speaker = _s(d.get("speaker_id", d.get("speaker")))
        if speaker is None and words:
            speaker = _majority(w.speaker for w in words)
        return cls(
            id=sid,
            start=float(start),
            end=float(end),
            text=str(d.get("text", "")).strip(),
            speaker=speaker,
            words=words,
            language=_s(d.get("language")),
            avg_logprob=_f(d.get("avg_logprob")),
            no_speech_prob=_f(d.get("no_speech_prob")),
            compression_ratio=_f(d.get("compression_ratio")),
            temperature=_f(d.get("temperature")),
        )

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def confidence(self) -> float | None:
        """`exp(avg_logprob)` when the server gave `avg_logprob`, else None."""
        import math

        return None if self.avg_logprob is None else math.exp(self.avg_logprob)

    def to_dict(self, *, words: bool = True) -> dict[str, Any]:
        """The API (`verbose_json`) segment object."""
        d: dict[str, Any] = {"id": self.id, "start": self.start, "end": self.end, "text": self.text}
        for k, v in (
            ("speaker_id", self.speaker),
            ("language", self.language),
            ("avg_logprob", self.avg_logprob),
            ("no_speech_prob", self.no_speech_prob),
            ("compression_ratio", self.compression_ratio),
            ("temperature", self.temperature),
        ):
            if v is not None:
                d[k] = v
        if words and self.words:
            d["words"] = [w.to_dict() for w in self.words]
        return d

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        spk = f", speaker={self.speaker!r}" if self.speaker is not None else ""
        return (
            f"Segment(id={self.id!r}, {self.start:.2f}-{self.end:.2f} s{spk}, "
            f"{text!r}, {len(self.words)} words)"
        )


def _link_words(words: list[Mapping[str, Any]], segments: tuple[Segment, ...]) -> list[Word]:
    """Top-level API words → `Word`s, each linked to the segment containing its midpoint."""
    if not segments:
        return [Word.from_dict(w) for w in words]
    order = sorted(range(len(segments)), key=lambda i: segments[i].start)
    starts = [segments[i].start for i in order]
    out = []
    for w in words:
        word = Word.from_dict(w)
        if word.segment_id is None and word.start is not None:
            mid = word.start if word.end is None else (word.start + word.end) / 2
            k = bisect.bisect_right(starts, mid) - 1
            if k < 0:
                k = 0
            seg = segments[order[k]]
            # the nearest segment starting before the word; if the word lies after its end
            # and before the next one, it still belongs to the closer of the two
            if mid > seg.end and k + 1 < len(order):
                nxt = segments[order[k + 1]]
                if nxt.start - mid < mid - seg.end:
                    seg = nxt
            word = replace(word, segment_id=seg.id)
        out.append(word)
    return out


def response_fields(d: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """The fields of a `Transcript` from a `json`/`verbose_json` response or streaming state
    (see `Transcript.from_response`)."""
    if not isinstance(d, Mapping):
        raise TypeError(f"expected a response dict, not {type(d).__name__}")
    segments = tuple(Segment.from_dict(s, index=i) for i, s in enumerate(_items(d, "segments")))
    nested = tuple(w for s in segments for w in s.words)
    top = _items(d, "words")
    if top and len(top) >= len(nested):
        words = tuple(_link_words(top, segments))
        if any(s.speaker is None for s in segments) and any(w.speaker for w in words):
            by_seg: dict[str, list[str | None]] = {}
            for w in words:
                if w.segment_id is not None:
                    by_seg.setdefault(w.segment_id, []).append(w.speaker)
            segments = tuple(
                s if s.speaker is not None else replace(s, speaker=_majority(by_seg.get(s.id, ())))
                for s in segments
            )
    else:
        words = nested
    text = d.get("text")
    if text is None:
        text = " ".join(s.text for s in segments if s.text)
    return {
        "text": str(text).strip(),
        "language": _s(d.get("language")),
        "duration": _f(d.get("duration")),
        "segments": segments,
        "words": words,
        "task": str(d.get("task") or "transcribe"),
        "source": source if source is not None else _s(d.get("source")),
        "raw": dict(d),
    }


def segment_fields(
    segments: Iterable[Segment], *, language: str | None = None, **kw: Any
) -> dict[str, Any]:
    """The fields of a `Transcript` made of `segments` (see `Transcript.from_segments`)."""
    segs = tuple(
        s
        if all(w.segment_id is not None for w in s.words)
        else replace(
            s,
            words=tuple(
                w if w.segment_id is not None else replace(w, segment_id=s.id) for w in s.words
            ),
        )
        for s in segments
    )
    if "text" not in kw:
        kw["text"] = " ".join(s.text for s in segs if s.text).strip()
    if "words" not in kw:
        kw["words"] = tuple(w for s in segs for w in s.words)
    return {"language": language, "segments": segs, **kw}
