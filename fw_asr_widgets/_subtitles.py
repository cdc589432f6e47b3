"""SubRip and WebVTT writers shared by `Transcript.to_srt`/`to_vtt` and the embedded engine.

A bottom-layer module (plain Python, no package imports): the engine may not import
`transcript/`, and both must write the same subtitles. Segments are anything with `start`,
`end`, `text`, `speaker` and `words` (each word with `word`, `start`, `end`): transcript
`Segment`s as they are, response dicts through `segments_from_dicts`.

Conventions: times to the millisecond (rounded, never negative); cue text with whitespace
collapsed and wrapped at `max_line_length` (42, the usual broadcast width) on at most
`max_lines` lines; a longer segment is split into several cues at word boundaries, timed from
its words when they spell the text, else in proportion to character positions. SRT prefixes
a cue with `[Speaker] `, WebVTT uses `<v Speaker>` voice tags.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Cue = tuple[int, int, str | None, list[str]]
"""(start ms, end ms, speaker, lines)."""


class WordLike(Protocol):
    @property
    def word(self) -> str: ...
    @property
    def start(self) -> float | None: ...
    @property
    def end(self) -> float | None: ...


class SegmentLike(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def speaker(self) -> str | None: ...
    @property
    def words(self) -> Sequence[WordLike]: ...


@dataclass(frozen=True)
class CueWord:
    word: str
    start: float | None
    end: float | None


@dataclass(frozen=True)
class CueSegment:
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: tuple[CueWord, ...] = field(default_factory=tuple)


def _num(x: Any) -> float | None:
    return None if x is None else float(x)


def segments_from_dicts(segments: Iterable[Mapping[str, Any]]) -> list[CueSegment]:
    """Response segment dicts (`start`, `end`, `text`, optional `speaker_id`/`speaker`,
    `words`) as writer input."""
    out = []
    for s in segments:
        words = tuple(
            CueWord(str(w.get("word") or ""), _num(w.get("start")), _num(w.get("end")))
            for w in s.get("words") or []
        )
        speaker = s.get("speaker_id", s.get("speaker"))
        out.append(
            CueSegment(
                float(s["start"]),
                float(s["end"]),
                str(s.get("text") or ""),
                None if speaker is None else str(speaker),
                words,
            )
        )
    return out


def ms(t: float) -> int:
    """Seconds -> whole milliseconds (rounded, at least 0)."""
    return max(0, round(t * 1000))


def clock(ms: int, sep: str) -> str:
    """`HH:MM:SS<sep>mmm` (`sep` is `,` for SRT, `.` for WebVTT)."""
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def clean(text: str) -> str:
    """Whitespace collapsed to single spaces."""
    return " ".join(text.split())


def _token_times(seg: SegmentLike, tokens: Sequence[str]) -> list[tuple[float, float]]:
    """Start/end of each token: its word's times when the words spell the segment text (a
    word of several tokens lends its times to each), else times proportional to character
    positions within the segment."""
    ws = [w for w in seg.words if w.word.strip()]
    if ws and all(w.start is not None and w.end is not None for w in ws):
        spans: list[tuple[float, float]] = []
        for w in ws:
            assert w.start is not None and w.end is not None
            a = min(max(w.start, seg.start), seg.end)
            b = min(max(w.end, seg.start), seg.end)
            spans.extend([(a, b)] * len(w.word.split()))
        if len(spans) == len(tokens) and [t for w in ws for t in w.word.split()] == list(tokens):
            return spans
    total = sum(len(t) + 1 for t in tokens) or 1
    dur = seg.end - seg.start
    out = []
    pos = 0
    for t in tokens:
        a = seg.start + dur * pos / total
        pos += len(t) + 1
        out.append((a, seg.start + dur * pos / total))
    return out


def _n_lines(tokens: Sequence[str], width: int | None) -> int:
    if width is None:
        return 1
    return (
        len(textwrap.wrap(" ".join(tokens), width, break_long_words=False, break_on_hyphens=False))
        or 1
    )


def _lines(tokens: Sequence[str], width: int | None) -> list[str]:
    text = " ".join(tokens)
    if width is None or not text:
        return [text]
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def cues(
    segments: Iterable[SegmentLike],
    max_line_length: int | None = 42,
    max_lines: int = 2,
    max_duration: float | None = None,
    srt_labels: bool = False,
) -> list[Cue]:
    """(start ms, end ms, speaker, lines) for every cue; long segments split into cues.
    With `srt_labels`, lines start with `[Speaker]` (counted in the line length)."""
    if max_line_length is not None and max_line_length < 1:
        raise ValueError("max_line_length must be a positive integer or None")
    if max_lines < 1:
        raise ValueError("max_lines must be at least 1")
    if max_duration is not None and not max_duration > 0:
        raise ValueError("max_duration must be a positive number of seconds or None")
    out: list[Cue] = []
    for seg in segments:
        if math.isnan(seg.start) or math.isnan(seg.end):
            continue
        tokens = seg.text.split()
        prefix = [f"[{clean(seg.speaker)}]"] if srt_labels and seg.speaker is not None else []
        if not tokens:
            out.append((ms(seg.start), ms(seg.end), seg.speaker, prefix))
            continue
        times = _token_times(seg, tokens)
        groups: list[list[int]] = [[]]
        for i in range(len(tokens)):
            cur = groups[-1]
            if cur:
                cand = [*prefix, *(tokens[j] for j in cur), tokens[i]]
                too_long = _n_lines(cand, max_line_length) > max_lines
                too_slow = (
                    max_duration is not None and times[i][1] - times[cur[0]][0] > max_duration
                )
                if too_long or too_slow:
                    groups.append([])
            groups[-1].append(i)
        bounds = [seg.start] + [times[g[0]][0] for g in groups[1:]] + [seg.end]
        for k in range(1, len(bounds)):  # keep cue boundaries monotonic
            bounds[k] = max(bounds[k], bounds[k - 1])
        for k, g in enumerate(groups):
            lines = _lines([*prefix, *(tokens[j] for j in g)], max_line_length)
            out.append((ms(bounds[k]), ms(bounds[k + 1]), seg.speaker, lines))
    return out


def write_srt(
    segments: Iterable[SegmentLike],
    *,
    max_line_length: int | None = 42,
    max_lines: int = 2,
    max_duration: float | None = None,
    speaker_labels: bool = True,
) -> str:
    """SubRip text: numbered cues, `[Speaker] ` prefixes unless `speaker_labels=False`."""
    out = []
    all_cues = cues(segments, max_line_length, max_lines, max_duration, srt_labels=speaker_labels)
    for n, (a, b, _, lines) in enumerate(all_cues, 1):
        out.append(f"{n}\n{clock(a, ',')} --> {clock(b, ',')}\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


def vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# write_srt and write_vtt spell out the same keyword options on purpose (duplicates lists the
# pair): they are the signatures type checkers and help() show; the shared work is in `cues`.
def write_vtt(
    segments: Iterable[SegmentLike],
    *,
    max_line_length: int | None = 42,
    max_lines: int = 2,
    max_duration: float | None = None,
    speaker_labels: bool = True,
) -> str:
    """WebVTT text with `<v Speaker>` voice tags unless `speaker_labels=False`."""
    out = ["WEBVTT\n"]
    for a, b, spk, lines in cues(segments, max_line_length, max_lines, max_duration):
        body = [vtt_escape(x) for x in lines]
        if speaker_labels and spk is not None:
            tag = f"<v {vtt_escape(clean(spk))}>"
            body = [tag + body[0], *body[1:]] if body else [tag]
        out.append(f"{clock(a, '.')} --> {clock(b, '.')}\n" + "\n".join(body) + "\n")
    return "\n".join(out)
