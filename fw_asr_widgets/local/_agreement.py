"""Local agreement for live transcription: pure, deterministic, no I/O.

Feed it consecutive decode hypotheses of a growing audio buffer (words with absolute times in
seconds from the start of the stream); it commits the longest common word prefix of the last two
hypotheses, de-duplicates the start of each hypothesis against the committed tail, groups words
into segments with string ids ("0", "1", ...) and builds the `verbose_json`-shaped messages the
streaming WebSocket sends (see `fw_asr_widgets.local.streaming` for the protocol).

Segments close after a word the decoder ended a segment with (when more speech followed), and
whenever a decode leaves no partial words (everything heard is committed: a pause).

Invariants (property-tested): committed words never change and are never committed twice; only
the open segment is listed with non-final words; a segment listed with all its words final has
closed and is never listed again (except in the full state message); every message lists the
highest id the client has seen, so a client that drops local ids above a message's highest id
(LiveKit's plugin) loses nothing.

Decisions:
- `hallucination_score` on a word means what it means in file responses
  (`fw_asr_widgets._quality.hallucination_score`): 1.0 when the hallucination guard flags the
  Whisper segment it was decoded in, else that segment's `no_speech_prob` (capped at 0.99).
- Word and segment `start`/`end` are included only when asked for (`word_times`,
  `segment_times`: the `timestamp_granularities` of the session); the unit API defaults to both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fw_asr_widgets._wire import normalize_word

# How far back (seconds) a new hypothesis word may start before the last committed word's end
# and still be treated as new (Whisper word times are good to about +-0.3 s).
TIME_TOLERANCE = 0.1
# A hypothesis whose first word starts within this many seconds of the last committed word's end
# is checked for a repeat of the committed tail (n-grams up to MAX_NGRAM words).
DEDUP_WINDOW = 1.0
MAX_NGRAM = 5


def normalize(word: str) -> str:
    """Comparison key of a word: `_wire.normalize_word`, or the bare lower-cased word when
    that is empty (a word of punctuation only still matches itself)."""
    key = normalize_word(word)
    return key or word.strip().lower()


@dataclass(frozen=True)
class HypWord:
    """One word of a decode hypothesis, times in seconds from the stream start.

    `segment_end` is True when the decoder ended a segment after this word and more speech
    followed in the same hypothesis (a finished segment, safe to close and to trim at).
    `hallucination_score` is the decoder segment's score (`_quality.hallucination_score`).
    `speaker` is the live speaker label (`SPEAKER_00`, …), given when the word is committed
    by a session that asked for labels (sent as `speaker_id`).
    """

    word: str
    start: float
    end: float
    probability: float = 1.0
    segment_end: bool = False
    hallucination_score: float = 0.0
    speaker: str | None = None


@dataclass
class StreamSegment:
    """A transcript segment: committed words, then (only while open) partial words."""

    id: int
    words: list[HypWord] = field(default_factory=list)
    partial: list[HypWord] = field(default_factory=list)
    span: tuple[float, float] | None = None  # start/end to send instead of the words' span

    @property
    def speaker(self) -> str | None:
        """The live label of the segment: its committed words' (one speaker per segment)."""
        return next((w.speaker for w in self.words if w.speaker is not None), None)

    def to_json(
        self, language: str = "en", *, word_times: bool = True, segment_times: bool = True
    ) -> dict[str, Any]:
        """The segment as sent on the wire (`is_final` per word; times as asked for)."""
        words = [_word_json(w, True, language, word_times) for w in self.words] + [
            _word_json(w, False, language, word_times) for w in self.partial
        ]
        all_words = self.words + self.partial
        seg: dict[str, Any] = {"id": self.id, "text": " ".join(w["word"] for w in words)}
        if segment_times and self.span is not None:
            seg["start"], seg["end"] = round(self.span[0], 3), round(self.span[1], 3)
        elif segment_times:
            seg["start"] = round(all_words[0].start, 3) if all_words else 0.0
            seg["end"] = round(all_words[-1].end, 3) if all_words else 0.0
        if self.speaker is not None:
            seg["speaker_id"] = self.speaker
        seg["words"] = words
        return seg


def _word_json(w: HypWord, final: bool, language: str, times: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"word": w.word.strip()}
    if times:
        d["start"] = round(w.start, 3)
        d["end"] = round(w.end, 3)
    d["probability"] = round(w.probability, 4)
    d["is_final"] = final
    d["language"] = language
    d["hallucination_score"] = round(w.hallucination_score, 4)
    if final and w.speaker is not None:
        d["speaker_id"] = w.speaker
    return d


class LocalAgreement:
    """Commits words two consecutive hypotheses agree on, and tracks segments.

    Use: `insert(hypothesis)` after each decode (`final=True` on the last pass commits every
    word of it), `clear()` to close the context, `message()` for the next wire message.
    `labeler` (optional) gives each word its speaker as it is committed; the open segment is
    closed before a committed word whose speaker differs from the segment's, so every segment
    has one speaker. `extent` (optional) gives a closed segment its times, from its words'
    span and the bounds of its neighbours (`extent(start, end, lo, hi)`; the engine widens
    it to detected speech).
    """

    def __init__(
        self,
        *,
        language: str = "en",
        task: str = "transcribe",
        word_times: bool = True,
        segment_times: bool = True,
        labeler: Callable[[HypWord], str | None] | None = None,
        extent: Callable[[float, float, float, float], tuple[float, float]] | None = None,
    ) -> None:
        self.language = language
        self.labeler = labeler
        self.extent = extent
        self.task = task
        self.word_times = word_times
        self.segment_times = segment_times
        self._committed: list[HypWord] = []  # every committed word, all contexts
        self._context: list[HypWord] = []  # committed words of the current context (dedup)
        self._pending: list[HypWord] = []  # uncommitted tail of the previous hypothesis
        self._last_end = 0.0  # end of the last committed word
        self._closed: list[StreamSegment] = []
        self._open = StreamSegment(id=0)
        self._next_id = 1
        self._changed: list[StreamSegment] = []  # closed since the last message
        self._last_sent_open: dict[str, Any] | None = None
        self._max_sent = -1  # highest segment id listed in any message so far

    # -- state ---------------------------------------------------------------------------

    @property
    def committed(self) -> tuple[HypWord, ...]:
        """Every committed word so far, in order."""
        return tuple(self._committed)

    @property
    def pending(self) -> tuple[HypWord, ...]:
        """Partial words: the uncommitted tail of the latest hypothesis."""
        return tuple(self._pending)

    @property
    def last_committed_end(self) -> float:
        """End time of the last committed word (0.0 before any)."""
        return self._last_end

    @property
    def last_closed_end(self) -> float | None:
        """End time of the most recently closed segment (a safe buffer trim point)."""
        for seg in reversed(self._closed):
            if seg.words:
                return seg.words[-1].end
        return None

    def context_text(self, before: float) -> str:
        """Committed text of the current context that ends at or before `before` seconds."""
        return " ".join(w.word.strip() for w in self._context if w.end <= before + 1e-6)

    @property
    def has_open_text(self) -> bool:
        """True while the open segment has words (committed or partial)."""
        return bool(self._open.words or self._open.partial)

    @property
    def open_id(self) -> int:
        """Id of the open segment (the one that may still change)."""
        return self._open.id

    @property
    def segments(self) -> list[StreamSegment]:
        """All segments in order: closed ones, then the open one if it has words."""
        segs = list(self._closed)
        if self._open.words or self._open.partial:
            segs.append(self._open)
        return segs

    # -- updates -------------------------------------------------------------------------

    def insert(self, hypothesis: Sequence[HypWord], *, final: bool = False) -> list[HypWord]:
        """Take a new hypothesis; return the words committed by it.

        Words starting before the last committed end (minus `TIME_TOLERANCE`) and centred
        before it belong to audio already committed and are dropped, then a repeat of the
        committed tail at the start is removed. Without `final` the common prefix with the
        previous hypothesis is committed; with `final` every remaining word is.
        """
        new = [w for w in hypothesis if self._is_new(w)]
        new = self._dedup(new)
        if final:
            commit, rest = new, []
        else:
            n = 0
            for a, b in zip(new, self._pending, strict=False):
                if normalize(a.word) != normalize(b.word):
                    break
                n += 1
            commit, rest = new[:n], new[n:]
        self._pending = list(rest)
        self._commit(commit)
        if final or not self._pending:
            # Everything heard is committed (a pause, or the end): the segment is done, so a
            # listed segment whose words are all final is never listed again.
            self._close_open()
        self._open.partial = list(self._pending)
        return commit

    def commit_pending(self) -> list[HypWord]:
        """Commit the partial words as they are (no new decode) and close the open segment."""
        commit, self._pending = self._pending, []
        self._commit(commit)
        self._close_open()
        self._open.partial = []
        return commit

    def clear(self) -> list[HypWord]:
        """Commit what is there, close the segment and start a fresh context."""
        commit = self.commit_pending()
        self._context = []
        return commit

    def _is_new(self, w: HypWord) -> bool:
        # Word times move by 0.1-0.2 s between decodes; a word whose middle lies past the
        # last committed end is new even if its start moved earlier.
        return w.start > self._last_end - TIME_TOLERANCE or (w.start + w.end) / 2 > self._last_end

    def _dedup(self, new: list[HypWord]) -> list[HypWord]:
        if not new or not self._context or abs(new[0].start - self._last_end) >= DEDUP_WINDOW:
            return new
        top = min(len(self._context), len(new), MAX_NGRAM)
        for i in range(top, 0, -1):
            tail = [normalize(w.word) for w in self._context[-i:]]
            head = [normalize(w.word) for w in new[:i]]
            if tail == head:
                return new[i:]
        return new

    def _commit(self, words: Sequence[HypWord]) -> None:
        for w in words:
            if self.labeler is not None:
                w = replace(w, speaker=self.labeler(w))
                spk = self._open.speaker
                if w.speaker is not None and spk is not None and w.speaker != spk:
                    self._close_open()  # a new speaker starts a new segment
            self._committed.append(w)
            self._context.append(w)
            self._last_end = max(self._last_end, w.end)
            self._open.words.append(w)
            if w.segment_end:
                self._close_open()

    def _close_open(self) -> None:
        if not self._open.words:
            return
        # Partial words stay with the next (open) segment.
        self._open.partial = []
        self._closed.append(self._open)
        self._changed.append(self._open)
        self._open = StreamSegment(id=self._next_id)
        self._next_id += 1
        self._last_sent_open = None

    # -- messages ------------------------------------------------------------------------

    def _json(self, seg: StreamSegment) -> dict[str, Any]:
        return seg.to_json(
            self.language, word_times=self.word_times, segment_times=self.segment_times
        )

    def _give_spans(self) -> None:
        """Fix the times of closed segments that have none yet with `extent`, bounded by the
        previous segment's end and the next segment's first word as known now (the open
        segment's, when it is the next; its words may still move by a decode's jitter)."""
        if self.extent is None:
            return
        first = len(self._closed)
        while first > 0 and self._closed[first - 1].span is None:
            first -= 1
        for i in range(first, len(self._closed)):
            seg = self._closed[i]
            prev = self._closed[i - 1] if i else None
            lo = 0.0
            if prev is not None:
                lo = prev.span[1] if prev.span is not None else prev.words[-1].end
            nxt = (
                self._closed[i + 1].words
                if i + 1 < len(self._closed)
                else self._open.words + self._open.partial
            )
            s0, s1 = seg.words[0].start, seg.words[-1].end
            hi = max(s1, nxt[0].start) if nxt else float("inf")
            a, b = self.extent(s0, s1, min(lo, s0), hi)
            seg.span = (min(s0, max(a, lo)), max(s1, min(b, hi)))

    def messages(self, *, full: bool = False) -> list[dict[str, Any]]:
        """The next wire messages (empty when nothing changed since the last ones).

        Segments closed since the last message come first, in a message of their own, so its
        newest segment ends with an `is_final: true` word (a client such as LiveKit's reports a
        final transcript on exactly that); the open segment, if it changed, follows in a second
        message. `full=True` gives one message listing every segment (the final state).
        Each message lists the highest segment id sent so far (see the module doc).
        """
        self._give_spans()
        if full:
            groups = [g for g in [list(self.segments)] if g]
        else:
            closed = list(self._changed)
            opened: list[StreamSegment] = []
            if self._open.words or self._open.partial:
                if self._json(self._open) != self._last_sent_open:
                    opened.append(self._open)
            elif self._last_sent_open is not None and self._last_sent_open.get("words"):
                # The open segment lost its (partial) words: tell the client it is empty.
                opened.append(self._open)
            groups = [g for g in (closed, opened) if g]
        self._changed = []
        out = []
        for listed in groups:
            segs = [self._json(s) for s in listed]
            if segs[-1]["id"] < self._max_sent:
                # Keep the client's newest segment: a message's highest id is never below it.
                newest = self._open if self._open.id == self._max_sent else None
                newest = newest or next(s for s in self._closed if s.id == self._max_sent)
                segs.append(self._json(newest))
            self._max_sent = max(self._max_sent, segs[-1]["id"])
            if listed[-1] is self._open:
                has_words = bool(self._open.words or self._open.partial)
                self._last_sent_open = segs[-1] if has_words else None
            out.append(self.envelope(segs))
        return out

    def message(self, *, full: bool = False) -> dict[str, Any] | None:
        """All changes since the last message in one message, or None when nothing changed.

        Lists the segments closed since the last message (all words final) and the open
        segment if it changed; `full=True` lists every segment (the final state message).
        """
        msgs = self.messages(full=full)
        if not msgs:
            return None
        if len(msgs) == 1:
            return msgs[0]
        segs: dict[int, dict[str, Any]] = {}
        for m in msgs:
            segs.update((s["id"], s) for s in m["segments"])
        return self.envelope([segs[k] for k in sorted(segs)])

    def envelope(self, segments: list[dict[str, Any]]) -> dict[str, Any]:
        """A `verbose_json` message around `segments` (the full text is always included)."""
        return {
            "task": self.task,
            "language": self.language,
            "text": self.text,
            "segments": segments,
            "words": [w for s in segments for w in s["words"]],
        }

    @property
    def text(self) -> str:
        """Full text so far, committed and partial."""
        return " ".join(t for t in (self._json(s)["text"] for s in self.segments) if t)
