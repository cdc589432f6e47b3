"""Editing a `Transcript`: word and segment operations with undo/redo, and a log of every edit.

Length (over 500 lines): one data structure (`TranscriptEdits`) whose operations share
the undo stack and the time rules; split apart they would each need its internals.

`TranscriptEdits` holds a working list of segments (each with its own words) and applies
operations addressed by position: segment index ``i`` and word index ``k`` inside it. It knows
no UI; `fw_asr_widgets.widgets.TranscriptViewer(editable=True)` drives it from the page.

>>> ed = TranscriptEdits(tr)
>>> ed.edit_word(3, 1, "Sheila")
>>> ed.split(5, 4)
>>> ed.undo(); ed.redo()
>>> ed.transcript.save("fixed.srt"); ed.log_frame()

Every operation returns a `Change`: the slice ``[index, index + removed)`` of the segment list
was replaced by ``len(segments)`` new segments (what a view needs to re-draw only those rows).

Decisions:
- Undo stores, per operation, the segments it replaced and the segments it put in their
  place (a slice patch), not an inverse operation: undo and redo are then the same code for
  every operation and cannot drift from the operation's own logic. Memory is a few segments
  per edit.
- Word times stay valid (ordered, ``start <= end``, inside their segment): an inserted word
  takes the gap between its neighbours when there is one (≥ `MIN_GAP` s); otherwise it
  shares the previous (or next) word's span, which is halved. A split keeps every word's
  times; the first part ends at its last word's end, the second starts at its first word's
  start. A merge spans both segments.
- Reassigning the speaker of a run of words inside a segment splits the segment around the
  run (a segment has one speaker); the words take the speaker too.
- A segment's `text` is rebuilt from its words after every word edit (words joined by one
  space); segments without timed words can be edited as a whole (`set_text`), which spreads
  the new words evenly over the segment.
- Top-level words of a transcript whose segments carry none are assigned to segments by
  their midpoint when editing starts (as the viewer shows them).
- Speaker renames are labels, not edits of the segments: `rename_speaker` records the
  rename (undoable) in `names`; `transcript` applies it.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from fw_asr_widgets.transcript._diff import segment_words
from fw_asr_widgets.transcript._model import Transcript
from fw_asr_widgets.transcript._segment import Segment, Word

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Change", "EditError", "TranscriptEdits", "segment_words"]

MIN_GAP = 0.05
"""Seconds between two words that an inserted word may fill by itself."""

OPERATIONS = (
    "edit_word",
    "insert_word",
    "delete_word",
    "split",
    "merge",
    "set_speaker",
    "set_text",
    "rename_speaker",
)


class EditError(ValueError):
    """An edit that cannot apply (bad position, empty word, nothing to merge with, ...)."""


@dataclass(frozen=True, slots=True)
class Change:
    """Segments ``[index, index + removed)`` were replaced by `segments`."""

    index: int
    removed: int
    segments: tuple[Segment, ...]


@dataclass(slots=True)
class _Step:
    operation: str
    segment: int | None  # None: a speaker rename
    word: int | None
    before: str
    after: str
    at: float | None
    index: int = 0
    old: tuple[Segment, ...] = ()
    new: tuple[Segment, ...] = ()
    names_old: dict[str, str] | None = None
    names_new: dict[str, str] | None = None


@dataclass(slots=True)
class _LogRow:
    time: float
    operation: str
    segment: int | None
    word: int | None
    start: float | None
    before: str
    after: str


def _clean(text: str) -> str:
    t = " ".join(str(text).split())
    if not t:
        raise EditError("a word cannot be empty: delete it instead")
    return t


def _seg_text(words: Sequence[Word]) -> str:
    return " ".join(w.word.strip() for w in words if w.word.strip())


def _timed(words: Sequence[Word]) -> bool:
    return bool(words) and all(w.start is not None and w.end is not None for w in words)


@dataclass
class TranscriptEdits:
    """A transcript being corrected: operations by position, undo/redo and an edit log."""

    original: Transcript
    segments: list[Segment] = field(init=False)
    names: dict[str, str] = field(init=False, default_factory=dict)
    _undo: list[_Step] = field(init=False, default_factory=list)
    _redo: list[_Step] = field(init=False, default_factory=list)
    _log: list[_LogRow] = field(init=False, default_factory=list)
    _ids: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        words = segment_words(self.original)
        self.segments = [
            s if s.words == ws else replace(s, words=ws)
            for s, ws in zip(self.original.segments, words, strict=True)
        ]
        self._ids = {s.id for s in self.segments}

    # ------------------------------------------------------------------ results
    @property
    def transcript(self) -> Transcript:
        """The corrected transcript (renames applied); metadata kept from the original."""
        names = {k: v for k, v in self.names.items() if v and v != k}

        def r(label: str | None) -> str | None:
            return names.get(label, label) if label is not None else None

        segs = [
            s
            if not names
            or (s.speaker not in names and all(w.speaker not in names for w in s.words))
            else replace(
                s,
                speaker=r(s.speaker),
                words=tuple(replace(w, speaker=r(w.speaker)) for w in s.words),
            )
            for s in self.segments
        ]
        o = self.original
        return Transcript.from_segments(
            segs,
            language=o.language,
            duration=o.duration,
            task=o.task,
            source=o.source,
            raw=o.raw,
        )

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def log_frame(self) -> pd.DataFrame:
        """Every edit, undo and redo in order: time (UTC), operation, segment, word (index
        at the time of the edit), start (audio seconds), before, after."""
        import pandas as pd

        df = pd.DataFrame(
            {
                "time": pd.to_datetime([r.time for r in self._log], unit="s", utc=True),
                "operation": pd.Series([r.operation for r in self._log], dtype="string"),
                "segment": pd.Series([r.segment for r in self._log], dtype="Int64"),
                "word": pd.Series([r.word for r in self._log], dtype="Int64"),
                "start": pd.Series([r.start for r in self._log], dtype="float64"),
                "before": pd.Series([r.before for r in self._log], dtype="string"),
                "after": pd.Series([r.after for r in self._log], dtype="string"),
            }
        )
        return df

    # ------------------------------------------------------------------ helpers
    def _seg(self, i: int) -> Segment:
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self.segments):
            raise EditError(f"no segment {i!r} (the transcript has {len(self.segments)})")
        return self.segments[i]

    def _word(self, i: int, k: int) -> tuple[Segment, Word]:
        s = self._seg(i)
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(s.words):
            raise EditError(f"segment {i} has no word {k!r} ({len(s.words)} words)")
        return s, s.words[k]

    def _new_id(self, base: str) -> str:
        n = 1
        while f"{base}.{n}" in self._ids:
            n += 1
        sid = f"{base}.{n}"
        self._ids.add(sid)
        return sid

    @staticmethod
    def _with_words(s: Segment, words: Sequence[Word], **kw: Any) -> Segment:
        words = tuple(w if w.segment_id == s.id else replace(w, segment_id=s.id) for w in words)
        return replace(s, words=words, text=_seg_text(words), **kw)

    def _apply(
        self,
        operation: str,
        index: int,
        new: Iterable[Segment],
        *,
        removed: int = 1,
        segment: int | None = None,
        word: int | None = None,
        before: str = "",
        after: str = "",
    ) -> Change:
        new_t = tuple(new)
        old = tuple(self.segments[index : index + removed])
        at = old[0].start if old else None
        if word is not None and old and 0 <= word < len(old[0].words):
            at = old[0].words[word].start
        step = _Step(
            operation,
            index if segment is None else segment,
            word,
            before,
            after,
            at,
            index=index,
            old=old,
            new=new_t,
        )
        self.segments[index : index + removed] = new_t
        self._undo.append(step)
        self._redo.clear()
        self._record(step, operation)
        return Change(index, removed, new_t)

    def _record(self, step: _Step, operation: str) -> None:
        self._log.append(
            _LogRow(
                time.time(), operation, step.segment, step.word, step.at, step.before, step.after
            )
        )

    # ------------------------------------------------------------------ operations
    def edit_word(self, i: int, k: int, text: str) -> Change:
        """Replace the text of word `k` of segment `i` (times kept)."""
        s, w = self._word(i, k)
        t = _clean(text)
        lead = " " if w.word.startswith(" ") else ""
        words = list(s.words)
        words[k] = replace(w, word=lead + t)
        return self._apply(
            "edit_word", i, [self._with_words(s, words)], word=k, before=w.word.strip(), after=t
        )

    def insert_word(self, i: int, k: int, text: str) -> Change:
        """Insert `text` as word `k` of segment `i` (before the current word `k`; `k` equal to
        the word count appends). It takes the gap between its neighbours, or half a
        neighbour's span when they touch."""
        s = self._seg(i)
        if not isinstance(k, int) or not 0 <= k <= len(s.words):
            raise EditError(f"segment {i} has no position {k!r} ({len(s.words)} words)")
        t = _clean(text)
        words = list(s.words)
        if not _timed(words):
            if words:
                raise EditError(f"segment {i} has words without times: use set_text")
            new = Word(" " + t, s.start, s.end, speaker=s.speaker, segment_id=s.id)
            return self._apply("insert_word", i, [self._with_words(s, [new])], word=k, after=t)
        prev = words[k - 1] if k > 0 else None
        nxt = words[k] if k < len(words) else None
        lo = prev.end if prev is not None else s.start
        hi = nxt.start if nxt is not None else s.end
        assert lo is not None and hi is not None
        if hi - lo >= MIN_GAP:
            start, end = lo, hi
        elif prev is not None:
            assert prev.start is not None and prev.end is not None
            mid = round((prev.start + prev.end) / 2, 3)
            words[k - 1] = replace(prev, end=mid)
            start, end = mid, prev.end
        else:
            assert nxt is not None and nxt.start is not None and nxt.end is not None
            mid = round((nxt.start + nxt.end) / 2, 3)
            words[k] = replace(nxt, start=mid)
            start, end = nxt.start, mid
        ref = prev or nxt
        assert ref is not None
        new = Word(" " + t, start, end, speaker=ref.speaker, language=ref.language, segment_id=s.id)
        words.insert(k, new)
        return self._apply("insert_word", i, [self._with_words(s, words)], word=k, after=t)

    def delete_word(self, i: int, k: int) -> Change:
        """Remove word `k` of segment `i` (the segment keeps its times)."""
        s, w = self._word(i, k)
        words = list(s.words)
        del words[k]
        return self._apply(
            "delete_word", i, [self._with_words(s, words)], word=k, before=w.word.strip()
        )

    def set_text(self, i: int, text: str) -> Change:
        """Replace segment `i`'s whole text; its words are spread evenly over the segment
        (empty `text`: no words)."""
        s = self._seg(i)
        toks = str(text).split()
        span = (s.end - s.start) / max(len(toks), 1)
        words = [
            Word(
                " " + t,
                round(s.start + n * span, 3),
                round(s.start + (n + 1) * span, 3) if n + 1 < len(toks) else s.end,
                speaker=s.speaker,
                segment_id=s.id,
            )
            for n, t in enumerate(toks)
        ]
        return self._apply(
            "set_text", i, [self._with_words(s, words)], before=s.text, after=" ".join(toks)
        )

    def split(self, i: int, k: int) -> Change:
        """Split segment `i` so that word `k` (1 ≤ k < word count) begins a new segment."""
        s = self._seg(i)
        if not 0 < k < len(s.words):
            raise EditError(
                f"segment {i} splits only between words (1 ≤ word < {len(s.words)}), not at {k!r}"
            )
        a, b = s.words[:k], s.words[k:]
        mid_a = a[-1].end if a[-1].end is not None else s.start
        mid_b = b[0].start if b[0].start is not None else mid_a
        first = self._with_words(s, a, end=max(s.start, min(mid_a, s.end)))
        second = replace(s, id=self._new_id(s.id))
        second = self._with_words(second, b, start=min(max(mid_b, first.end), s.end))
        return self._apply(
            "split",
            i,
            [first, second],
            word=k,
            before=s.text,
            after=f"{first.text} | {second.text}",
        )

    def merge(self, i: int) -> Change:
        """Merge segment `i` with segment `i + 1` (speaker of the first; words keep theirs
        unless they had the second segment's speaker, which becomes the first's)."""
        s = self._seg(i)
        if i + 1 >= len(self.segments):
            raise EditError(f"segment {i} is the last one: nothing to merge it with")
        t = self.segments[i + 1]
        words = list(s.words) + [
            replace(w, speaker=s.speaker) if w.speaker == t.speaker else w for w in t.words
        ]
        merged = self._with_words(s, words, start=min(s.start, t.start), end=max(s.end, t.end))
        if not words:
            merged = replace(merged, text=f"{s.text} {t.text}".strip())
        return self._apply(
            "merge",
            i,
            [merged],
            removed=2,
            before=f"{s.text} | {t.text}",
            after=merged.text,
        )

    def set_speaker(
        self, i: int, speaker: str | None, start: int | None = None, stop: int | None = None
    ) -> Change:
        """Give segment `i` (or its words ``start:stop``) to `speaker` (any label: an existing
        speaker or a new one). A run of words that is not the whole segment becomes a segment
        of its own."""
        s = self._seg(i)
        spk = None if speaker is None or not str(speaker).strip() else str(speaker).strip()
        n = len(s.words)
        a = 0 if start is None else start
        b = n if stop is None else stop
        if n and not (0 <= a < b <= n):
            raise EditError(f"segment {i}: no run of words {start!r}:{stop!r} ({n} words)")
        before = s.speaker or ""

        def give(seg: Segment, ws: Sequence[Word]) -> Segment:
            return self._with_words(seg, [replace(w, speaker=spk) for w in ws], speaker=spk)

        if not n or (a == 0 and b == n):
            new = [give(s, s.words)] if n else [replace(s, speaker=spk)]
            return self._apply("set_speaker", i, new, before=before, after=spk or "")
        parts: list[Segment] = []
        w = s.words
        if a > 0:
            head_end = w[a - 1].end if w[a - 1].end is not None else s.start
            parts.append(self._with_words(s, w[:a], end=head_end))
        run_seg = s if a == 0 else replace(s, id=self._new_id(s.id))
        run_seg = replace(
            run_seg, start=w[a].start if a > 0 and w[a].start is not None else s.start
        )
        run_seg = replace(
            run_seg, end=w[b - 1].end if b < n and w[b - 1].end is not None else s.end
        )
        parts.append(give(run_seg, w[a:b]))
        if b < n:
            rest_start = w[b].start if w[b].start is not None else run_seg.end
            rest = replace(s, id=self._new_id(s.id), start=rest_start)
            parts.append(self._with_words(rest, w[b:]))
        return self._apply("set_speaker", i, parts, word=a, before=before, after=spk or "")

    def rename_speaker(self, label: str, name: str | None) -> None:
        """Show speaker `label` as `name` (None or "" removes the rename)."""
        old = dict(self.names)
        new = dict(self.names)
        v = (name or "").strip()
        if v and v != label:
            new[label] = v
        else:
            new.pop(label, None)
        if new == old:
            return
        step = _Step(
            "rename_speaker",
            None,
            None,
            old.get(label, label),
            new.get(label, label),
            None,
            names_old=old,
            names_new=new,
        )
        self.names = new
        self._undo.append(step)
        self._redo.clear()
        self._record(step, "rename_speaker")

    def set_names(self, names: Mapping[str, str]) -> None:
        """Set all renames at once (as the page's speaker chips do), recorded per label."""
        for label in sorted(set(self.names) | set(names)):
            if self.names.get(label) != names.get(label):
                self.rename_speaker(label, names.get(label))

    # ------------------------------------------------------------------ undo / redo
    def _swap(self, step: _Step, forward: bool) -> Change | None:
        if step.names_old is not None:
            self.names = dict(step.names_new if forward else step.names_old)  # type: ignore[arg-type]
            return None
        put, gone = (step.new, step.old) if forward else (step.old, step.new)
        self.segments[step.index : step.index + len(gone)] = put
        return Change(step.index, len(gone), put)

    def undo(self) -> Change | None:
        """Revert the last operation; returns its `Change` (None for a rename).
        Raises `EditError` when there is nothing to undo."""
        if not self._undo:
            raise EditError("nothing to undo")
        step = self._undo.pop()
        self._redo.append(step)
        self._log.append(
            _LogRow(
                time.time(),
                f"undo {step.operation}",
                step.segment,
                step.word,
                step.at,
                step.after,
                step.before,
            )
        )
        return self._swap(step, forward=False)

    def redo(self) -> Change | None:
        """Apply again the last undone operation. Raises `EditError` when there is none."""
        if not self._redo:
            raise EditError("nothing to redo")
        step = self._redo.pop()
        self._undo.append(step)
        self._record(step, f"redo {step.operation}")
        return self._swap(step, forward=True)

    def apply(self, op: Mapping[str, Any]) -> Change | None:
        """Apply an operation given as a dict (the page's messages): ``{"op": "edit_word",
        "segment": i, "word": k, "text": ...}``, ``insert_word``, ``delete_word``,
        ``split`` (segment, word), ``merge`` (segment), ``set_speaker`` (segment, speaker,
        optional start/stop), ``set_text`` (segment, text), ``rename_speaker`` (label, name),
        ``undo``, ``redo``."""
        kind = op.get("op")

        def num(key: str) -> int:
            v = op.get(key)
            if isinstance(v, bool) or not hasattr(v, "__index__"):
                raise EditError(f"{kind}: '{key}' must be an integer, not {v!r}")
            return operator.index(v)  # numpy integers (a diff frame's positions) too

        def opt(key: str) -> int | None:
            return None if op.get(key) is None else num(key)

        if kind == "edit_word":
            return self.edit_word(num("segment"), num("word"), str(op.get("text", "")))
        if kind == "insert_word":
            return self.insert_word(num("segment"), num("word"), str(op.get("text", "")))
        if kind == "delete_word":
            return self.delete_word(num("segment"), num("word"))
        if kind == "split":
            return self.split(num("segment"), num("word"))
        if kind == "merge":
            return self.merge(num("segment"))
        if kind == "set_speaker":
            spk = op.get("speaker")
            return self.set_speaker(
                num("segment"), None if spk is None else str(spk), opt("start"), opt("stop")
            )
        if kind == "set_text":
            return self.set_text(num("segment"), str(op.get("text", "")))
        if kind == "rename_speaker":
            self.rename_speaker(str(op.get("label", "")), op.get("name"))
            return None
        if kind == "undo":
            return self.undo()
        if kind == "redo":
            return self.redo()
        raise EditError(f"unknown edit operation {kind!r}")
