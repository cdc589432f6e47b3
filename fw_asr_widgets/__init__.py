"""fw-asr-widgets: speech-to-text in Jupyter on the Fireworks AI audio API or an embedded engine.

    >>> import fw_asr_widgets as fw
    >>> tr = fw.Client().transcribe("meeting.wav", diarize=True)
    >>> tr.to_pandas()
"""

from fw_asr_widgets.api.client import AsyncClient, Client
from fw_asr_widgets.api.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AudioDecodeError,
    AuthenticationError,
    BadRequestError,
    FwAsrError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    StreamError,
)
from fw_asr_widgets.transcript import Segment, Transcript, Word

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AudioDecodeError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "FwAsrError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "Segment",
    "ServerError",
    "StreamError",
    "Transcript",
    "Word",
    "__version__",
]


def __getattr__(name: str) -> object:
    """Lazy `app` (the notebook panel): importing the package does not load the widgets."""
    if name == "app":
        from fw_asr_widgets.widgets.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
