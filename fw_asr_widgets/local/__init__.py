"""The embedded, offline, Fireworks-compatible audio engine.

- `serve(api_key=None, host="127.0.0.1", port=0, **settings) -> ServerHandle`: start the
  server in a background thread on a free loopback port; `handle.url` is the server root
  (give it to `Client(base_url=...)`; the OpenAI SDK takes `handle.url + "/v1"`).
- `shared_server() -> ServerHandle`: the process-wide server (no key) the client's no-key
  default uses; started lazily, closed at interpreter exit.
- `run(host="127.0.0.1", port=8000, api_key=None, **settings)`: serve in the foreground
  (`fw-asr serve`, `python -m fw_asr_widgets.local`).

Binding a host other than loopback without an API key raises `ValueError`.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from fw_asr_widgets._redact import UrlKeyRedactor

if TYPE_CHECKING:
    from fw_asr_widgets.local.server import Settings

__all__ = ["ServerHandle", "is_loopback", "run", "serve", "shared_server"]


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _settings(api_key: str | None, host: str, port: int, **kwargs: Any) -> Settings:
    from fw_asr_widgets.local.server import Settings

    if not is_loopback(host) and not api_key:
        raise ValueError(
            f"refusing to bind {host!r} without an API key: anything but loopback "
            "(127.0.0.1, ::1, localhost) needs api_key / --api-key"
        )
    if api_key is not None and not api_key.strip():
        raise ValueError("api_key must not be empty")
    return Settings(api_key=api_key, host=host, port=port, **kwargs)


def _install_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, UrlKeyRedactor) for f in lg.filters):
            lg.addFilter(UrlKeyRedactor())


class ServerHandle:
    """A running embedded server: `.url`, `.port`, `.close()` (idempotent); a context manager."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self._closed = False
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """True once `close()` ran or the server thread ended."""
        return self._closed or not self._thread.is_alive()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the server and wait for its thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running"
        return f"ServerHandle(url={self.url!r}, {state})"


def serve(
    api_key: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 30.0,
    **settings: Any,
) -> ServerHandle:
    """Start the embedded server in a background thread; return once it answers.

    `port=0` picks a free port. Extra keyword arguments go to `server.Settings`
    (`max_upload_bytes`, `max_concurrent_jobs`, `max_queued_jobs`, ...).
    """
    import uvicorn

    from fw_asr_widgets.local.server import create_app

    cfg = _settings(api_key, host, port, **settings)
    app = create_app(cfg)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    _install_redaction()
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", ws_max_size=16 * 1024 * 1024
    )
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def _run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # pragma: no cover - reported to the caller below
            errors.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=_run, name=f"fw-asr-local:{bound_port}", daemon=True)
    thread.start()
    handle = ServerHandle(server, thread, host, bound_port)
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if errors or not thread.is_alive():
            handle.close()
            raise RuntimeError(f"the embedded server failed to start: {errors[:1]}")
        if time.monotonic() > deadline:
            handle.close()
            raise RuntimeError("the embedded server did not start in time")
        time.sleep(0.01)
    _wait_health(handle, deadline)
    return handle


def _wait_health(handle: ServerHandle, deadline: float) -> None:
    import httpx

    while True:
        try:
            if httpx.get(handle.url + "/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            handle.close()
            raise RuntimeError("the embedded server does not answer /health")
        time.sleep(0.02)


_shared: ServerHandle | None = None
_shared_lock = threading.Lock()


def shared_server() -> ServerHandle:
    """The process-wide embedded server (no key, loopback), started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = serve()
            atexit.register(_shared.close)
        return _shared


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    *,
    log_level: str = "info",
    **settings: Any,
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    import uvicorn

    from fw_asr_widgets.local.server import create_app

    cfg = _settings(api_key, host, port, **settings)
    _install_redaction()
    uvicorn.run(
        create_app(cfg),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        ws_max_size=16 * 1024 * 1024,
    )
