"""The edits a user makes to turn a model's transcript into a reference, as viewer operations.

Computed from `hyp.diff(reference)`: substituted words are retyped, extra words deleted,
missing words inserted, and runs of words the reference gives to the other speaker are
reassigned. Operations are listed from the end of the transcript backwards, so each one's
positions are still valid when it is applied.
"""

from __future__ import annotations

from typing import Any

from fw_asr_widgets.transcript import Transcript


def word_ops(hyp: Transcript, reference: Transcript) -> list[dict[str, Any]]:
    """edit_word / delete_word / insert_word operations that make `hyp`'s words the reference's."""
    d = hyp.diff(reference)
    ops: list[dict[str, Any]] = []
    last: tuple[int, int] | None = None  # the hyp word before the current row
    first_seg = 0
    for r in d.itertuples():
        if r.op == "substitution":
            ops.append(
                {
                    "op": "edit_word",
                    "segment": int(r.a_segment),
                    "word": int(r.a_word_index),
                    "text": str(r.b_word),
                }
            )
        elif r.op == "deletion":
            ops.append(
                {"op": "delete_word", "segment": int(r.a_segment), "word": int(r.a_word_index)}
            )
        elif r.op == "insertion":
            seg, k = (last[0], last[1] + 1) if last is not None else (first_seg, 0)
            ops.append({"op": "insert_word", "segment": seg, "word": k, "text": str(r.b_word)})
        if r.op != "insertion":
            last = (int(r.a_segment), int(r.a_word_index))
    return ops[::-1]


def speaker_ops(hyp: Transcript, reference: Transcript) -> list[dict[str, Any]]:
    """set_speaker operations giving each run of words the (mapped) reference speaker.

    A word is reassigned only when one reference turn holds all of it (a word across a turn
    edge is where the reference itself is unsure, as a user listening would be)."""
    turns = [(s.start, s.end, s.speaker) for s in reference.segments]

    def ref_speaker(t: float, span: tuple[float, float] | None = None) -> str | None:
        a0, b0 = span if span is not None else (t, t)
        hits = {spk for a, b, spk in turns if a <= t <= b}
        inside = {spk for a, b, spk in turns if a - 0.02 <= a0 and b0 <= b + 0.02}
        if span is not None:
            return next(iter(inside)) if len(inside) == 1 and hits == inside else None
        return next(iter(hits)) if len(hits) == 1 else None

    overlap: dict[tuple[str, str], float] = {}
    for s in hyp.segments:
        for w in s.words:
            if w.start is None or w.end is None or s.speaker is None:
                continue
            r = ref_speaker((w.start + w.end) / 2)
            if r is not None:
                overlap[(r, s.speaker)] = overlap.get((r, s.speaker), 0.0) + (w.end - w.start)
    mapping: dict[str, str] = {}
    for (r, h), _v in sorted(overlap.items(), key=lambda kv: -kv[1]):
        if r not in mapping and h not in mapping.values():
            mapping[r] = h
    ops: list[dict[str, Any]] = []
    for i, s in enumerate(hyp.segments):
        want = [
            mapping.get(
                ref_speaker(((w.start or 0) + (w.end or 0)) / 2, (w.start or 0, w.end or 0)) or "",
                s.speaker,
            )
            for w in s.words
        ]
        k = 0
        runs = []
        while k < len(want):
            j = k
            while j < len(want) and want[j] == want[k]:
                j += 1
            if want[k] != s.speaker and want[k] is not None:
                runs.append((k, j, want[k]))
            k = j
        for a, b, spk in runs:
            ops.append({"op": "set_speaker", "segment": i, "speaker": spk, "start": a, "stop": b})
    return sorted(ops, key=lambda o: (-o["segment"], -o["start"]))
