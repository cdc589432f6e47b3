"""The `df.asr` DataFrame accessor: who spoke how long, turns, overlaps, search, exports.

Registered when `fw_asr_widgets` (or `fw_asr_widgets.transcript`) is imported. It works on the
segment, utterance and word frames of `Transcript.to_pandas()` and on any frame with the
columns it needs:

- every method: `start`, `end` (float seconds);
- `speaker` (any dtype; NA = unknown speaker) for `talk_time`, `turns`, `overlaps`,
  `interruptions`, `rename_speakers` (a frame without it counts as one unknown speaker);
- `text` for `search`, `to_text`/`to_srt`/`to_vtt` and the word counts of `talk_time`.

A frame is read as *words* (one word per row) when it has a `probability` or `is_final`
column, else as segments/utterances (words are counted by splitting `text` on whitespace).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fw_asr_widgets.transcript._frames import merge_runs, speaker_codes
from fw_asr_widgets.transcript._model import Transcript


def _is_word_frame(df: pd.DataFrame) -> bool:
    return "probability" in df.columns or "is_final" in df.columns


@pd.api.extensions.register_dataframe_accessor("asr")
class ASRAccessor:
    """Analysis and export helpers on transcript DataFrames (`df.asr.talk_time()`, ...)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    # ------------------------------------------------------------------ helpers
    def _need(self, *cols: str) -> None:
        missing = [c for c in cols if c not in self._df.columns]
        if missing:
            raise ValueError(
                f"df.asr needs the column(s) {missing}; this frame has {list(self._df.columns)}"
            )

    def _times(self) -> tuple[np.ndarray, np.ndarray]:
        self._need("start", "end")
        df = self._df
        start = df["start"].to_numpy(dtype=np.float64, na_value=np.nan)
        end = df["end"].to_numpy(dtype=np.float64, na_value=np.nan)
        return start, end

    def _speaker_labels(self, codes: np.ndarray, cats: list[Any]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=cats)

    # ------------------------------------------------------------------ analysis
    def talk_time(self) -> pd.DataFrame:
        """Per speaker: `seconds` spoken (sum of row durations), `share` of all speech,
        `turns` (runs of consecutive rows, in time order, by that speaker), `words` and
        `wpm` (words per minute of their speaking time). Sorted by seconds, descending;
        rows without a speaker are grouped under NA."""
        start, end = self._times()
        df = self._df
        codes, cats = speaker_codes(df)
        k = len(cats)
        grp = np.where(codes < 0, k, codes)
        dur = np.nan_to_num(np.clip(end - start, 0.0, None))
        seconds = np.bincount(grp, weights=dur, minlength=k + 1)
        rows = np.bincount(grp, minlength=k + 1)
        words: np.ndarray
        if _is_word_frame(df):
            if "text" in df.columns:
                nonempty = (df["text"].fillna("").str.len() > 0).to_numpy(dtype=np.float64)
            else:
                nonempty = np.ones(len(df))
            words = np.bincount(grp, weights=nonempty, minlength=k + 1)
        elif "text" in df.columns:
            counts = df["text"].fillna("").str.count(r"\S+").to_numpy(dtype=np.float64)
            words = np.bincount(grp, weights=counts, minlength=k + 1)
        else:
            words = np.zeros(k + 1)
        if len(df):
            order = np.argsort(start, kind="stable")
            seq = grp[order] if not np.all(order[1:] > order[:-1]) else grp
            first = np.concatenate(([True], seq[1:] != seq[:-1]))
            turns = np.bincount(seq[first], minlength=k + 1)
        else:
            turns = np.zeros(k + 1, dtype=np.int64)
        total = seconds.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            share = seconds / total if total > 0 else np.full(k + 1, np.nan)
            wpm = np.where(seconds > 0, words / (seconds / 60.0), np.nan)
        present = rows > 0
        labels = [*cats, pd.NA]
        out = pd.DataFrame(
            {
                "seconds": seconds[present],
                "share": share[present],
                "turns": turns[present].astype(np.int64),
                "words": words[present].astype(np.int64),
                "wpm": wpm[present],
            },
            index=pd.Index(
                [lab for lab, p in zip(labels, present, strict=True) if p],
                name="speaker",
                dtype=object,
            ),
        )
        return out.sort_values("seconds", ascending=False, kind="stable")

    def turns(self, max_gap: float = math.inf) -> pd.DataFrame:
        """Speaker turns: time-ordered runs of rows by one speaker, merged into one row when
        the pause between them is at most `max_gap` s (default: any pause). Columns of the
        utterance schema (`segment_id` of the first row, `n_segments` rows merged)."""
        self._times()
        return merge_runs(self._df, max_gap=max_gap)

    def overlaps(self) -> pd.DataFrame:
        """Every pair of rows of *different* known speakers whose times overlap.

        Columns: `start`, `end`, `duration` (of the overlap), `speaker_a`, `speaker_b`
        (a started first), `index_a`, `index_b` (row labels in this frame).
        """
        start, end = self._times()
        codes, cats = speaker_codes(self._df)
        pairs = _overlap_pairs(start, end, codes)
        idx = self._df.index
        ia = np.array([p[0] for p in pairs], dtype=np.int64)
        ib = np.array([p[1] for p in pairs], dtype=np.int64)
        o_start = start[ib] if len(pairs) else np.empty(0)
        o_end = np.minimum(end[ia], end[ib]) if len(pairs) else np.empty(0)
        return pd.DataFrame(
            {
                "start": o_start,
                "end": o_end,
                "duration": o_end - o_start,
                "speaker_a": self._speaker_labels(codes[ia], cats),
                "speaker_b": self._speaker_labels(codes[ib], cats),
                "index_a": idx[ia],
                "index_b": idx[ib],
            }
        )

    def interruptions(self, within: float = 1.0, max_gap: float = 0.5) -> pd.DataFrame:
        """Interruptions: speaker B starts while A is speaking, A stops at most `within` s
        after B started, and B goes on after A stopped (B takes the floor). A short reply
        entirely inside A's speech (a backchannel such as "mm-hm") is not an interruption.

        Rows are first merged into turns (`turns(max_gap)`), so word frames work too.
        Columns: `time` (B's start), `interrupter`, `interrupted`, `overlap` (seconds both
        spoke), `turn_interrupted`, `turn_interrupter` (row numbers in `turns(max_gap)`).
        """
        t = self.turns(max_gap=max_gap)
        start = t["start"].to_numpy(dtype=np.float64)
        end = t["end"].to_numpy(dtype=np.float64)
        codes, cats = speaker_codes(t)
        keep = [
            (a, b)
            for a, b in _overlap_pairs(start, end, codes)
            if start[b] > start[a] and end[b] > end[a] and end[a] - start[b] <= within
        ]
        ia = np.array([p[0] for p in keep], dtype=np.int64)
        ib = np.array([p[1] for p in keep], dtype=np.int64)
        return pd.DataFrame(
            {
                "time": start[ib] if keep else np.empty(0),
                "interrupter": self._speaker_labels(codes[ib], cats),
                "interrupted": self._speaker_labels(codes[ia], cats),
                "overlap": (end[ia] - start[ib]) if keep else np.empty(0),
                "turn_interrupted": ia,
                "turn_interrupter": ib,
            }
        )

    def silences(self, min_gap: float = 0.5) -> pd.DataFrame:
        """Pauses of at least `min_gap` s where nobody speaks, between the first and the last
        speech. Columns: `start`, `end`, `duration`, `speaker_before`, `speaker_after`."""
        start, end = self._times()
        codes, cats = speaker_codes(self._df)
        ok = ~(np.isnan(start) | np.isnan(end))
        start, end, codes = start[ok], end[ok], codes[ok]
        order = np.argsort(start, kind="stable")
        start, end, codes = start[order], end[order], codes[order]
        if len(start) < 2:
            return pd.DataFrame(
                {
                    "start": np.empty(0),
                    "end": np.empty(0),
                    "duration": np.empty(0),
                    "speaker_before": self._speaker_labels(np.empty(0, dtype=np.int64), cats),
                    "speaker_after": self._speaker_labels(np.empty(0, dtype=np.int64), cats),
                }
            )
        cm = np.maximum.accumulate(end)
        pos = np.arange(len(end))
        last = np.maximum.accumulate(np.where(end >= cm, pos, 0))
        gap = start[1:] - cm[:-1]
        k = np.flatnonzero(gap >= min_gap)
        g_start = cm[k]
        g_end = start[k + 1]
        return pd.DataFrame(
            {
                "start": g_start,
                "end": g_end,
                "duration": g_end - g_start,
                "speaker_before": self._speaker_labels(codes[last[k]], cats),
                "speaker_after": self._speaker_labels(codes[k + 1], cats),
            }
        )

    def search(
        self,
        pattern: str,
        *,
        regex: bool = False,
        case: bool = False,
        whole_word: bool = False,
        context: int = 5,
    ) -> pd.DataFrame:
        """Where `pattern` is said: one row per match with `start`, `end`, `speaker`,
        `match`, `context` (up to `context` words either side), `segment_id`, `row` (the
        label of the first matching row).

        `regex=False` searches the literal text; `case=False` ignores case; `whole_word`
        requires word boundaries. On word frames the pattern may span words and times are
        those of the matched words; on segment frames times are the segment's.
        """
        self._need("start", "end", "text")
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("search needs a non-empty pattern string")
        body = pattern if regex else re.escape(pattern)
        if whole_word:
            body = rf"\b(?:{body})\b"
        try:
            rx = re.compile(body, 0 if case else re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        df = self._df
        if len(df) and not df["start"].is_monotonic_increasing:
            df = df.sort_values("start", kind="stable")
        start = df["start"].to_numpy(dtype=np.float64, na_value=np.nan)
        end = df["end"].to_numpy(dtype=np.float64, na_value=np.nan)
        texts = df["text"].astype(object).where(df["text"].notna(), "").tolist()
        texts = [str(t).strip() for t in texts]
        sids = (
            df["segment_id"].astype(object).where(df["segment_id"].notna(), None).tolist()
            if "segment_id" in df.columns
            else [None] * len(df)
        )
        codes, cats = speaker_codes(df)
        hits: list[tuple[int, int, str, str]] = []  # (first row, last row, match, context)
        if _is_word_frame(df):
            joined = " ".join(texts)
            offsets = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]]) if texts else np.zeros(0)
            for m in rx.finditer(joined):
                if m.end() == m.start():
                    continue
                a = int(np.searchsorted(offsets, m.start(), side="right") - 1)
                b = int(np.searchsorted(offsets, m.end() - 1, side="right") - 1)
                lo, hi = max(0, a - context), min(len(texts), b + 1 + context)
                ctx = " ".join(t for t in texts[lo:hi] if t)
                hits.append((a, b, m.group(0), ctx))
        else:
            for i, t in enumerate(texts):
                for m in rx.finditer(t):
                    if m.end() == m.start():
                        continue
                    before = t[: m.start()].split()
                    after = t[m.end() :].split()
                    left = before[len(before) - context :] if context > 0 else []
                    right = after[:context] if context > 0 else []
                    ctx = " ".join([*left, m.group(0), *right])
                    hits.append((i, i, m.group(0), ctx))
        ia = np.array([h[0] for h in hits], dtype=np.int64)
        ib = np.array([h[1] for h in hits], dtype=np.int64)
        return pd.DataFrame(
            {
                "start": start[ia],
                "end": end[ib],
                "speaker": self._speaker_labels(codes[ia], cats),
                "match": pd.array([h[2] for h in hits], dtype="string"),
                "context": pd.array([h[3] for h in hits], dtype="string"),
                "segment_id": pd.array([sids[i] for i in ia], dtype="string"),
                "row": df.index[ia],
            }
        )

    # ------------------------------------------------------------------ edits and exports
    def rename_speakers(self, mapping: Mapping[Any, str]) -> pd.DataFrame:
        """A copy with speakers renamed (`{"SPEAKER_00": "Diane"}`); labels not in `mapping`
        stay; two labels mapped to one name merge. `speaker` stays categorical."""
        self._need("speaker")
        df = self._df.copy()
        codes, cats = speaker_codes(df)
        new_names = [mapping.get(c, c) for c in cats]
        uniq = list(dict.fromkeys(new_names))
        remap = np.array([uniq.index(n) for n in new_names] + [-1], dtype=np.int64)
        df["speaker"] = pd.Categorical.from_codes(remap[codes], categories=uniq)
        return df

    def to_transcript(self) -> Transcript:
        """`Transcript.from_pandas(df)`."""
        return Transcript.from_pandas(self._df)

    def to_srt(self, **kwargs: Any) -> str:
        """SubRip text; options as `Transcript.to_srt`."""
        return self.to_transcript().to_srt(**kwargs)

    def to_vtt(self, **kwargs: Any) -> str:
        """WebVTT text; options as `Transcript.to_vtt`."""
        return self.to_transcript().to_vtt(**kwargs)

    def to_rttm(self, file_id: str | None = None) -> str:
        """RTTM lines, one per row (word frames: one per segment)."""
        return self.to_transcript().to_rttm(file_id=file_id)

    def to_text(self, speaker_labels: bool = True) -> str:
        """Plain text, one line per speaker turn."""
        return self.to_transcript().to_text(speaker_labels=speaker_labels)


def _overlap_pairs(start: np.ndarray, end: np.ndarray, codes: np.ndarray) -> list[tuple[int, int]]:
    """(a, b) row positions of overlapping intervals of different known speakers, a starting
    first. Only clusters of mutually chained intervals are swept in Python."""
    ok = ~(np.isnan(start) | np.isnan(end))
    order = np.flatnonzero(ok)[np.argsort(start[ok], kind="stable")]
    if len(order) < 2:
        return []
    s, e = start[order], end[order]
    cm = np.maximum.accumulate(e)
    new_cluster = np.concatenate(([True], s[1:] >= cm[:-1]))
    first = np.flatnonzero(new_cluster)
    sizes = np.diff(np.append(first, len(order)))
    pairs: list[tuple[int, int]] = []
    for f, size in zip(first[sizes > 1], sizes[sizes > 1], strict=True):
        active: list[int] = []
        for i in order[f : f + size]:
            si = start[i]
            active = [j for j in active if end[j] > si]
            ci = codes[i]
            for j in active:
                cj = codes[j]
                if ci >= 0 and cj >= 0 and ci != cj and min(end[j], end[i]) > si:
                    pairs.append((int(j), int(i)))
            active.append(int(i))
    return pairs
