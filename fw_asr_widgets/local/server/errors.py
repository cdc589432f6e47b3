"""The engine's error answers: `ApiError` and the Fireworks error body.

Every error body has the Fireworks shape
`{"error": {"object": "error", "type": <type>, "message": <text>}}`; the status -> type table
is `STATUS_TYPES` (see the package docstring for when each is used).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from fw_asr_widgets._wire import error_body


class ApiError(Exception):
    """An error answered with the Fireworks error body."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.headers = headers or {}


STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_implemented_error",
}


def error_response(
    status: int, message: str, type: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSONResponse carrying the Fireworks error body."""
    t = type or STATUS_TYPES.get(status, "internal_error" if status >= 500 else "error")
    return JSONResponse(error_body(message, t), status_code=status, headers=headers)


def bad(message: str) -> ApiError:
    """A 400 `invalid_request_error`."""
    return ApiError(400, message)


def model_not_found(name: str, available: tuple[str, ...]) -> ApiError:
    """A 404 naming the models that are served."""
    return ApiError(
        404,
        f"model {name!r} not found; available: {', '.join(available)}",
        "not_found_error",
    )
