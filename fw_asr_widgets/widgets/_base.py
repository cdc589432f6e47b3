"""Shared pieces of the notebook widgets: base class, client resolution, plain-language errors.

Widgets talk only to the API layer (`fw_asr_widgets.api`), never to HTTP directly. Status and
errors go to the synced `status` / `error` traits (``print`` in widget callbacks is invisible in
JupyterLab and VS Code). No trait ever holds audio bytes or an API key.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

if TYPE_CHECKING:
    from fw_asr_widgets.api.client import Client

HERE = Path(__file__).parent


def asset(name: str) -> Path:
    """Path of a front-end file shipped beside this module (``recorder.js``, ...)."""
    return HERE / name


def resolve_client(client: Client | None) -> Client:
    """`client`, or a new `Client()` (no key: the embedded engine, started on first use).

    Creating the client is cheap; the embedded engine starts only when the first request or
    stream needs it, so widgets can resolve their client at construction.
    """
    if client is not None:
        return client
    from fw_asr_widgets.api.client import Client

    return Client()


def _where(client: Any) -> tuple[str, str | None]:
    """``("embedded" | "fireworks" | "server", host)`` of the server `client` talks to."""
    if getattr(client, "uses_embedded_engine", False):
        return "embedded", None
    base = getattr(client, "base_url", None)
    if base:
        from urllib.parse import urlsplit

        return "server", urlsplit(str(base)).netloc or str(base)
    return "fireworks", None


def planned_model_label(
    client: Any, model: str, language: str | None, *, streaming: bool = False
) -> str:
    """What serves the requests `client` is about to make, in words, before any result.

    The embedded engine does not run the Fireworks model it is asked for: it serves English
    (and every stream) with Whisper tiny.en and other languages with the multilingual Whisper
    base (`fw_asr_widgets.local.models`), so naming the requested `model` would mislead.
    """
    kind, host = _where(client)
    lang = f" · {language}" if language else ""
    if kind == "embedded":
        from fw_asr_widgets.local import models

        if streaming or language == "en":
            return f"embedded engine (Whisper {models.ENGLISH})"
        if language:
            return f"embedded engine (Whisper {models.MULTILINGUAL}){lang}"
        if models.multilingual_available():
            return (
                f"embedded engine (Whisper {models.ENGLISH} for English, "
                f"{models.MULTILINGUAL} for other languages)"
            )
        return f"embedded engine (Whisper {models.ENGLISH}, English only)"
    if kind == "server":
        return f"{model} at {host}{lang}"
    return f"Fireworks {model}{lang}"


def served_model_label(client: Any, model: str, transcript: Any) -> str:
    """The model that served `transcript`: the engine's `x-fw-asr-local-model` report when
    there is one, else the requested `model` on the server `client` talks to."""
    from fw_asr_widgets.api.client import SERVED_MODEL_HEADER

    raw = getattr(transcript, "raw", None) or {}
    served = raw.get(SERVED_MODEL_HEADER) if hasattr(raw, "get") else None
    kind, host = _where(client)
    if served:
        where = "embedded engine" if kind == "embedded" else (host or "server")
        return f"{where} (Whisper {served})"
    if kind == "server":
        return f"{model} at {host}"
    return f"Fireworks {model}"


def friendly_error(exc: BaseException) -> str:
    """One plain-language sentence for `exc` (never contains the key: our errors scrub it)."""
    from fw_asr_widgets.api import errors as e

    detail = str(exc).strip() or type(exc).__name__
    if isinstance(exc, e.AuthenticationError):
        return f"The server rejected the API key (check FIREWORKS_API_KEY). {detail}"
    if isinstance(exc, e.PermissionDeniedError):
        return f"This API key may not use this model or endpoint. {detail}"
    if isinstance(exc, e.APITimeoutError):
        return f"The transcription server did not answer in time. {detail}"
    if isinstance(exc, e.APIConnectionError):
        return f"Could not reach the transcription server (connection lost?). {detail}"
    if isinstance(exc, e.RateLimitError):
        return f"Rate limited by the server; try again in a moment. {detail}"
    if isinstance(exc, e.FwAsrError):
        return detail
    return f"{type(exc).__name__}: {detail}"


class Throttle:
    """`ready()` is true at most once every `interval` seconds (thread-safe)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def ready(self, force: bool = False) -> bool:
        now = time.monotonic()
        with self._lock:
            if force or now - self._last >= self.interval:
                self._last = now
                return True
            return False


class FwWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """Base of the fw-asr widgets: a plain-language `status` line and an `error` message.

    Subclasses set `_esm` / `_css` to `bundle("<name>.js")` / `bundle("<name>.css")` (with the
    shared helpers and rules inlined), or to `asset(...)` for files that use none.
    `set_status(text)` clears `error`; `set_error(text)` sets both (status says what failed).
    """

    status = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sync_lock = threading.RLock()
        super().__init__(*args, **kwargs)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Change several traits as one update, safely from any thread.

        ipywidgets' `hold_sync` is not thread-safe; widgets updated from worker threads (and,
        with kernel subshells, from concurrent message handlers) go through this lock.
        """
        with self._sync_lock, self.hold_sync():
            yield

    def set_status(self, text: str) -> None:
        """Show `text` on the status line and clear any error."""
        with self.batch():
            self.error = ""
            self.status = text

    def set_error(self, text: str, status: str | None = None) -> None:
        """Report an error: `error` = `text`, `status` = `status` or `text`."""
        with self.batch():
            self.error = text
            self.status = status or text

    def _send_safe(self, content: dict[str, Any]) -> None:
        """`send` that ignores a closed comm (the widget was closed meanwhile)."""
        if self.comm is None:
            return
        with contextlib.suppress(Exception):  # a closed or broken comm must not kill a worker
            self.send(content)


_IMPORT_SHARED = 'import * as shared from "./_shared.js";'
_IMPORT_SHARED_CSS = '@import "./_shared.css";'


def bundle(name: str) -> str:
    """The ES module `name` with ``_shared.js`` inlined, as one source text; for a stylesheet
    (``*.css``), its text with the line ``@import "./_shared.css";`` replaced by the rules the
    widgets share (``_shared.css``), for the same reason: `_css` is one text as well.

    anywidget loads `_esm` as a single module from a string (a blob URL in the page), so a
    relative ``import ... from "./_shared.js"`` cannot resolve there. Modules that use the
    shared helpers start with the line ``import * as shared from "./_shared.js";`` (which
    also lets editors and `// @ts-check` follow the import); it is replaced by the helpers'
    source wrapped as a `shared` namespace object, so there is one copy of the helpers in the
    repository and no build step.
    """
    src = asset(name).read_text(encoding="utf-8")
    if name.endswith(".css"):
        shared_css = asset("_shared.css").read_text(encoding="utf-8")
        return src.replace(_IMPORT_SHARED_CSS, shared_css, 1)
    if _IMPORT_SHARED not in src:
        return src
    lib = asset("_shared.js").read_text(encoding="utf-8")
    names = re.findall(r"^export (?:function|const) (\w+)", lib, flags=re.MULTILINE)
    body = lib.replace("export function ", "function ").replace("export const ", "const ")
    inline = "const shared = (() => {\n" + body + f"\nreturn {{ {', '.join(names)} }};\n}})();"
    return src.replace(_IMPORT_SHARED, inline, 1)
