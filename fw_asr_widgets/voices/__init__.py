"""Speakers with names: enrol voices, identify them in transcripts, link them across files.

`Voices` is a bank of enrolled voices (CAM++ embeddings computed locally, saved without audio);
`Transcript.identify(voices, audio=...)` names the matching speakers; `link_speakers` gives one
label per voice across recordings. Needs onnxruntime (loaded on first embedding), no torch.
"""

from fw_asr_widgets.voices._bank import (
    THRESHOLD,
    OverlappedEnrolmentWarning,
    VoiceBankError,
    Voices,
)
from fw_asr_widgets.voices._link import link_speakers

__all__ = ["THRESHOLD", "OverlappedEnrolmentWarning", "VoiceBankError", "Voices", "link_speakers"]
