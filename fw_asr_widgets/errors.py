"""Every error this package raises on purpose, in one module at the bottom of the layers.

All of them derive from `FwAsrError`, so `except fw.FwAsrError` catches whatever the client,
the audio decoder, the transcript readers or the streaming runner raise deliberately. Errors
that are also a built-in kind subclass it too (`AudioDecodeError` and `TranscriptFormatError`
are `ValueError`s), so code written against the built-in still works.

Every API error carries the HTTP status (if any), the server's message and the request id where
the server sent one. No error text ever includes the API key: messages are built from the
server's reply and from names, never from request headers.

Decisions:
- One module, imported by every layer (`audio`, `transcript`, `api`, `widgets`); it imports
  nothing from the package, so it can never take part in an import cycle.
- `__all__` here is the one list of error names; `fw_asr_widgets`, `fw_asr_widgets.api` and
  `fw_asr_widgets.api.errors` re-export it rather than listing the names again.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AudioDecodeError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "FileTooLargeError",
    "FwAsrError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "StreamError",
    "TranscriptFormatError",
    "status_error_class",
]


class FwAsrError(Exception):
    """Base class of every error this package raises on purpose."""


class AudioDecodeError(FwAsrError, ValueError):
    """The input is not audio that FFmpeg can decode (empty, truncated, wrong format).

    Attribute: `source` (the name of the input as the user gave it, or None).
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class TranscriptFormatError(FwAsrError, ValueError):
    """A transcript file or text could not be parsed (the message says where and why)."""


class ConfigurationError(FwAsrError):
    """The client cannot work as configured (e.g. no API key and no embedded engine)."""


class FileTooLargeError(FwAsrError, ValueError):
    """The file is over the upload limit (1 GB on Fireworks); raised before anything is sent.

    Attributes: `source` (the file's name), `size` and `limit` (bytes).
    """

    def __init__(self, source: str, size: int, limit: int) -> None:
        self.source = source
        self.size = size
        self.limit = limit
        super().__init__(
            f"{source}: {size:,} bytes is over the {limit:,}-byte upload limit; "
            "split the audio or compress it (e.g. to 16 kHz mono FLAC or Opus) first"
        )


class APIError(FwAsrError):
    """A request to the audio API failed.

    Attributes: `message` (the server's or our explanation), `status_code` (int or None),
    `request_id` (the server's request id header, if any), `body` (parsed JSON or text, if any).
    """

    # Stores its arguments as attributes (duplicates pairs this shape with unrelated
    # constructors, e.g. the engine's stream session in local/streaming.py).
    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        body: object | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        parts.append(self.message)
        text = ": ".join(parts)
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status_code={self.status_code!r}, "
            f"request_id={self.request_id!r})"
        )


class APIStatusError(APIError):
    """The server answered with a 4xx/5xx status."""


class BadRequestError(APIStatusError):
    """400/422: a field was rejected (bad value, unsupported combination, undecodable audio)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but not allowed to do this."""


class NotFoundError(APIStatusError):
    """404: unknown model or path."""


class RequestTooLargeError(APIStatusError):
    """413: the upload is over the server's size limit (1 GB on Fireworks)."""


class RateLimitError(APIStatusError):
    """429: too many requests; `retry_after` holds the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the server failed; retried automatically before it reaches you."""


class APIConnectionError(APIError):
    """The server could not be reached or the connection broke."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIResponseValidationError(APIError):
    """The server answered 2xx but its body could not be read (invalid or truncated JSON)."""


class StreamError(APIError):
    """A streaming session ended with an error (protocol error, server error message)."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The error class for an HTTP status code."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return APIStatusError
