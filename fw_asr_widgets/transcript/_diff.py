"""Word-by-word alignment of two transcripts (`Transcript.diff`), via jiwer's alignment.

`diff(a, b)` reads `a` as the reference (or the earlier version) and `b` as the hypothesis:
one row per aligned word pair, ``op`` one of ``match``, ``substitution``, ``insertion`` (a
word only `b` has) and ``deletion`` (a word only `a` has). The counts equal
`jiwer.process_words` on the normalised texts (what `Transcript.wer` measures).

Columns: op · a_word, b_word (as written; NA on the side that has no word) · a_start, a_end,
b_start, b_end (seconds) · a_segment, a_word_index, b_segment, b_word_index (positions: the
segment index and the word index inside it, as `TranscriptViewer`'s edits take them; NA
for words a segment has no timed words for) · a_speaker, b_speaker.

Decisions:
- Words are compared after `normalize_text` (case, punctuation); a word that normalises to
  nothing (a lone dash) is left out of the alignment, as `wer(normalize=True)` leaves it out.
- A segment without timed words (an STM or SRT reference) is split on whitespace and its
  words get evenly spread times inside the segment, marked by a NA word index.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fw_asr_widgets.transcript._segment import Word
from fw_asr_widgets.transcript.metrics import normalize_text

if TYPE_CHECKING:
    import pandas as pd

    from fw_asr_widgets.transcript._model import Transcript

__all__ = ["diff", "diff_counts", "segment_words"]

_OPS = {"equal": "match", "substitute": "substitution", "insert": "insertion", "delete": "deletion"}


@dataclass(frozen=True, slots=True)
class _Tok:
    norm: str
    word: str
    start: float | None
    end: float | None
    segment: int
    index: int | None
    speaker: str | None


def segment_words(tr: Transcript) -> list[tuple[Word, ...]]:
    """Words per segment: each segment's own, else top-level words assigned by midpoint."""
    segs = tr.segments
    if any(s.words for s in segs) or not tr.words:
        return [tuple(s.words) for s in segs]
    starts = [s.start for s in segs]
    out: list[list[Word]] = [[] for _ in segs]
    for w in tr.words:
        if w.start is None:
            continue
        mid = (w.start + (w.end if w.end is not None else w.start)) / 2
        i = bisect.bisect_right(starts, mid) - 1
        if i >= 0:
            out[i].append(replace(w, segment_id=segs[i].id))
    return [tuple(ws) for ws in out]


def tokens(tr: Transcript) -> list[_Tok]:
    """The transcript's words in order, normalised, with their positions and times."""
    out: list[_Tok] = []
    for i, (s, words) in enumerate(zip(tr.segments, segment_words(tr), strict=True)):
        if words:
            for k, w in enumerate(words):
                for part in normalize_text(w.word).split():
                    out.append(
                        _Tok(part, w.word.strip(), w.start, w.end, i, k, w.speaker or s.speaker)
                    )
            continue
        raw = s.text.split()
        span = (s.end - s.start) / max(len(raw), 1)
        for k, word in enumerate(raw):
            for part in normalize_text(word).split():
                a = s.start + k * span
                out.append(_Tok(part, word, round(a, 3), round(a + span, 3), i, None, s.speaker))
    if not tr.segments and tr.text:
        out = [_Tok(p, p, None, None, -1, None, None) for p in normalize_text(tr.text).split()]
    return out


def _align(a: list[_Tok], b: list[_Tok]) -> list[tuple[str, _Tok | None, _Tok | None]]:
    import jiwer

    if not a or not b:
        return [("deletion", t, None) for t in a] + [("insertion", None, t) for t in b]
    out = jiwer.process_words(" ".join(t.norm for t in a), " ".join(t.norm for t in b))
    rows: list[tuple[str, _Tok | None, _Tok | None]] = []
    for c in out.alignments[0]:
        op = _OPS[c.type]
        if op in ("match", "substitution"):
            for x, y in zip(
                range(c.ref_start_idx, c.ref_end_idx),
                range(c.hyp_start_idx, c.hyp_end_idx),
                strict=True,
            ):
                rows.append((op, a[x], b[y]))
        elif op == "deletion":
            rows.extend(("deletion", a[x], None) for x in range(c.ref_start_idx, c.ref_end_idx))
        else:
            rows.extend(("insertion", None, b[y]) for y in range(c.hyp_start_idx, c.hyp_end_idx))
    return rows


def diff(a: Transcript, b: Transcript) -> pd.DataFrame:
    """Align `b` against `a` word by word (see module docs for the columns)."""
    import pandas as pd

    rows = _align(tokens(a), tokens(b))

    def col(side: int, attr: str, dtype: str) -> pd.Series:
        return pd.Series(
            [getattr(r[side], attr) if r[side] is not None else None for r in rows], dtype=dtype
        )

    return pd.DataFrame(
        {
            "op": pd.Series([r[0] for r in rows], dtype="string"),
            "a_word": col(1, "word", "string"),
            "b_word": col(2, "word", "string"),
            "a_start": col(1, "start", "float64"),
            "a_end": col(1, "end", "float64"),
            "b_start": col(2, "start", "float64"),
            "b_end": col(2, "end", "float64"),
            "a_segment": col(1, "segment", "Int64"),
            "a_word_index": col(1, "index", "Int64"),
            "b_segment": col(2, "segment", "Int64"),
            "b_word_index": col(2, "index", "Int64"),
            "a_speaker": col(1, "speaker", "string"),
            "b_speaker": col(2, "speaker", "string"),
        }
    )


def diff_counts(frame: pd.DataFrame) -> dict[str, int]:
    """``{"match": n, "substitution": n, "insertion": n, "deletion": n}`` of a `diff` frame."""
    counts = frame["op"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("match", "substitution", "insertion", "deletion")}
