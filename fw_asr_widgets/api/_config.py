"""Client configuration: the API key, base URLs and the per-model routing table.

Routing follows the Fireworks audio docs: pre-recorded `whisper-v3` and `whisper-v3-turbo`
live on different hosts, and so do their streaming twins. Which streaming host serves
`fireworks-asr-large` / `fireworks-asr-v2` is not documented; we route them to the whisper-v3
streaming host (decision; change `STREAMING_HOSTS` if Fireworks documents otherwise).

A `base_url` given by the user (a dedicated endpoint, a proxy or the embedded engine) overrides
the table for every model. It may be a host root (`https://host`) or end in `/v1` as the
OpenAI SDK takes it; both are normalised to the root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

DEFAULT_MODEL = "whisper-v3"
DEFAULT_STREAMING_MODEL = "whisper-v3"

PRERECORDED_HOSTS: dict[str, str] = {
    "whisper-v3": "https://audio-prod.us-virginia-1.direct.fireworks.ai",
    "whisper-v3-turbo": "https://audio-turbo.us-virginia-1.direct.fireworks.ai",
}
STREAMING_HOSTS: dict[str, str] = {
    "whisper-v3": "wss://audio-streaming.us-virginia-1.direct.fireworks.ai",
    "whisper-v3-turbo": "wss://audio-streaming-turbo.us-virginia-1.direct.fireworks.ai",
    "fireworks-asr-large": "wss://audio-streaming.us-virginia-1.direct.fireworks.ai",
    "fireworks-asr-v2": "wss://audio-streaming.us-virginia-1.direct.fireworks.ai",
}

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
TRANSLATIONS_PATH = "/v1/audio/translations"
ALIGNMENTS_PATH = "/v1/audio/alignments"
STREAMING_PATH = "/v1/audio/transcriptions/streaming"

MAX_UPLOAD_BYTES = 1024**3
"""Fireworks' documented upload limit (1 GB)."""

ENV_KEY = "FIREWORKS_API_KEY"


def normalize_base_url(url: str) -> str:
    """`https://h/v1/` → `https://h`; `https://h` stays. Keeps any path prefix before `/v1`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL such as https://host, not {url!r}")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def to_ws(url: str) -> str:
    """http(s)://… → ws(s)://…"""
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


class Secret:
    """Holds the API key so that it never shows in a repr, str, log line or traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class ClientConfig:
    """Resolved settings shared by the HTTP client and the streaming client.

    `key_source` says where the key came from ("argument", "environment variable
    FIREWORKS_API_KEY" or None) so auth errors can say so without printing the key.
    """

    api_key: Secret | None
    base_url: str | None
    timeout: float = 600.0
    max_retries: int = 2
    key_source: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 600.0,
        max_retries: int = 2,
    ) -> ClientConfig:
        source: str | None = None
        if api_key:
            source = "argument"
        else:
            api_key = os.environ.get(ENV_KEY) or None
            source = f"environment variable {ENV_KEY}" if api_key else None
        return cls(
            api_key=Secret(api_key) if api_key else None,
            base_url=normalize_base_url(base_url) if base_url else None,
            timeout=timeout,
            max_retries=max_retries,
            key_source=source,
        )

    def http_base(self, model: str) -> str:
        """Host root for a pre-recorded request with `model`."""
        if self.base_url:
            return self.base_url
        return PRERECORDED_HOSTS.get(model, PRERECORDED_HOSTS[DEFAULT_MODEL])

    def streaming_base(self, model: str) -> str:
        """ws(s) host root for a streaming session with `model`."""
        if self.base_url:
            return to_ws(self.base_url)
        return STREAMING_HOSTS.get(model, STREAMING_HOSTS[DEFAULT_STREAMING_MODEL])

    def auth_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <key>` (Fireworks accepts it with or without the scheme)."""
        if self.api_key is None:
            return {}
        return {"Authorization": f"Bearer {self.api_key.get()}"}
