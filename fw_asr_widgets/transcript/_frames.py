"""Transcript → pandas DataFrames (minimal; the pandas layer extends this module)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from fw_asr_widgets.transcript._model import Transcript


def to_pandas(tr: Transcript, level: str = "segment") -> pd.DataFrame:
    if level == "segment":
        rows = [
            {
                "segment_id": s.id,
                "start": s.start,
                "end": s.end,
                "duration": s.end - s.start,
                "speaker": s.speaker,
                "text": s.text,
            }
            for s in tr.segments
        ]
        cols = ["segment_id", "start", "end", "duration", "speaker", "text"]
    elif level == "word":
        rows = [
            {
                "start": w.start,
                "end": w.end,
                "speaker": w.speaker,
                "text": w.word,
                "probability": w.probability,
            }
            for w in tr.words
        ]
        cols = ["start", "end", "speaker", "text", "probability"]
    else:
        raise ValueError(f"level must be 'segment', 'word' or 'utterance', not {level!r}")
    df = pd.DataFrame(rows, columns=cols)
    df["speaker"] = df["speaker"].astype("category")
    return df
