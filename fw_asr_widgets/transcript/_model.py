"""Immutable `Transcript`, `Segment` and `Word`, built from any response shape of the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


def _f(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Word:
    """One timed word. `start`/`end` in seconds (None when the server gave none)."""

    word: str
    start: float | None
    end: float | None
    speaker: str | None = None
    probability: float | None = None
    language: str | None = None
    is_final: bool | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Word:
        return cls(
            word=str(d.get("word", d.get("text", ""))),
            start=_f(d.get("start")),
            end=_f(d.get("end")),
            speaker=d.get("speaker_id", d.get("speaker")),
            probability=_f(d.get("probability")),
            language=d.get("language"),
            is_final=d.get("is_final"),
        )


@dataclass(frozen=True)
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
        words = tuple(Word.from_dict(w) for w in (d.get("words") or ()))
        start = _f(d.get("start"))
        end = _f(d.get("end"))
        if start is None:
            start = next((w.start for w in words if w.start is not None), 0.0)
        if end is None:
            end = next((w.end for w in reversed(words) if w.end is not None), start)
        seg_id = d.get("id")
        return cls(
            id=str(index if seg_id is None else seg_id),
            start=float(start),
            end=float(end),
            text=str(d.get("text", "")).strip(),
            speaker=d.get("speaker_id", d.get("speaker")),
            words=words,
            language=d.get("language"),
            avg_logprob=_f(d.get("avg_logprob")),
            no_speech_prob=_f(d.get("no_speech_prob")),
            compression_ratio=_f(d.get("compression_ratio")),
            temperature=_f(d.get("temperature")),
        )


@dataclass(frozen=True)
class Transcript:
    """A transcript: full `text`, timed `segments` and `words`, and the server's `raw` JSON.

    Build one with `Transcript.from_response(json_dict)`; get tables with `to_pandas()`.
    """

    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    task: str = "transcribe"
    source: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_response(cls, d: Mapping[str, Any], *, source: str | None = None) -> Transcript:
        """Build from a `json`/`verbose_json` (diarized or not) or streaming-state response."""
        segments = tuple(
            Segment.from_dict(s, index=i) for i, s in enumerate(d.get("segments") or ())
        )
        if d.get("words"):
            words = tuple(Word.from_dict(w) for w in d["words"])
        else:
            words = tuple(w for s in segments for w in s.words)
        text = d.get("text")
        if text is None:
            text = " ".join(s.text for s in segments)
        return cls(
            text=str(text).strip(),
            language=d.get("language"),
            duration=_f(d.get("duration")),
            segments=segments,
            words=words,
            task=str(d.get("task") or "transcribe"),
            source=source,
            raw=dict(d),
        )

    @classmethod
    def from_segments(
        cls, segments: Iterable[Segment], *, language: str | None = None, **kw: Any
    ) -> Transcript:
        segs = tuple(segments)
        return cls(
            text=" ".join(s.text for s in segs if s.text).strip(),
            language=language,
            segments=segs,
            words=tuple(w for s in segs for w in s.words),
            **kw,
        )

    def with_source(self, source: str | None) -> Transcript:
        return replace(self, source=source)

    @property
    def speakers(self) -> Sequence[str]:
        """Speaker labels in order of first appearance."""
        seen: dict[str, None] = {}
        for s in self.segments:
            if s.speaker is not None:
                seen.setdefault(s.speaker, None)
        for w in self.words:
            if w.speaker is not None:
                seen.setdefault(w.speaker, None)
        return list(seen)

    def to_pandas(self, level: str = "segment") -> Any:
        """A DataFrame of segments (default), words or utterances."""
        from fw_asr_widgets.transcript._frames import to_pandas

        return to_pandas(self, level=level)

    def __str__(self) -> str:
        return self.text
