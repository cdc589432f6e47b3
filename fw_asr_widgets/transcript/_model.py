"""`Transcript`: the top of the transcript package, built from any response shape of the API.

`Segment` and `Word` live in `_segment` (the bottom); the readers (`formats`), tables
(`_frames`), metrics and display take segments or a transcript-shaped object and never import
this module at run time, so `Transcript` can import them all at the top: no import cycles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from fw_asr_widgets.transcript import _frames, display, formats, metrics
from fw_asr_widgets.transcript._segment import (
    Segment,
    Word,
    response_fields,
    segment_fields,
)

__all__ = ["PathArg", "Segment", "Transcript", "Word"]


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
        return cls(**response_fields(d, source=source))

    @classmethod
    def from_segments(
        cls, segments: Iterable[Segment], *, language: str | None = None, **kw: Any
    ) -> Transcript:
        """Build from `Segment`s; `text` joins their texts, `words` concatenates their words
        (words without `segment_id` get their segment's id)."""
        return cls(**segment_fields(segments, language=language, **kw))

    @classmethod
    def from_pandas(cls, df: pd.DataFrame, *, level: str = "auto") -> Transcript:
        """Rebuild from a frame of `to_pandas()` ("segment", "utterance" or "word" level).

        `level="auto"` reads a frame with a `probability` or `is_final` column as words.
        Needed columns: `start`, `end`; optional: `text`, `speaker`, `segment_id`,
        `language`, `source`, `confidence`/`avg_logprob`, ... Word frames rebuild segments
        from `segment_id` (speaker runs when it is absent); words come back as the frame's
        (whitespace-stripped) `text`.
        """
        return cls(**_frames.from_pandas(df, level=level))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes | PathLike[str]) -> Transcript:
        """Load `to_json()` output / a `verbose_json` response: dict, JSON text or a `Path`."""
        return cls(**formats.read_json(data))

    @classmethod
    def from_srt(cls, text: str | PathLike[str]) -> Transcript:
        """Parse SubRip text (or a `Path`); `[Speaker] ` prefixes become speakers."""
        return cls(**formats.read_srt(text))

    @classmethod
    def from_vtt(cls, text: str | PathLike[str]) -> Transcript:
        """Parse WebVTT text (or a `Path`); `<v Speaker>` voice tags become speakers."""
        return cls(**formats.read_vtt(text))

    @classmethod
    def from_rttm(cls, text: str | PathLike[str], *, file_id: str | None = None) -> Transcript:
        """Parse RTTM `SPEAKER` lines (text or a `Path`): speaker turns with empty text."""
        return cls(**formats.read_rttm(text, file_id=file_id))

    @classmethod
    def from_stm(cls, text: str | PathLike[str], *, file_id: str | None = None) -> Transcript:
        """Parse NIST STM lines (text or a `Path`): timed, speaker-labelled reference text."""
        return cls(**formats.read_stm(text, file_id=file_id))

    @classmethod
    def load(cls, path: PathArg) -> Transcript:
        """Load a file by suffix: .json .srt .vtt .rttm .stm .txt .csv .parquet."""
        return cls(**formats.load(path))

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
        return _frames.to_pandas(self, level=level, max_gap=max_gap)

    # ------------------------------------------------------------------ exports
    def to_dict(self) -> dict[str, Any]:
        """The `verbose_json` shape (plus `source` when set); `from_json` reads it back."""
        return formats.transcript_to_dict(self)

    def to_json(self, *, indent: int | None = None) -> str:
        """`to_dict()` as JSON text (UTF-8, non-ASCII kept)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    # to_srt and to_vtt spell out the same keyword options (as _subtitles.write_srt/write_vtt
    # do) so that help() and type checkers show them; the work is in `_subtitles.cues`.
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
        return formats.write_srt(
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
        return formats.write_vtt(
            self,
            max_line_length=max_line_length,
            max_lines=max_lines,
            max_duration=max_duration,
            speaker_labels=speaker_labels,
        )

    def to_rttm(self, *, file_id: str | None = None) -> str:
        """RTTM `SPEAKER` lines, one per segment (`<NA>` for no speaker). `file_id` defaults
        to the stem of `source`, else "audio"."""
        return formats.write_rttm(self, file_id=file_id)

    def to_stm(self, *, file_id: str | None = None, channel: str = "1") -> str:
        """NIST STM lines `file channel speaker start end text`, one per segment."""
        return formats.write_stm(self, file_id=file_id, channel=channel)

    def to_text(self, *, speaker_labels: bool = True) -> str:
        """Plain text: one line per speaker turn (`Speaker: text`), or `text` if undiarized."""
        return formats.write_text(self, speaker_labels=speaker_labels)

    def save(self, path: PathArg, *, level: str = "segment") -> Path:
        """Write by suffix: .srt .vtt .rttm .stm .json .txt .csv .parquet (tables at `level`).

        .parquet needs pyarrow (`pip install pyarrow`). Returns the path written.
        """
        return formats.save(self, path, level=level)

    # ------------------------------------------------------------------ metrics
    def wer(self, reference: str | Transcript, *, normalize: bool = True) -> float:
        """Word error rate of this transcript against `reference` (text or Transcript), via
        jiwer. `normalize`: NFKC, lowercase, punctuation removed, whitespace collapsed."""
        return metrics.wer(reference, self, normalize=normalize)

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
        return metrics.der(reference, self, collar=collar, skip_overlap=skip_overlap)

    def identify(self, voices: Any, *, audio: Any) -> Transcript:
        """Name the speakers whose voice matches one enrolled in `voices` (a `fw.Voices`),
        measured on `audio` at this transcript's times; see `Voices.identify`."""
        return voices.identify(self, audio=audio)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return display.short_repr(self)

    def _repr_html_(self) -> str:
        return display.to_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def __str__(self) -> str:
        return self.text
