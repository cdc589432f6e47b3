"""The HTTP client for the pre-recorded audio API (`AsyncClient`, `Client`) and its errors.

Streaming lives in `fw_asr_widgets.api.streaming`; `client.stream(...)` and
`client.stream_file(...)` open it with the client's resolved configuration.
"""

from fw_asr_widgets.api._batch import BatchResult
from fw_asr_widgets.api._config import MAX_UPLOAD_BYTES, ClientConfig
from fw_asr_widgets.api.client import AsyncClient, Client, FileInput
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

__all__ = [
    "MAX_UPLOAD_BYTES",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AudioDecodeError",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "Client",
    "ClientConfig",
    "ConfigurationError",
    "FileInput",
    "FileTooLargeError",
    "FwAsrError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "StreamError",
]
