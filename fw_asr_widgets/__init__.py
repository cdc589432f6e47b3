"""fw-asr-widgets: speech-to-text in Jupyter on the Fireworks AI audio API or an embedded engine.

Example::

    import fw_asr_widgets as fw

    tr = fw.Client().transcribe("meeting.wav", diarize=True)
    tr.to_pandas().asr.talk_time()
    fw.TranscriptViewer(tr, audio="meeting.wav")

With no `FIREWORKS_API_KEY` and no `base_url`, the client starts the embedded offline engine.
The widgets (`Recorder`, `Uploader`, `TranscriptViewer`, `Timeline`, `app`) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fw_asr_widgets import errors as _errors
from fw_asr_widgets import samples
from fw_asr_widgets._version import __version__
from fw_asr_widgets.api.client import AsyncClient, Client
from fw_asr_widgets.errors import *  # noqa: F403  (every name in errors.__all__)
from fw_asr_widgets.transcript import (
    Segment,
    Transcript,
    Word,
    concat,
)

if TYPE_CHECKING:
    from fw_asr_widgets.corpus import Corpus, CorpusRun, open_corpus, transcribe_corpus
    from fw_asr_widgets.voices import Voices, link_speakers
    from fw_asr_widgets.widgets import App, Recorder, Timeline, TranscriptViewer, Uploader, app
    from fw_asr_widgets.widgets.compare import CompareView, compare
    from fw_asr_widgets.widgets.search import CorpusSearch

__all__ = [
    "App",
    "AsyncClient",
    "Client",
    "CompareView",
    "Corpus",
    "CorpusRun",
    "CorpusSearch",
    "Recorder",
    "Segment",
    "Timeline",
    "Transcript",
    "TranscriptViewer",
    "Uploader",
    "Voices",
    "Word",
    "__version__",
    "app",
    "compare",
    "concat",
    "link_speakers",
    "open_corpus",
    "samples",
    "transcribe_corpus",
]
__all__ += _errors.__all__

_WIDGETS = {"App", "Recorder", "Timeline", "TranscriptViewer", "Uploader", "app"}
_WIDGETS |= {"CompareView", "compare"}
_CORPUS = {"Corpus", "CorpusRun", "open_corpus", "transcribe_corpus"}
_VOICES = {"Voices", "link_speakers"}


def __getattr__(name: str) -> object:
    """Widgets load lazily: importing the package for scripts does not import ipywidgets."""
    if name in _WIDGETS:
        from fw_asr_widgets import widgets

        return getattr(widgets, name)
    if name in _CORPUS:  # the corpus extra (pyarrow, DuckDB, Dask) loads on first use too
        from fw_asr_widgets import corpus

        return getattr(corpus, name)
    if name in _VOICES:  # onnxruntime loads on the first embedding, not on import
        from fw_asr_widgets import voices

        return getattr(voices, name)
    if name == "CorpusSearch":
        from fw_asr_widgets.widgets.search import CorpusSearch

        return CorpusSearch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
