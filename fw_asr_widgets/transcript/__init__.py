"""The transcript model: `Transcript`, `Segment`, `Word`, DataFrames, analysis and exports.

Importing this package registers the `df.asr` DataFrame accessor. Column schemas of
`Transcript.to_pandas()` are documented in `fw_asr_widgets.transcript._frames`.
"""

from fw_asr_widgets.errors import TranscriptFormatError
from fw_asr_widgets.transcript import accessor as _accessor  # registers df.asr
from fw_asr_widgets.transcript._frames import (
    SEGMENT_COLUMNS,
    UTTERANCE_COLUMNS,
    WORD_COLUMNS,
    NoWordTimestampsWarning,
    concat,
)
from fw_asr_widgets.transcript._model import Segment, Transcript, Word
from fw_asr_widgets.transcript.accessor import ASRAccessor
from fw_asr_widgets.transcript.metrics import der, normalize_text, wer

__all__ = [
    "SEGMENT_COLUMNS",
    "UTTERANCE_COLUMNS",
    "WORD_COLUMNS",
    "ASRAccessor",
    "NoWordTimestampsWarning",
    "Segment",
    "Transcript",
    "TranscriptFormatError",
    "Word",
    "concat",
    "der",
    "normalize_text",
    "wer",
]

del _accessor
