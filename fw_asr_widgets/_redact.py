"""Log redaction shared by the client and the embedded engine: no log line may carry a key.

- `SecretRedactor`: replaces every registered secret (the client adds each API key it is
  given) by `***` in the formatted message. Installed on the `fw_asr_widgets` logger by
  `fw_asr_widgets.api`.
- `AuthHeaderRedactor`: hides the value of an `Authorization` header in websockets' DEBUG
  handshake lines (`> %s: %s` with the header name and value as arguments), then applies a
  `SecretRedactor`. Installed on `websockets.client`/`websockets.server` by the client.
- `UrlKeyRedactor`: removes a key passed as `?Authorization=` from uvicorn's lines (the
  engine installs it).

Decisions:
- One `Redactor` base does the record handling for all three; the subclasses only say what
  to scrub. This module is in the bottom layer (standard library only), so the engine uses
  it without importing the client.
- `SecretRedactor` formats the message and drops `args` (a secret can then not hide across
  the format boundary); `UrlKeyRedactor` keeps the record's shape (`keep_args = True`)
  because uvicorn's access formatter unpacks exactly five `args` (client, method, path, HTTP
  version, status), so the key is redacted inside the message and inside each argument.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "AuthHeaderRedactor",
    "Redactor",
    "SecretRedactor",
    "UrlKeyRedactor",
    "scrub",
    "scrub_url_key",
]

KEY_IN_URL = re.compile(r"(authorization=)[^&\s\"']*", re.IGNORECASE)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret of 4 or more characters replaced by `***`."""
    for s in secrets:
        if s and len(s) >= 4 and s in text:
            text = text.replace(s, "***")
    return text


def scrub_url_key(text: str) -> str:
    """`text` with the value of any `authorization=` query parameter replaced by `***`."""
    return KEY_IN_URL.sub(r"\1***", text) if KEY_IN_URL.search(text) else text


class Redactor(logging.Filter):
    """A filter that rewrites records through `scrub_text`; never drops a record."""

    keep_args = False
    """False: format the message, scrub it, drop `args`. True: scrub msg and each arg."""

    def scrub_text(self, text: str) -> str:
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.keep_args:
            if isinstance(record.msg, str):
                record.msg = self.scrub_text(record.msg)
            args = record.args
            if isinstance(args, tuple):
                record.args = tuple(self._scrub_arg(a) for a in args)
            elif isinstance(args, dict):
                record.args = {k: self._scrub_arg(v) for k, v in args.items()}
            return True
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover - malformed record
            return True
        redacted = self.scrub_text(msg)
        if redacted != msg:
            record.msg, record.args = redacted, ()
        return True

    def _scrub_arg(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, int | float) or value is None:
            return value
        try:
            text = str(value)
        except Exception:  # pragma: no cover - an argument that cannot be shown
            return value
        redacted = self.scrub_text(text)
        return redacted if redacted != text else value


class SecretRedactor(Redactor):
    """Replaces any secret in `secrets` (add keys to it) by `***`."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def scrub_text(self, text: str) -> str:
        return scrub(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        return True if not self.secrets else super().filter(record)


class AuthHeaderRedactor(Redactor):
    """Hides `Authorization` header values in websockets' handshake lines, then applies
    `secrets` (a `SecretRedactor`)."""

    def __init__(self, secrets: SecretRedactor) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and isinstance(args[0], str)
            and args[0].lower() in ("authorization", "proxy-authorization")
        ):
            record.args = (args[0], "***")
        return self._secrets.filter(record)


class UrlKeyRedactor(Redactor):
    """Removes a key passed as `?Authorization=` (uvicorn's access and error lines)."""

    keep_args = True

    def scrub_text(self, text: str) -> str:
        return scrub_url_key(text)
