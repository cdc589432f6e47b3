"""A raw loopback HTTP server that misbehaves on purpose (one handler call per connection).

It speaks just enough HTTP/1.1 by hand (no framework) so a test can reset a connection
mid-upload, never answer, cut a body short or send any status and headers it likes.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket, int], None]


class RawServer:
    """Accepts on 127.0.0.1 and runs `handler(conn, n)` for the n-th connection in a thread."""

    def __init__(self, handler: Handler, *, rcvbuf: int | None = None) -> None:
        self.handler = handler
        self.count = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:  # small: the client is still uploading when we cut
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self) -> None:
        self._sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(10)
            with self._lock:
                n = self.count
                self.count += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._run, args=(conn, n), daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self, conn: socket.socket, n: int) -> None:
        with contextlib.suppress(OSError):
            self.handler(conn, n)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        for t in self._threads:
            t.join(timeout=5)


@contextlib.contextmanager
def raw_server(handler: Handler, **kw: int) -> Iterator[RawServer]:
    server = RawServer(handler, **kw)
    try:
        yield server
    finally:
        server.close()


def read_head(conn: socket.socket) -> tuple[bytes, int, bytes]:
    """Read the request head; return it, the Content-Length and any body bytes read along."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("client went away before the head ended")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head, length, rest


def read_request(conn: socket.socket) -> bytes:
    """Read one whole request (head and body); return the head."""
    head, length, body = read_head(conn)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


def respond(
    conn: socket.socket,
    status: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: int | None = None,
) -> None:
    """Send a response; `content_length` may lie (bigger than `body`) to cut it short."""
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    hdrs["Content-Length"] = str(len(body) if content_length is None else content_length)
    hdrs.setdefault("Connection", "close")
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in hdrs.items()]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not a clean FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
