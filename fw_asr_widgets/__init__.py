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

from fw_asr_widgets import samples
from fw_asr_widgets.api.client import AsyncClient, Client
from fw_asr_widgets.api.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AudioDecodeError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    FileTooLargeError,
    FwAsrError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    StreamError,
)
from fw_asr_widgets.transcript import (
    Segment,
    Transcript,
    TranscriptFormatError,
    Word,
    concat,
)

if TYPE_CHECKING:
    from fw_asr_widgets.widgets import App, Recorder, Timeline, TranscriptViewer, Uploader, app

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "App",
    "AsyncClient",
    "AudioDecodeError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConfigurationError",
    "FileTooLargeError",
    "FwAsrError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Recorder",
    "RequestTooLargeError",
    "Segment",
    "ServerError",
    "StreamError",
    "Timeline",
    "Transcript",
    "TranscriptFormatError",
    "TranscriptViewer",
    "Uploader",
    "Word",
    "__version__",
    "app",
    "concat",
    "samples",
]

_WIDGETS = {"App", "Recorder", "Timeline", "TranscriptViewer", "Uploader", "app"}


def __getattr__(name: str) -> object:
    """Widgets load lazily: importing the package for scripts does not import ipywidgets."""
    if name in _WIDGETS:
        from fw_asr_widgets import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
