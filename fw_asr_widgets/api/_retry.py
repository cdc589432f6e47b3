"""The one retry policy of the client, for HTTP requests and streaming (re)connections.

Retried: HTTP 408, 409, 429 and every 5xx except 501/505 (those never change), connection
errors and timeouts, up to `max_retries` extra attempts. The wait is the server's
`Retry-After` (delta seconds or an HTTP date; `retry-after-ms` too) when it gives one,
capped at `max_retry_after` (60 s); otherwise exponential backoff with full jitter: uniform
in [0, min(cap, base · 2^attempt)] with base 0.5 s and cap 8 s, or uniform in [0,
delays[attempt]] when a table of `delays` is given (a stream's `backoff=`). Uploads are re-sent
from the start of the file on each attempt; streams resume (see `_stream_protocol`). Errors
carry the first request id found in `REQUEST_ID_HEADERS`.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

RETRY_STATUSES = frozenset({408, 409, 429})
NEVER_RETRY = frozenset({501, 505})
REQUEST_ID_HEADERS = (
    "x-request-id",
    "fireworks-request-id",
    "x-fireworks-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "cf-ray",
)
"""Headers that may carry the server's request id, most specific first."""


def request_id(headers: Mapping[str, str] | None) -> str | None:
    """The first request id among `REQUEST_ID_HEADERS` (names case-insensitive), or None."""
    if headers is None:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in REQUEST_ID_HEADERS:
        value = lowered.get(name)
        if value:
            return value
    return None


def is_retryable_status(status: int) -> bool:
    """True for 408, 409, 429 and 5xx other than 501 (not implemented) and 505."""
    return status in RETRY_STATUSES or (status >= 500 and status not in NEVER_RETRY)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or HTTP date), or None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, parsed.timestamp() - current)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings; `sleep` and `random` are injectable so tests run without waiting."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    delays: tuple[float, ...] = ()
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ValueError(f"max_retries must be an int >= 0, not {self.max_retries!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, not {self.max_retries}")

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before retry number `attempt` (0-based): under the exponential
        ceiling, or under `delays[attempt]` (the last entry repeating) when `delays` is set."""
        if self.delays:
            ceiling = float(self.delays[min(attempt, len(self.delays) - 1)])
        else:
            ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return self.random() * ceiling

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """The wait before retry `attempt`: the server's hint (capped) or the backoff."""
        if headers is not None:
            hint = parse_retry_after(headers)
            if hint is not None:
                return min(hint, self.max_retry_after)
        return self.backoff(attempt)
