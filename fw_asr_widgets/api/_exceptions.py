"""From an HTTP error response to a typed error: `error_from_response` and its parts.

Decisions:
- Every HTTP error the client raises for a response (requests, batch polls) is made by
  `error_from_response`, so the message, the `request_id`, the `body` and `Retry-After`
  are read the same way everywhere.
- The message is the server's: a Fireworks/OpenAI `{"error": {"message"}}`, `{"error": str}`,
  a FastAPI `{"detail"}` (string or validation list), `{"message"}`, else the plain text
  with HTML tags stripped; collapsed to one line of at most 300 characters. An empty body
  gives the reason phrase.
- Any registered secret is removed from the message, and a body that contains one is not
  kept on the error (`body=None`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from fw_asr_widgets._redact import scrub
from fw_asr_widgets.api._retry import parse_retry_after, request_id
from fw_asr_widgets.errors import APIStatusError, RateLimitError, status_error_class

MAX_MESSAGE = 300


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return html.unescape(text)


def truncate(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _detail_text(detail: object) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = item.get("loc")
                where = ".".join(str(x) for x in loc) if isinstance(loc, list | tuple) else ""
                msg = str(item.get("msg", item))
                parts.append(f"{where}: {msg}" if where else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def error_message(response: httpx.Response) -> tuple[str, object | None]:
    """The server's message from a Fireworks, OpenAI, FastAPI, plain-text or HTML error body,
    and the body (parsed JSON, else the text, else None)."""
    body: object | None = None
    msg = ""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping) and err.get("message"):
            msg = str(err["message"])
        elif isinstance(err, str) and err:
            msg = err
        elif body.get("detail") is not None:
            msg = _detail_text(body["detail"])
        elif body.get("message"):
            msg = str(body["message"])
    if not msg:
        try:
            text = response.text
        except (UnicodeDecodeError, httpx.ResponseNotRead):
            text = ""
        if body is None:
            body = text or None
        if "<" in text and ">" in text:
            text = _strip_html(text)
        msg = text
    msg = truncate(msg) if msg.strip() else (response.reason_phrase or "no message")
    return msg, body


def error_from_response(
    response: httpx.Response, *, secrets: Iterable[str] = (), key_hint: str | None = None
) -> APIStatusError:
    """The typed error for a non-2xx `response` (its class chosen by status code).

    `secrets` are removed from the message (and a body holding one is dropped); `key_hint`
    is appended to the message of a 401/403 (which key was sent, or that none was).
    """
    secrets = [s for s in secrets if s]
    status = response.status_code
    msg, body = error_message(response)
    msg = scrub(msg, secrets)
    if key_hint and status in (401, 403):
        msg = f"{msg} ({key_hint})"
    cls = status_error_class(status)
    kw: dict[str, Any] = {
        "status_code": status,
        "request_id": request_id(response.headers),
        "body": None if secrets and any(s in repr(body) for s in secrets) else body,
    }
    if cls is RateLimitError:
        return RateLimitError(msg, retry_after=parse_retry_after(response.headers), **kw)
    return cls(msg, **kw)
