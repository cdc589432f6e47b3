"""Client configuration: the API key, base URLs and the per-model routing table.

Routing follows the hosts table of the Fireworks audio docs: pre-recorded `whisper-v3` and
`whisper-v3-turbo` live on different hosts; streaming `fireworks-asr-large` (v1, the default
streaming model) on `wss://audio-streaming.api.fireworks.ai`, `fireworks-asr-v2` (v2 preview) on
its own host `wss://audio-streaming-v2.api.fireworks.ai`, and the `whisper-v3-turbo`-compatible
stream on the turbo host. A streaming model missing from the table goes to the v1 host.

Overrides, strongest first:
- `hosts={model: url}` (`ClientConfig.resolve(hosts=...)`): a per-model host root, e.g. a
  dedicated endpoint for `fireworks-asr-v2` only, while other models keep their routing;
- `base_url` (a dedicated endpoint, a proxy or the embedded engine): every model;
- the table (`PRERECORDED_HOSTS`, `STREAMING_HOSTS`).
Every URL may be a host root (`https://host`) or end in `/v1` as the OpenAI SDK takes it; both
are normalised to the root. A streaming stream also takes its own `base_url=` (see
`api.streaming`), which beats all of these for that stream.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

DEFAULT_MODEL = "whisper-v3"
DEFAULT_STREAMING_MODEL = "fireworks-asr-large"

PRERECORDED_HOSTS: dict[str, str] = {
    "whisper-v3": "https://audio-prod.us-virginia-1.direct.fireworks.ai",
    "whisper-v3-turbo": "https://audio-turbo.us-virginia-1.direct.fireworks.ai",
}
STREAMING_HOSTS: dict[str, str] = {
    "fireworks-asr-large": "wss://audio-streaming.api.fireworks.ai",
    "fireworks-asr-v2": "wss://audio-streaming-v2.api.fireworks.ai",
    "whisper-v3": "wss://audio-streaming.api.fireworks.ai",
    "whisper-v3-turbo": "wss://audio-streaming-turbo.us-virginia-1.direct.fireworks.ai",
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


def _rescheme(url: str, schemes: Mapping[str, str]) -> str:
    for old, new in schemes.items():
        if url.startswith(old):
            return new + url[len(old) :]
    return url


def to_ws(url: str) -> str:
    """http(s)://… → ws(s)://…"""
    return _rescheme(url, {"https://": "wss://", "http://": "ws://"})


def to_http(url: str) -> str:
    """ws(s)://… → http(s)://…"""
    return _rescheme(url, {"wss://": "https://", "ws://": "http://"})


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
    hosts: Mapping[str, str] = field(default_factory=dict)

    # Takes the clients' constructor parameters (`BaseClient.__init__`), by name.
    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 600.0,
        max_retries: int = 2,
        hosts: Mapping[str, str] | None = None,
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
            hosts={str(m): normalize_base_url(u) for m, u in (hosts or {}).items()},
        )

    def http_base(self, model: str) -> str:
        """Host root for a pre-recorded request with `model`."""
        if model in self.hosts:
            return to_http(self.hosts[model])
        if self.base_url:
            return self.base_url
        return PRERECORDED_HOSTS.get(model, PRERECORDED_HOSTS[DEFAULT_MODEL])

    def streaming_base(self, model: str) -> str:
        """ws(s) host root for a streaming session with `model`."""
        if model in self.hosts:
            return to_ws(self.hosts[model])
        if self.base_url:
            return to_ws(self.base_url)
        return STREAMING_HOSTS.get(model, STREAMING_HOSTS[DEFAULT_STREAMING_MODEL])

    def auth_headers(self) -> dict[str, str]:
        """`Authorization: Bearer <key>` (Fireworks accepts it with or without the scheme)."""
        if self.api_key is None:
            return {}
        return {"Authorization": f"Bearer {self.api_key.get()}"}
