"""The HTTP client for the pre-recorded audio API (`AsyncClient`, `Client`) and its errors.

Streaming lives in `fw_asr_widgets.api.streaming`; `client.stream(...)` and
`client.stream_file(...)` open it with the client's resolved configuration.
"""

from fw_asr_widgets import errors as _errors
from fw_asr_widgets.api._batch import BatchResult
from fw_asr_widgets.api._config import MAX_UPLOAD_BYTES, ClientConfig
from fw_asr_widgets.api.client import AsyncClient, Client, FileInput
from fw_asr_widgets.errors import *  # noqa: F403  (every name in errors.__all__)

__all__ = [
    "MAX_UPLOAD_BYTES",
    "AsyncClient",
    "BatchResult",
    "Client",
    "ClientConfig",
    "FileInput",
]
__all__ += _errors.__all__
