"""Which segments look invented: the flag the viewer shows beside a segment.

A segment is flagged when its text loops (a phrase of 1-8 words said at least 3 times back to
back, covering half its words or more), compresses too well (zlib ratio above 2.4 on 60+
characters, Whisper's own threshold), or was decoded where the model itself judged the audio
silent (`no_speech_prob >= 0.6` with `avg_logprob < -1`, Whisper's rule).

Decisions:
- When `fw_asr_widgets.transcript._quality` exists (the `hallucination` column of
  `to_pandas()`), its `is_hallucination` is used, so the viewer's flag and the table's column
  agree; the small local rule below stands in for it where that module is absent.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fw_asr_widgets.transcript._model import Segment

COMPRESSION_LIMIT = 2.4


def _loops(text: str) -> bool:
    """A phrase of 1-8 words said 3+ times back to back (one word: 4+) covers half the text."""
    toks = text.lower().split()
    n = len(toks)
    if n < 6:
        return False
    covered = [False] * n
    for unit in range(1, 9):
        need = 4 if unit == 1 else 3
        i = 0
        while i + unit <= n:
            r = 1
            while toks[i + r * unit : i + (r + 1) * unit] == toks[i : i + unit]:
                r += 1
            if r >= need:
                covered[i : i + r * unit] = [True] * (r * unit)
                i += r * unit
            else:
                i += 1
    return sum(covered) >= n / 2


def looks_invented(
    text: str,
    *,
    compression: float | None = None,
    avg_logprob: float | None = None,
    no_speech_prob: float | None = None,
) -> bool:
    """True when a segment's text loops, compresses too well or was decoded from silence."""
    if not text:
        return False
    silent = no_speech_prob is not None and no_speech_prob >= 0.6
    if silent and avg_logprob is not None and avg_logprob < -1.0:
        return True
    raw = text.encode("utf-8")
    cr = len(raw) / len(zlib.compress(raw)) if len(raw) >= 60 else compression
    if cr is not None and cr > COMPRESSION_LIMIT:
        return True
    return _loops(text)


def _rule() -> Any:
    try:
        from fw_asr_widgets.transcript._quality import (
            is_hallucination,  # type: ignore[import-not-found]
        )
    except ImportError:
        return looks_invented
    return is_hallucination


def segment_flags(segments: Sequence[Segment]) -> list[bool]:
    """One flag per segment: True when it looks invented (see module docs)."""
    rule = _rule()
    return [
        bool(
            rule(
                s.text,
                compression=s.compression_ratio,
                avg_logprob=s.avg_logprob,
                no_speech_prob=s.no_speech_prob,
            )
        )
        for s in segments
    ]
