"""Immutable `Transcript`, `Segment` and `Word`, built from any response shape of the API."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


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


PathArg = str | PathLike[str]


@dataclass(frozen=True, repr=False)
class Transcript:
    """A transcript: full `text`, timed `segments` and `words`, and the server's `raw` JSON.

    Build one with `Transcript.from_response(json_dict)` (or `load(path)`, `from_srt`, ...);
    get tables with `to_pandas(level)`; export with `to_srt()`, `to_vtt()`, `save(path)`, ...
    """

    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    task: str = "transcribe"
    source: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_response(cls, d: Mapping[str, Any], *, source: str | None = None) -> Transcript:
        """Build from a `json`/`verbose_json` response (diarized or not) or a streaming state.

        Segment ids become strings; words keep `is_final`. Top-level `words` are used when
        present (each linked to the segment containing it) unless the segments' nested words
        are more (a streaming message's top-level words cover only the listed segments).
        A segment without `speaker_id` takes the majority speaker of its words. Raises
        `TypeError` when `d`, its `segments`/`words` or their items have the wrong shape.
        """
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
                    s
                    if s.speaker is not None
                    else replace(s, speaker=_majority(by_seg.get(s.id, ())))
                    for s in segments
                )
        else:
            words = nested
        text = d.get("text")
        if text is None:
            text = " ".join(s.text for s in segments if s.text)
        return cls(
            text=str(text).strip(),
            language=_s(d.get("language")),
            duration=_f(d.get("duration")),
            segments=segments,
            words=words,
            task=str(d.get("task") or "transcribe"),
            source=source if source is not None else _s(d.get("source")),
            raw=dict(d),
        )

    @classmethod
    def from_segments(
        cls, segments: Iterable[Segment], *, language: str | None = None, **kw: Any
    ) -> Transcript:
        """Build from `Segment`s; `text` joins their texts, `words` concatenates their words
        (words without `segment_id` get their segment's id)."""
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
        return cls(language=language, segments=segs, **kw)

    @classmethod
    def from_pandas(cls, df: pd.DataFrame, *, level: str = "auto") -> Transcript:
        """Rebuild from a frame of `to_pandas()` ("segment", "utterance" or "word" level).

        `level="auto"` reads a frame with a `probability` or `is_final` column as words.
        Needed columns: `start`, `end`; optional: `text`, `speaker`, `segment_id`,
        `language`, `source`, `confidence`/`avg_logprob`, ... Word frames rebuild segments
        from `segment_id` (speaker runs when it is absent); words come back as the frame's
        (whitespace-stripped) `text`.
        """
        from fw_asr_widgets.transcript._frames import from_pandas

        return from_pandas(df, level=level)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes | PathLike[str]) -> Transcript:
        """Load `to_json()` output / a `verbose_json` response: dict, JSON text or a `Path`."""
        from fw_asr_widgets.transcript.formats import read_json

        return read_json(data)

    @classmethod
    def from_srt(cls, text: str | PathLike[str]) -> Transcript:
        """Parse SubRip text (or a `Path`); `[Speaker] ` prefixes become speakers."""
        from fw_asr_widgets.transcript.formats import read_srt

        return read_srt(text)

    @classmethod
    def from_vtt(cls, text: str | PathLike[str]) -> Transcript:
        """Parse WebVTT text (or a `Path`); `<v Speaker>` voice tags become speakers."""
        from fw_asr_widgets.transcript.formats import read_vtt

        return read_vtt(text)

    @classmethod
    def from_rttm(cls, text: str | PathLike[str], *, file_id: str | None = None) -> Transcript:
        """Parse RTTM `SPEAKER` lines (text or a `Path`): speaker turns with empty text."""
        from fw_asr_widgets.transcript.formats import read_rttm

        return read_rttm(text, file_id=file_id)

    @classmethod
    def from_stm(cls, text: str | PathLike[str], *, file_id: str | None = None) -> Transcript:
        """Parse NIST STM lines (text or a `Path`): timed, speaker-labelled reference text."""
        from fw_asr_widgets.transcript.formats import read_stm

        return read_stm(text, file_id=file_id)

    @classmethod
    def load(cls, path: PathArg) -> Transcript:
        """Load a file by suffix: .json .srt .vtt .rttm .stm .txt .csv .parquet."""
        from fw_asr_widgets.transcript.formats import load

        return load(path)

    def with_source(self, source: str | None) -> Transcript:
        """A copy with `source` (file name or label used in multi-file frames) set."""
        return replace(self, source=source)

    # ------------------------------------------------------------------ properties
    @property
    def speakers(self) -> Sequence[str]:
        """Speaker labels in order of first appearance."""
        seen = dict.fromkeys([s.speaker for s in self.segments])
        seen.update(dict.fromkeys([w.speaker for w in self.words]))
        seen.pop(None, None)
        return list(seen)  # type: ignore[arg-type]

    @property
    def end_time(self) -> float:
        """`duration` when known, else the last segment or word end (0.0 when empty)."""
        if self.duration is not None:
            return self.duration
        ends = [s.end for s in self.segments] + [
            w.end for w in self.words[-1:] if w.end is not None
        ]
        return max(ends, default=0.0)

    # ------------------------------------------------------------------ tables
    def to_pandas(self, level: str = "segment", *, max_gap: float = 1.0) -> pd.DataFrame:
        """A DataFrame of segments (default), words or utterances.

        Utterances merge consecutive segments of one speaker separated by at most `max_gap`
        seconds. Column schemas: see `fw_asr_widgets.transcript` module docs.
        """
        from fw_asr_widgets.transcript._frames import to_pandas

        return to_pandas(self, level=level, max_gap=max_gap)

    # ------------------------------------------------------------------ exports
    def to_dict(self) -> dict[str, Any]:
        """The `verbose_json` shape (plus `source` when set); `from_json` reads it back."""
        from fw_asr_widgets.transcript.formats import transcript_to_dict

        return transcript_to_dict(self)

    def to_json(self, *, indent: int | None = None) -> str:
        """`to_dict()` as JSON text (UTF-8, non-ASCII kept)."""
        import json

        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def to_srt(
        self,
        *,
        max_line_length: int | None = 42,
        max_lines: int = 2,
        max_duration: float | None = None,
        speaker_labels: bool = True,
    ) -> str:
        """SubRip subtitles. Lines wrap at `max_line_length` characters (None: no wrapping);
        a cue holds at most `max_lines` lines and lasts at most `max_duration` s (longer
        segments are split, at word times when known). Speakers as a `[Speaker] ` prefix."""
        from fw_asr_widgets.transcript.formats import write_srt

        return write_srt(
            self,
            max_line_length=max_line_length,
            max_lines=max_lines,
            max_duration=max_duration,
            speaker_labels=speaker_labels,
        )

    def to_vtt(
        self,
        *,
        max_line_length: int | None = 42,
        max_lines: int = 2,
        max_duration: float | None = None,
        speaker_labels: bool = True,
    ) -> str:
        """WebVTT subtitles; same options as `to_srt`, speakers as `<v Speaker>` voice tags."""
        from fw_asr_widgets.transcript.formats import write_vtt

        return write_vtt(
            self,
            max_line_length=max_line_length,
            max_lines=max_lines,
            max_duration=max_duration,
            speaker_labels=speaker_labels,
        )

    def to_rttm(self, *, file_id: str | None = None) -> str:
        """RTTM `SPEAKER` lines, one per segment (`<NA>` for no speaker). `file_id` defaults
        to the stem of `source`, else "audio"."""
        from fw_asr_widgets.transcript.formats import write_rttm

        return write_rttm(self, file_id=file_id)

    def to_stm(self, *, file_id: str | None = None, channel: str = "1") -> str:
        """NIST STM lines `file channel speaker start end text`, one per segment."""
        from fw_asr_widgets.transcript.formats import write_stm

        return write_stm(self, file_id=file_id, channel=channel)

    def to_text(self, *, speaker_labels: bool = True) -> str:
        """Plain text: one line per speaker turn (`Speaker: text`), or `text` if undiarized."""
        from fw_asr_widgets.transcript.formats import write_text

        return write_text(self, speaker_labels=speaker_labels)

    def save(self, path: PathArg, *, level: str = "segment") -> Path:
        """Write by suffix: .srt .vtt .rttm .stm .json .txt .csv .parquet (tables at `level`).

        .parquet needs pyarrow (`pip install pyarrow`). Returns the path written.
        """
        from fw_asr_widgets.transcript.formats import save

        return save(self, path, level=level)

    # ------------------------------------------------------------------ metrics
    def wer(self, reference: str | Transcript, *, normalize: bool = True) -> float:
        """Word error rate of this transcript against `reference` (text or Transcript), via
        jiwer. `normalize`: NFKC, lowercase, punctuation removed, whitespace collapsed."""
        from fw_asr_widgets.transcript.metrics import wer

        return wer(reference, self, normalize=normalize)

    def diff(self, other: Transcript) -> pd.DataFrame:
        """Align `other` against this transcript word by word (jiwer's alignment of the
        normalised words): one row per match, substitution, insertion (a word only `other`
        has) or deletion, with both sides' words, times, positions and speakers. Columns:
        see `fw_asr_widgets.transcript._diff`."""
        from fw_asr_widgets.transcript._diff import diff

        return diff(self, other)

    def der(
        self,
        reference: str | PathLike[str] | Transcript,
        *,
        collar: float = 0.25,
        skip_overlap: bool = False,
    ) -> float:
        """Diarization error rate against a reference (Transcript, RTTM/STM path or RTTM text).

        `collar`: seconds excluded on each side of every reference boundary (±collar, NIST
        md-eval style; pyannote's `collar=2*collar`). Speakers are mapped optimally.
        """
        from fw_asr_widgets.transcript.metrics import der

        return der(reference, self, collar=collar, skip_overlap=skip_overlap)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        from fw_asr_widgets.transcript.display import short_repr

        return short_repr(self)

    def _repr_html_(self) -> str:
        from fw_asr_widgets.transcript.display import to_html

        return to_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def __str__(self) -> str:
        return self.text
