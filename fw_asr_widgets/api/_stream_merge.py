"""Server messages to segments, and the rules that merge them into one transcript (sans-I/O).

`StreamProtocol` keeps the merged state (segments keyed by connection and server id); the
pieces here are the pure functions it applies: reading one listed segment (`read_segment`),
the order of ids (`id_key`), moving a connection's times onto the stream's axis (`shift`) and
dropping words repeated at a reconnect seam (`dedupe_seam`).

Merged state (decisions):

- A segment is final when it has words and all are `is_final` (or the segment itself carries
  `"is_final": true`).
- Order: connection by connection (each connection covers later audio than the previous one),
  and by id within a connection in numeric order (numbers or digit strings: "9" before "10";
  other strings after them), which is the spec's "id order".
- Replace by id only. LiveKit's extra rule (drop local ids above the highest id in a message)
  is not applied: with messages that list only the segments that changed, a message revising
  an older segment alone would delete the newer ones, and a server whose messages satisfy both
  rules (as the reference asks) gives the same state without it. A server withdraws a segment
  by listing it empty (`"words": []`, `"text": ""`), which both rules read the same way.
- Timestamps restart at zero in each streaming session (each connection): times from
  connection n get that connection's offset added (the stream position of its first audio
  sample), so the transcript keeps one time axis across reconnects.
- Resume after a dropped connection (`StreamProtocol.begin_reconnect`): a new server session
  starts at t=0 with ids from "0" again, so segments are keyed by (connection number, server
  id); their public id is the server id on the first connection and `"<n>:<id>"` on
  connection n. The kept transcript is the old connections' final segments up to the first
  non-final one; of that one, its final word prefix is kept as a final segment. Everything
  after is dropped, and the audio from the end of the last kept word (`reconnect_plan()`) is
  sent again on the new connection, so no speech is lost.
- De-duplication at the seam: word times are only good to ~0.3 s, so the re-sent audio may start
  inside the last kept word. On connection n the leading words that repeat the tail of the kept
  transcript (longest match of up to 8 words, normalised, starting within 2 s of the seam) are
  dropped, so nothing is transcribed twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fw_asr_widgets._wire import normalize_word  # the key used to spot repeated words at a seam
from fw_asr_widgets.transcript import Segment, Word

SEAM_WINDOW_S = 2.0
"""Only words starting within this many seconds after a seam are checked for repeats."""
SEAM_MAX_WORDS = 8


@dataclass
class SegState:
    """One server segment as merged: `seg` has stream times and its public id."""

    gen: int
    sid: str
    seg: Segment
    final: bool
    final_words: int  # length of the leading run of is_final words


def public_id(gen: int, sid: str) -> str:
    """The id users see: the server's on the first connection, `"<gen>:<id>"` after."""
    return sid if gen == 0 else f"{gen}:{sid}"


def id_key(sid: str) -> tuple[int, int, str]:
    """Numeric ids (and digit strings: "9" < "10") first in numeric order, other ids after."""
    try:
        return (0, int(sid), "")
    except ValueError:
        return (1, 0, sid)


def order_key(key: tuple[int, str]) -> tuple[int, tuple[int, int, str]]:
    """Sort key of a (connection, server id) pair: connection first, then `id_key`."""
    return (key[0], id_key(key[1]))


def wire_id(value: Any) -> Any:
    """A segment id as sent: numbers (3 or 3.0) and strings ("3") all become "3"."""
    if isinstance(value, bool):
        raise ValueError(f"a segment id must be a number or a string, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def join_words(words: Iterable[Word]) -> str:
    """Segment text from its words (kept spacing when the words carry it)."""
    ws = [w.word for w in words]
    if any(w[:1].isspace() for w in ws):
        return "".join(ws).strip()
    return " ".join(w.strip() for w in ws).strip()


def shift(seg: Segment, offset: float, pid: str) -> Segment:
    """`seg` with `offset` s added to every time and its public id set."""
    if offset == 0.0:
        return replace(seg, id=pid)
    words = tuple(
        replace(
            w,
            start=None if w.start is None else w.start + offset,
            end=None if w.end is None else w.end + offset,
        )
        for w in seg.words
    )
    return replace(seg, id=pid, start=seg.start + offset, end=seg.end + offset, words=words)


def seg_end(seg: Segment) -> float:
    """End of the last timed word, else the segment's end."""
    ends = [w.end for w in seg.words if w.end is not None]
    return ends[-1] if ends else seg.end


def read_segment(d: Mapping[str, Any], index: int, gen: int, offset: float) -> SegState:
    """One listed segment of connection `gen` (raises `TypeError`/`ValueError` if malformed)."""
    if "id" in d:
        wid = wire_id(d["id"])
        if wid is not d["id"]:
            d = {**d, "id": wid}
    raw = Segment.from_dict(d, index=index)
    words = raw.words
    run = 0
    for w in words:
        if not w.is_final:
            break
        run += 1
    final = bool(d.get("is_final")) or (bool(words) and run == len(words))
    seg = shift(raw, offset, public_id(gen, raw.id))
    return SegState(gen, raw.id, seg, final, run)


def final_prefix(st: SegState) -> None:
    """Cut a partly final segment to its final words, now a final segment (in place)."""
    words = st.seg.words[: st.final_words]
    st.seg = replace(
        st.seg,
        words=words,
        text=join_words(words),
        end=words[-1].end if words[-1].end is not None else st.seg.end,
    )
    st.final = True
    st.final_words = len(words)


def seam_tail(segments: Iterable[Segment]) -> tuple[str, ...]:
    """The kept transcript's last `SEAM_MAX_WORDS` normalised words."""
    words = [normalize_word(w.word) for s in segments for w in s.words]
    return tuple([w for w in words if w][-SEAM_MAX_WORDS:])


def dedupe_seam(segs: list[Segment], seam: float, tail: tuple[str, ...]) -> list[Segment]:
    """Drop the leading words of a new connection's `segs` that repeat `tail` (the kept
    transcript's last words) and start within `SEAM_WINDOW_S` of the seam at `seam` s."""
    if not tail:
        return segs
    cand: list[str] = []
    for s in segs:
        for w in s.words:
            if w.start is not None and w.start > seam + SEAM_WINDOW_S:
                break
            cand.append(normalize_word(w.word))
        else:
            continue
        break
    cand = cand[: len(tail)]
    k = 0
    for n in range(min(len(tail), len(cand)), 0, -1):
        if tuple(cand[:n]) == tail[-n:]:
            k = n
            break
    if k == 0:
        return segs
    out: list[Segment] = []
    for s in segs:
        if k <= 0 or not s.words:
            out.append(s)
            continue
        drop = min(k, len(s.words))
        k -= drop
        rest = s.words[drop:]
        if rest:
            start = rest[0].start if rest[0].start is not None else s.start
            out.append(replace(s, words=rest, text=join_words(rest), start=start))
    return out
