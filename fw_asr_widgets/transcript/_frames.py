"""Transcript ⇄ pandas DataFrames, built column-wise (a million words in well under a second).

Length (over 500 lines): the column schemas (below) and the column-wise builders of the three
levels and of `from_pandas` change together, so they stay in one module.

Column schemas (names and dtypes are stable; every level has every column, NA when unknown):

segment level (`to_pandas()` / `to_pandas("segment")`), one row per `Segment`:
    segment_id string · start, end, duration float64 (seconds) · speaker category (NA when not
    diarized) · text string · confidence float64 (the segment's own: mean word probability,
    else exp(avg_logprob); NaN when unknown) · hallucination boolean (looping or invented
    text, see `fw_asr_widgets._quality`) · language string · source string (the file
    *name*; NA when the transcript has no `source`) · avg_logprob, no_speech_prob,
    compression_ratio, temperature float64 (as the server sent them: Whisper gives these
    per 30 s window)

utterance level (`to_pandas("utterance", max_gap=1.0)`), consecutive segments of one speaker
separated by at most `max_gap` s merged: the segment columns up to `source`, where
segment_id is the first merged segment's id, confidence the duration-weighted mean of the
known segment confidences and hallucination true when any merged segment is flagged, plus
n_segments int64.

word level (`to_pandas("word")`), one row per `Word`:
    segment_id string (the segment holding the word) · start, end, duration float64 (NaN when
    the server gave no time) · speaker category · text string (the word, whitespace-stripped) ·
    probability float64 · language string · source string · is_final boolean (streaming)

`df.attrs["fw_asr_widgets"]` keeps the transcript's `duration`, `language`, `task` and
`source` so that `Transcript.from_pandas(df)` restores them (the `source` column wins when it
holds exactly one value that is not just the file name of the attrs' `source`).

Decisions:
- `source` holds the file name, not the full path: an absolute path in every row made the
  text column unreadably narrow in notebooks (and leaks directory names into shared tables).
  The full source stays in `Transcript.source` and `df.attrs`. `concat()` keeps the full
  sources when two of them share a file name, so rows of different files stay apart.
- `duration` is rounded to the microsecond: `end - start` of millisecond times otherwise
  shows float noise (`2.4800000000000004`) in CSV and JSON exports.
- `confidence` is per segment (see `fw_asr_widgets._quality`): Whisper's `avg_logprob` is
  a per-window value, which for a short file was one file-level number repeated on every
  row; it is still in the `avg_logprob` column, under its own name.
"""

from __future__ import annotations

import gc
import itertools
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fw_asr_widgets._quality import is_hallucination, segment_confidence
from fw_asr_widgets.transcript._segment import Segment, Word, segment_fields

if TYPE_CHECKING:
    from fw_asr_widgets.transcript._model import Transcript

_SPAN_COLUMNS = ("segment_id", "start", "end", "duration", "speaker", "text")
"""The columns every level starts with, built by `_span_columns`."""
SEGMENT_COLUMNS: tuple[str, ...] = (
    *_SPAN_COLUMNS,
    "confidence",
    "hallucination",
    "language",
    "source",
    "avg_logprob",
    "no_speech_prob",
    "compression_ratio",
    "temperature",
)
UTTERANCE_COLUMNS: tuple[str, ...] = (*SEGMENT_COLUMNS[:10], "n_segments")
WORD_COLUMNS: tuple[str, ...] = (
    *_SPAN_COLUMNS,
    "probability",
    "language",
    "source",
    "is_final",
)
LEVELS = ("segment", "word", "utterance")
MISSING_WORDS_HINT = (
    "this transcript has segments but no word timestamps: transcribe with "
    'timestamp_granularities=["word", "segment"] (the default of fw_asr_widgets.Client) '
    "to get words"
)
"""What to tell a user who needs words (word frame, word highlight, word search) and has none."""


class NoWordTimestampsWarning(UserWarning):
    """A word-level view of a transcript that has segments but no words."""


def missing_words_hint(tr: Transcript) -> str | None:
    """`MISSING_WORDS_HINT` when `tr` has segments with text but no words, else None."""
    if tr.words or not any(s.text for s in tr.segments):
        return None
    return MISSING_WORDS_HINT


_ATTRS_KEY = "fw_asr_widgets"


# ---------------------------------------------------------------------- column builders
def _floats(values: list[Any]) -> np.ndarray:
    """A float64 array; None becomes NaN."""
    return np.array(values, dtype=np.float64) if values else np.empty(0, dtype=np.float64)


def _filled(value: Any, n: int) -> np.ndarray:
    arr = np.empty(n, dtype=object)
    arr.fill(value)
    return arr


def _strings(values: list[Any], *, check_constant: bool = True) -> pd.arrays.StringArray:
    """A pandas "string" array from str/None values (constant columns take a fast path)."""
    n = len(values)
    if check_constant and n:
        uniq = set(values)
        if len(uniq) == 1:
            (only,) = uniq
            return _constant_strings(only, n)
    arr = np.empty(n, dtype=object)
    arr[:] = values
    return pd.arrays.StringArray(arr)


def _constant_strings(value: str | None, n: int) -> pd.arrays.StringArray:
    return pd.arrays.StringArray(_filled(pd.NA if value is None else value, n))


def _category(values: list[Any]) -> pd.Categorical:
    """A categorical (categories in order of first appearance); None becomes NA."""
    seen = dict.fromkeys(values)
    has_na = None in seen
    seen.pop(None, None)
    cats = list(seen)
    n = len(values)
    if not cats:
        return pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=[])
    if len(cats) == 1 and not has_na:
        codes = np.zeros(n, dtype=np.int8)
    else:
        lookup: dict[Any, int] = {c: i for i, c in enumerate(cats)}
        lookup[None] = -1
        dtype = np.int8 if len(cats) < 127 else np.int32
        codes = np.fromiter(map(lookup.__getitem__, values), dtype=dtype, count=n)
    return pd.Categorical.from_codes(codes, categories=cats)


def _booleans(values: list[Any]) -> pd.arrays.BooleanArray:
    n = len(values)
    uniq = set(values)
    if uniq <= {None}:
        return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))
    if None not in uniq:
        return pd.arrays.BooleanArray(np.array(values, dtype=bool), np.zeros(n, dtype=bool))
    mask = np.array([v is None for v in values], dtype=bool)
    data = np.array([bool(v) for v in values], dtype=bool)
    return pd.arrays.BooleanArray(data, mask)


def _frame(cols: dict[str, Any], tr: Transcript) -> pd.DataFrame:
    df = pd.DataFrame(cols, copy=False)
    df.attrs[_ATTRS_KEY] = {
        "duration": tr.duration,
        "language": tr.language,
        "task": tr.task,
        "source": tr.source,
    }
    return df


def segment_frame(tr: Transcript, source: str | None = None) -> pd.DataFrame:
    with _no_gc():
        return _segment_frame(tr, source)


def source_label(source: str | None) -> str | None:
    """The file name of a path or URL source (`/a/b/call.wav` -> `call.wav`), else `source`."""
    if source is None:
        return None
    name = re.split(r"[\\/]", source.rstrip("/\\"))[-1]
    return name or source


def _durations(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return np.round(end - start, 6)


def _confidences(tr: Transcript) -> np.ndarray:
    """Per segment: mean probability of its words (nested, else linked top-level words)."""
    segs = tr.segments
    loose: dict[str | None, list[float | None]] = {}
    if tr.words and any(not s.words for s in segs):
        for w in tr.words:
            loose.setdefault(w.segment_id, []).append(w.probability)
    return _floats(
        [
            segment_confidence(
                [w.probability for w in s.words] if s.words else loose.get(s.id, ()),
                s.avg_logprob,
            )
            for s in segs
        ]
    )


def hallucination_flags(segs: Sequence[Segment]) -> list[bool]:
    """Per segment: does it look invented? The rule of the `hallucination` column
    (`fw_asr_widgets._quality.is_hallucination`: loops, too compressible, or decoded where
    Whisper judged the audio silent); the viewer flags its rows with it too."""
    return [
        is_hallucination(
            s.text,
            compression=s.compression_ratio,
            avg_logprob=s.avg_logprob,
            no_speech_prob=s.no_speech_prob,
        )
        for s in segs
    ]


def _span_columns(
    items: Sequence[Segment] | Sequence[Word],
    ids: list[str | None],
    texts: list[str | None],
    check_constant: bool = True,
) -> dict[str, Any]:
    """The `_SPAN_COLUMNS` of segments or words: times, duration, speaker and text."""
    start = _floats([x.start for x in items])
    end = _floats([x.end for x in items])
    return {
        "segment_id": _strings(ids),
        "start": start,
        "end": end,
        "duration": _durations(start, end),
        "speaker": _category([x.speaker for x in items]),
        "text": _strings(texts, check_constant=check_constant),
    }


def _segment_frame(tr: Transcript, source: str | None = None) -> pd.DataFrame:
    segs = tr.segments
    flags = np.array(hallucination_flags(segs), dtype=bool)
    cols = {
        **_span_columns(segs, [s.id for s in segs], [s.text for s in segs]),
        "confidence": _confidences(tr),
        "hallucination": pd.arrays.BooleanArray(flags, np.zeros(len(segs), dtype=bool)),
        "language": _strings([s.language for s in segs]),
        "source": _constant_strings(source or source_label(tr.source), len(segs)),
        "avg_logprob": _floats([s.avg_logprob for s in segs]),
        "no_speech_prob": _floats([s.no_speech_prob for s in segs]),
        "compression_ratio": _floats([s.compression_ratio for s in segs]),
        "temperature": _floats([s.temperature for s in segs]),
    }
    return _frame(cols, tr)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while building big columns (it would rescan millions of words)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def word_frame(tr: Transcript, source: str | None = None) -> pd.DataFrame:
    """The word frame; warns `NoWordTimestampsWarning` when `tr` has segments but no words."""
    hint = missing_words_hint(tr)
    if hint is not None:
        warnings.warn(hint, NoWordTimestampsWarning, stacklevel=4)
    with _no_gc():
        return _word_frame(tr, source)


def _word_frame(tr: Transcript, source: str | None = None) -> pd.DataFrame:
    ws = tr.words
    texts: list[str | None] = [w.word.strip() for w in ws]
    cols = {
        **_span_columns(ws, [w.segment_id for w in ws], texts, check_constant=False),
        "probability": _floats([w.probability for w in ws]),
        "language": _strings([w.language for w in ws]),
        "source": _constant_strings(source or source_label(tr.source), len(ws)),
        "is_final": _booleans([w.is_final for w in ws]),
    }
    return _frame(cols, tr)


def speaker_codes(df: pd.DataFrame) -> tuple[np.ndarray, list[Any]]:
    """Integer codes of `df.speaker` (-1 for NA or no speaker column) and the labels."""
    if "speaker" not in df.columns:
        return np.full(len(df), -1, dtype=np.int64), []
    sp = df["speaker"]
    if isinstance(sp.dtype, pd.CategoricalDtype):
        return np.asarray(sp.cat.codes, dtype=np.int64), list(sp.cat.categories)
    codes, uniques = pd.factorize(sp, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), list(uniques)


def merge_runs(df: pd.DataFrame, max_gap: float = math.inf) -> pd.DataFrame:
    """Merge time-ordered consecutive rows of one speaker (gap ≤ `max_gap` s) into one row.

    Needs `start`, `end`; uses `speaker`, `text`, `segment_id`, `confidence`, `hallucination`,
    `language`, `source` when present. Returns the utterance schema (`n_segments` counts
    merged rows).
    """
    if len(df) and not df["start"].is_monotonic_increasing:
        df = df.sort_values("start", kind="stable")
    n = len(df)
    codes, cats = speaker_codes(df)
    start = df["start"].to_numpy(dtype=np.float64, na_value=np.nan)
    end = df["end"].to_numpy(dtype=np.float64, na_value=np.nan)
    if n:
        gap = start[1:] - end[:-1]
        new = np.concatenate(([True], (codes[1:] != codes[:-1]) | (gap > max_gap)))
    else:
        new = np.zeros(0, dtype=bool)
    first = np.flatnonzero(new)
    bounds = np.append(first, n)
    m = len(first)
    if m:
        u_start = np.fmin.reduceat(start, first)
        u_end = np.fmax.reduceat(end, first)
    else:
        u_start = u_end = np.empty(0, dtype=np.float64)
    if "text" in df.columns:
        texts = df["text"].astype(object).where(df["text"].notna(), "").tolist()
        u_text = [" ".join(t for t in texts[a:b] if t) for a, b in itertools.pairwise(bounds)]
    else:
        u_text = [""] * m
    if "confidence" in df.columns and m:
        conf = df["confidence"].to_numpy(dtype=np.float64, na_value=np.nan)
        dur = np.nan_to_num(end - start)
        known = ~np.isnan(conf)
        num = np.add.reduceat(np.where(known, conf * dur, 0.0), first)
        den = np.add.reduceat(np.where(known, dur, 0.0), first)
        with np.errstate(invalid="ignore", divide="ignore"):
            u_conf = np.where(den > 0, num / den, np.nan)
    else:
        u_conf = np.full(m, np.nan)
    if "hallucination" in df.columns and m:
        flags = df["hallucination"].to_numpy(dtype=bool, na_value=False)
        u_hall = pd.arrays.BooleanArray(
            np.logical_or.reduceat(flags, first), np.zeros(m, dtype=bool)
        )
    else:
        u_hall = pd.arrays.BooleanArray(np.zeros(m, dtype=bool), np.ones(m, dtype=bool))

    def firsts(name: str) -> list[Any]:
        if name not in df.columns:
            return [None] * m
        col = df[name].iloc[first]
        return col.astype(object).where(col.notna(), None).tolist()

    u_codes = codes[first] if m else np.empty(0, dtype=np.int64)
    speaker = pd.Categorical.from_codes(u_codes, categories=cats)
    cols = {
        "segment_id": _strings([None if x is None else str(x) for x in firsts("segment_id")]),
        "start": u_start,
        "end": u_end,
        "duration": _durations(u_start, u_end),
        "speaker": speaker,
        "text": _strings(u_text),
        "confidence": u_conf,
        "hallucination": u_hall,
        "language": _strings(firsts("language")),
        "source": _strings(firsts("source")),
        "n_segments": np.diff(bounds).astype(np.int64),
    }
    out = pd.DataFrame(cols, copy=False)
    out.attrs = dict(df.attrs)
    return out


def to_pandas(
    tr: Transcript, level: str = "segment", *, max_gap: float = 1.0, source: str | None = None
) -> pd.DataFrame:
    """The DataFrame of `tr` at `level` ("segment", "word" or "utterance").

    `source` overrides the `source` column (default: the file name of `tr.source`).
    """
    if level == "segment":
        return segment_frame(tr, source)
    if level == "word":
        return word_frame(tr, source)
    if level == "utterance":
        return merge_runs(segment_frame(tr, source), max_gap=max_gap)
    raise ValueError(f"level must be 'segment', 'word' or 'utterance', not {level!r}")


def concat(
    transcripts: Iterable[Transcript] | Mapping[str, Transcript],
    level: str = "segment",
    *,
    max_gap: float = 1.0,
) -> pd.DataFrame:
    """One frame of several transcripts, with a `source` column telling them apart.

    A mapping's keys become the sources; in a sequence, a transcript without `source` gets
    its position ("0", "1", ...). Speaker categories are unioned so `speaker` stays
    categorical (labels are not made unique across files: rename them first if needed).
    """
    if isinstance(transcripts, Mapping):
        items = [t.with_source(str(k)) for k, t in transcripts.items()]
    else:
        items = [
            t if t.source is not None else t.with_source(str(i)) for i, t in enumerate(transcripts)
        ]
    labels = [source_label(t.source) for t in items]
    if len(set(labels)) < len(labels):  # two files of one name: keep the full sources
        labels = [t.source for t in items]
    frames = [
        to_pandas(t, level, max_gap=max_gap, source=lab)
        for t, lab in zip(items, labels, strict=True)
    ]
    if not frames:
        return to_pandas(_empty(), level)
    cats: dict[Any, None] = {}
    for f in frames:
        cats.update(dict.fromkeys(f["speaker"].cat.categories))
    frames = [f.assign(speaker=f["speaker"].cat.set_categories(list(cats))) for f in frames]
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {}
    return out


def _empty() -> Any:
    """A transcript-shaped object with nothing in it (what an empty `concat` tabulates)."""
    return SimpleNamespace(
        text="",
        language=None,
        duration=None,
        segments=(),
        words=(),
        task="transcribe",
        source=None,
        raw={},
    )


# ---------------------------------------------------------------------- DataFrame → Transcript
def _objects(df: pd.DataFrame, name: str) -> list[Any]:
    """Column `name` as Python objects with NA → None (all None if the column is absent)."""
    if name not in df.columns:
        return [None] * len(df)
    col = df[name]
    return col.astype(object).where(col.notna(), None).tolist()


def _opt_floats(df: pd.DataFrame, name: str) -> list[float | None]:
    return [None if v is None else float(v) for v in _objects(df, name)]


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _single(values: Sequence[Any]) -> Any:
    counts = Counter(v for v in values if v is not None)
    return counts.most_common(1)[0][0] if counts else None


def from_pandas(df: pd.DataFrame, level: str = "auto") -> dict[str, Any]:
    """The fields of the Transcript in a segment, utterance or word frame (see module docs)."""

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, not {type(df).__name__}")
    missing = [c for c in ("start", "end") if c not in df.columns]
    if missing:
        raise ValueError(f"the frame needs columns 'start' and 'end' (missing: {missing})")
    if level == "auto":
        level = "word" if "probability" in df.columns or "is_final" in df.columns else "segment"
    if level not in LEVELS:
        raise ValueError(f"level must be 'auto', 'segment', 'word' or 'utterance', not {level!r}")
    meta = dict(df.attrs.get(_ATTRS_KEY) or {})
    sources = {v for v in _objects(df, "source") if v is not None}
    source = str(next(iter(sources))) if len(sources) == 1 else None
    full = None if meta.get("source") is None else str(meta["source"])
    if full is not None and (not sources or source == source_label(full)):
        source = full  # the column holds the file name of the attrs' full source
    starts = _opt_floats(df, "start")
    ends = _opt_floats(df, "end")
    speakers = [_opt_str(v) for v in _objects(df, "speaker")]
    texts = ["" if v is None else str(v) for v in _objects(df, "text")]
    languages = [_opt_str(v) for v in _objects(df, "language")]
    sids = [_opt_str(v) for v in _objects(df, "segment_id")]
    language = meta.get("language", _single(languages))
    fields = {
        "language": language,
        "duration": meta.get("duration"),
        "task": meta.get("task") or "transcribe",
        "source": source,
    }

    # The Segment(...) and Word(...) rows below look alike but set different fields of
    # different classes, each from its own column. They stay spelled out: building each row
    # from a dict of the columns (one generic builder) took about 1.4x as long (200k words).
    if level in ("segment", "utterance"):
        avg = _opt_floats(df, "avg_logprob")
        if "avg_logprob" not in df.columns and "confidence" in df.columns:
            avg = [
                None if c is None or c <= 0 else math.log(c) for c in _opt_floats(df, "confidence")
            ]
        nsp = _opt_floats(df, "no_speech_prob")
        cr = _opt_floats(df, "compression_ratio")
        temp = _opt_floats(df, "temperature")
        segs = [
            Segment(
                id=str(i) if (sid := sids[i]) is None else sid,
                start=math.nan if (a := starts[i]) is None else a,
                end=math.nan if (b := ends[i]) is None else b,
                text=texts[i],
                speaker=speakers[i],
                language=languages[i],
                avg_logprob=avg[i],
                no_speech_prob=nsp[i],
                compression_ratio=cr[i],
                temperature=temp[i],
            )
            for i in range(len(df))
        ]
        return segment_fields(segs, **fields)

    probs = _opt_floats(df, "probability")
    finals = [None if v is None else bool(v) for v in _objects(df, "is_final")]
    if all(s is None for s in sids):
        run = -1
        for i in range(len(sids)):
            if i == 0 or speakers[i] != speakers[i - 1]:
                run += 1
            sids[i] = str(run)
    words = [
        Word(
            word=texts[i],
            start=starts[i],
            end=ends[i],
            speaker=speakers[i],
            probability=probs[i],
            language=languages[i],
            is_final=finals[i],
            segment_id=sids[i],
        )
        for i in range(len(df))
    ]
    groups: dict[str, list[Word]] = {}
    for w in words:
        if w.segment_id is not None:
            groups.setdefault(w.segment_id, []).append(w)
    segs = []
    for sid, ws in groups.items():
        st = [w.start for w in ws if w.start is not None]
        en = [w.end for w in ws if w.end is not None]
        s0 = min(st, default=math.nan)
        segs.append(
            Segment(
                id=sid,
                start=s0,
                end=max(en, default=s0),
                text=" ".join(w.word for w in ws if w.word),
                speaker=_single([w.speaker for w in ws]),
                words=tuple(ws),
                language=_single([w.language for w in ws]),
            )
        )
    return segment_fields(segs, words=tuple(words), **fields)
