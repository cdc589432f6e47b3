"""The transcript model: `Transcript`, `Segment`, `Word`, DataFrames and exports."""

from fw_asr_widgets.transcript._model import Segment, Transcript, Word

__all__ = ["Segment", "Transcript", "Word"]
