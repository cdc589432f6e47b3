"""Notebook widgets (anywidget): live `Recorder`, and more.

Each widget is a Python class with synced traits plus an ES module and CSS file beside it,
shipped in the wheel (nothing to build). Widget state never holds audio bytes or an API key.
"""

from fw_asr_widgets.widgets.app import App, app
from fw_asr_widgets.widgets.compare import CompareView, compare
from fw_asr_widgets.widgets.recorder import Recorder
from fw_asr_widgets.widgets.timeline import Timeline
from fw_asr_widgets.widgets.uploader import Uploader
from fw_asr_widgets.widgets.viewer import TranscriptViewer

__all__ = ["Recorder"]
__all__ += ["App", "Timeline", "TranscriptViewer", "Uploader", "app"]
__all__ += ["CompareView", "compare"]
