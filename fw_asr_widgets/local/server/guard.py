"""Authentication and size limits: what runs before a route reads anything.

- `GuardMiddleware` (pure ASGI) checks the key on every HTTP request except `OPEN_PATHS` and
  caps the body at `max_upload_bytes + MULTIPART_SLACK`.
- WebSocket authentication happens in the WebSocket route (it needs the query parameter);
  its refusals go through `deny` (an HTTP denial response before the handshake).
"""

from __future__ import annotations

import contextvars
import hmac
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from fastapi import WebSocket

from fw_asr_widgets.local import _info
from fw_asr_widgets.local.server.errors import error_response

if TYPE_CHECKING:
    from fw_asr_widgets.local.server.app import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MULTIPART_SLACK = 1024 * 1024
"""Bytes allowed on top of `max_upload_bytes` for the multipart framing and text fields."""

OPEN_PATHS = frozenset({"/health"}) | _info.OPEN_PATHS
"""Paths served without a key."""


def check_key(expected: str | None, header: str | None) -> bool:
    """True if `header` (`<key>` or `Bearer <key>`) carries `expected` (constant time)."""
    if expected is None:
        return True
    if not header:
        return False
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return hmac.compare_digest(value.encode("utf-8"), expected.encode("utf-8"))


class TooLargeError(Exception):
    """Raised inside the app's `receive` once the body passes the limit."""


class GuardMiddleware:
    """Checks the key on every HTTP request (except `OPEN_PATHS`) and caps the body size.

    Oversized bodies are refused from `Content-Length` before reading, and counted while the
    app reads them (chunked uploads): the app's own response is then replaced by 413.
    WebSocket authentication happens in the WebSocket route (it needs the query parameter).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] not in OPEN_PATHS and not check_key(
            self.settings.api_key, headers.get("authorization")
        ):
            msg = (
                "missing API key: send 'Authorization: Bearer <key>'"
                if not headers.get("authorization")
                else "invalid API key"
            )
            await error_response(401, msg)(scope, receive, send)
            return
        limit = self.settings.max_upload_bytes + MULTIPART_SLACK
        too_large = error_response(
            413, f"request body too large: the limit is {self.settings.max_upload_bytes} bytes"
        )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large(scope, receive, send)
            return
        state = {"read": 0, "over": False, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    state["over"] = True
                    raise TooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:
                return  # the app's answer to a truncated body is replaced by 413 below
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except TooLargeError:
            pass
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await too_large(scope, receive, send)


# --------------------------------------------------------------------------------------------
# WebSocket refusals


async def deny(
    websocket: WebSocket,
    status: int,
    message: str,
    type: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Refuse a WebSocket before the handshake: HTTP `status` + error body, else close 1008."""
    _WS_DENIED.set(True)
    try:
        await websocket.send_denial_response(error_response(status, message, type, headers))
    except RuntimeError:
        await websocket.close(code=1008, reason=message[:120])


_WS_DENIED: contextvars.ContextVar[bool] = contextvars.ContextVar("fw_ws_denied", default=False)


class _DenialLogFilter(logging.Filter):
    """Drop uvicorn's "returned without completing handshake" error after a denial response.

    uvicorn's websockets-sansio protocol logs that error whenever the app ends a connection
    with a `websocket.http.response` (a 401/404/429 refusal, which is deliberate here). The
    app runs in the connection's task, so `_WS_DENIED` set by `deny` is still visible when
    uvicorn logs; any other cause of the message is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            _WS_DENIED.get() and str(record.msg).startswith("ASGI callable returned without")
        )


_denial_filter = _DenialLogFilter()


def install_denial_log_filter() -> None:
    """Attach `_DenialLogFilter` to uvicorn's error logger (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if _denial_filter not in logger.filters:
        logger.addFilter(_denial_filter)
