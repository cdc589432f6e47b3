"""Streaming faults: dropped connections (resume without loss or duplicates), auth failures,
server errors and protocol violations.

The drop tests put a small TCP proxy (loopback only) between the client and the embedded
engine and cut it mid-stream. Server behaviours the embedded engine never shows (an error
message, a binary frame, an odd close code, a scripted drop) come from a tiny scripted
WebSocket server on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from fw_asr_widgets.api._config import ClientConfig
from fw_asr_widgets.api._stream_runners import THREAD_PREFIX
from fw_asr_widgets.api.errors import (
    APIConnectionError,
    AuthenticationError,
    StreamError,
)
from fw_asr_widgets.api.streaming import (
    Checkpoint,
    Closed,
    Reconnecting,
    open_async_stream,
    open_sync_stream,
    sync_stream_file,
)
from fw_asr_widgets.audio import decode, float_to_pcm16
from tests.conftest import JFK_REFERENCE


def norm_words(text: str) -> list[str]:
    return jiwer.RemovePunctuation()(jiwer.ToLowerCase()(text)).split()


def assert_no_new_repeats(text: str) -> None:
    """No word bigram occurs more often than in the reference (no words transcribed twice)."""
    ref = norm_words(JFK_REFERENCE)
    hyp = norm_words(text)
    ref_bi = Counter(pairwise(ref))
    hyp_bi = Counter(pairwise(hyp))
    extra = {b: n for b, n in hyp_bi.items() if n > ref_bi.get(b, 0) and n > 1}
    assert not extra, f"repeated bigrams {extra} in {text!r}"
    doubled = [a for a, b in pairwise(hyp) if a == b and (a, b) not in ref_bi]
    assert not doubled, f"doubled words {doubled} in {text!r}"


def client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


# ----------------------------------------------------------------------------- cut proxy
class CutProxy:
    """Loopback TCP proxy that cuts its first connection after `cut_after` client bytes."""

    def __init__(self, upstream_port: int, cut_after: int) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.cuts = 0
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            up = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self.connections += 1
                first = self.connections == 1
                self._open += [client, up]
            self._spawn(self._pump, client, up, first)
            self._spawn(self._pump, up, client, False)

    def _pump(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        seen = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count and seen + len(data) >= self.cut_after:
                    self.cut(src, dst)
                    return
                seen += len(data)
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def cut(self, *socks: socket.socket) -> None:
        with self._lock:
            self.cuts += 1
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()
        for s in self._open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        for t in self._threads:
            t.join(timeout=5)


@pytest.fixture()
def proxy(local_server: Any) -> Iterator[CutProxy]:
    seed = random.randrange(1_000_000)
    rnd = random.Random(seed)
    # somewhere between 2 s and 8 s of jfk's 11 s (PCM16 at 16 kHz: 32000 bytes/s)
    cut_after = rnd.randrange(2 * 32000, 8 * 32000)
    print(f"cut after {cut_after} bytes (seed {seed})")
    p = CutProxy(int(local_server.url.rsplit(":", 1)[1]), cut_after)
    try:
        yield p
    finally:
        p.close()


def test_async_stream_resumes_after_a_cut_without_loss_or_repeats(
    proxy: CutProxy, data_dir: Path
) -> None:
    config = ClientConfig.resolve(base_url=f"http://127.0.0.1:{proxy.port}")
    audio = decode(data_dir / "jfk.wav")

    async def main() -> Any:
        events: list[Any] = []
        s = open_async_stream(config, language="en", pace=4.0, on_event=events.append)
        async with s:
            for i in range(0, audio.size, 8000):
                await s.send(audio[i : i + 8000])
        return s, events

    s, events = asyncio.run(main())
    assert proxy.cuts == 1 and proxy.connections == 2
    assert s.reconnects == 1
    assert any(isinstance(e, Reconnecting) for e in events)
    assert Checkpoint("final") in events and isinstance(events[-1], Closed)
    text = s.transcript.text
    assert jiwer.wer(" ".join(norm_words(JFK_REFERENCE)), " ".join(norm_words(text))) <= 0.25, text
    assert_no_new_repeats(text)
    starts = [w.start for w in s.transcript.words]
    assert starts == sorted(starts)


def test_sync_stream_file_resumes_after_a_cut(proxy: CutProxy, data_dir: Path) -> None:
    config = ClientConfig.resolve(base_url=f"http://127.0.0.1:{proxy.port}")
    tr = sync_stream_file(config, data_dir / "jfk.wav", speed=4.0, language="en")
    assert proxy.cuts == 1 and proxy.connections == 2
    assert jiwer.wer(" ".join(norm_words(JFK_REFERENCE)), " ".join(norm_words(tr.text))) <= 0.25
    assert_no_new_repeats(tr.text)
    assert client_threads() == []


# ----------------------------------------------------------------------------- auth
@pytest.fixture(scope="module")
def keyed_server() -> Iterator[Any]:
    from fw_asr_widgets.local import serve

    handle = serve(api_key="k")
    try:
        yield handle
    finally:
        handle.close()


@pytest.mark.parametrize("key", ["wrong-key-7f3a9c", None])
def test_auth_failure_is_typed_and_hides_the_key(keyed_server: Any, key: str | None) -> None:
    config = ClientConfig.resolve(api_key=key, base_url=keyed_server.url)
    s = open_sync_stream(config)
    with pytest.raises(AuthenticationError) as info:
        s.start()
    assert info.value.status_code == 401
    for text in (str(info.value), repr(info.value), repr(s)):
        assert "wrong-key-7f3a9c" not in text
    assert s.state == "failed"
    assert client_threads() == []

    async def run_async() -> None:
        async with open_async_stream(config):
            pass

    with pytest.raises(AuthenticationError) as info2:
        asyncio.run(run_async())
    assert "wrong-key-7f3a9c" not in str(info2.value)


def test_right_key_connects(keyed_server: Any) -> None:
    config = ClientConfig.resolve(api_key="k", base_url=keyed_server.url)
    with open_sync_stream(config) as s:
        s.send(np.zeros(1600, dtype=np.int16))
    assert s.state == "done" and s.transcript.text == ""


# ----------------------------------------------------------------------------- scripted server
class ScriptedServer:
    """A loopback WebSocket server running `handler(ws, n)` for its n-th connection."""

    def __init__(self, handler: Callable[[Any, int], Awaitable[None]]) -> None:
        self.handler = handler
        self.count = 0
        self.received: list[list[bytes | str]] = []
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()

        async def handle(ws: Any) -> None:
            n = self.count
            self.count += 1
            self.received.append([])
            await self.handler(ws, n)

        async with serve(handle, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop

    @property
    def config(self) -> ClientConfig:
        return ClientConfig.resolve(base_url=f"http://127.0.0.1:{self.port}")

    def close(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(timeout=10)


def state(segments: list[dict[str, Any]], **kw: Any) -> str:
    return json.dumps({"task": "transcribe", "language": "en", "segments": segments, **kw})


def seg(sid: str, words: list[tuple[str, float, float, bool]]) -> dict[str, Any]:
    return {
        "id": sid,
        "text": " ".join(w[0] for w in words),
        "start": words[0][1],
        "end": words[-1][2],
        "words": [{"word": w, "start": a, "end": b, "is_final": f} for w, a, b, f in words],
    }


@contextlib.contextmanager
def scripted(handler: Callable[[Any, int], Awaitable[None]]) -> Iterator[ScriptedServer]:
    server = ScriptedServer(handler)
    try:
        yield server
    finally:
        server.close()


def test_scripted_drop_resends_exactly_the_unfinalised_audio() -> None:
    audio = float_to_pcm16(np.sin(np.arange(32000) * 0.01).astype(np.float32) * 0.3)
    srv: ScriptedServer

    async def handler(ws: Any, n: int) -> None:
        got = srv.received[n]
        async for msg in ws:
            got.append(msg)
            nbytes = sum(len(m) for m in got if isinstance(m, bytes))
            if n == 0 and nbytes >= 32000:  # 1 s in: finalize 0-0.5 s, then drop
                await ws.send(state([seg("0", [("hello", 0.1, 0.5, True)])]))
                await asyncio.sleep(0.05)
                await ws.close(code=1011, reason="internal error")
                return
            if isinstance(msg, str) and json.loads(msg).get("trace_id") == "final":
                await ws.send(state([seg("0", [("world", 0.2, 1.0, True)])]))
                await ws.send(state([], trace_id="final"))

    with scripted(handler) as srv:
        s = open_sync_stream(srv.config, backoff=(0.01,))
        s.start()
        s.send(audio)
        tr = s.finish(timeout=30)
    assert srv.count == 2 and s.reconnects == 1
    resent = b"".join(m for m in srv.received[1] if isinstance(m, bytes))
    assert resent == audio[int(0.5 * 16000) * 2 :]  # from the end of the last final word
    assert tr.text == "hello world"
    assert [w.start for w in tr.words] == pytest.approx([0.1, 0.7])
    assert [s.id for s in tr.segments] == ["0", "1:0"]
    assert client_threads() == []


async def _send_error(ws: Any, n: int) -> None:
    await ws.recv()
    await ws.send(json.dumps({"error": {"object": "error", "type": "bad", "message": "nope"}}))
    await asyncio.sleep(1)


async def _send_binary(ws: Any, n: int) -> None:
    await ws.recv()
    await ws.send(b"\x00\x01")
    await asyncio.sleep(1)


async def _close_1003(ws: Any, n: int) -> None:
    await ws.recv()
    await ws.close(code=1003, reason="unsupported data")


@pytest.mark.parametrize(
    ("handler", "match"),
    [
        (_send_error, r"error \(bad\): nope"),
        (_send_binary, "binary frame"),
        (_close_1003, "code 1003: unsupported data"),
    ],
)
def test_protocol_errors_end_the_stream_with_stream_error(
    handler: Callable[[Any, int], Awaitable[None]], match: str
) -> None:
    with scripted(handler) as srv:
        s = open_sync_stream(srv.config)
        s.start()
        s.send(np.zeros(3200, dtype=np.int16))
        with pytest.raises(StreamError, match=match):
            s.finish(timeout=30)
        assert s.state == "failed" and srv.count == 1  # not retried
        assert client_threads() == []

        async def run_async() -> None:
            async with open_async_stream(srv.config) as a:
                await a.send(np.zeros(3200, dtype=np.int16))

        with pytest.raises(StreamError, match=match):
            asyncio.run(run_async())


def test_unreachable_server_gives_connection_error_after_retries() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    config = ClientConfig.resolve(base_url=f"http://127.0.0.1:{port}")
    events: list[Any] = []
    s = open_sync_stream(config, backoff=(0.01, 0.02), max_reconnects=2, on_event=events.append)
    with pytest.raises(APIConnectionError, match="after 3 attempts"):
        s.start()
    assert [e.attempt for e in events if isinstance(e, Reconnecting)] == [1, 2]

    async def run_async() -> None:
        await open_async_stream(config, backoff=(0.01,), max_reconnects=1).start()

    with pytest.raises(APIConnectionError):
        asyncio.run(run_async())


def test_idle_close_reconnects_only_when_there_is_more_to_send() -> None:
    srv: ScriptedServer

    async def handler(ws: Any, n: int) -> None:
        got = srv.received[n]
        async for msg in ws:
            got.append(msg)
            if n == 0 and isinstance(msg, str) and json.loads(msg).get("trace_id") == "t":
                await ws.send(state([seg("0", [("one", 0.0, 0.1, True)])]))
                await ws.send(state([], trace_id="t"))
                await ws.close(code=1000, reason="idle timeout: no frame for 30 s")
                return
            if isinstance(msg, str) and json.loads(msg).get("trace_id") == "final":
                await ws.send(state([seg("0", [("two", 0.0, 0.1, True)])]))
                await ws.send(state([], trace_id="final"))

    with scripted(handler) as srv:
        events: list[Any] = []
        s = open_sync_stream(srv.config, on_event=events.append)
        s.start()
        s.send(np.zeros(1600, dtype=np.int16))
        s.trace("t")
        for ev in s.events(timeout=10):
            if ev == Checkpoint("t"):
                break
        threading.Event().wait(0.6)  # longer than the first backoff delay (0.2 s)
        assert srv.count == 1  # closed idle: no eager reconnect
        assert not any(isinstance(e, Reconnecting) for e in events)
        s.send(np.zeros(1600, dtype=np.int16))
        tr = s.finish(timeout=30)
    assert srv.count == 2 and s.reconnects == 1
    assert tr.text == "one two"
    assert client_threads() == []


def test_callbacks_may_close_but_not_finish() -> None:
    async def echo(ws: Any, n: int) -> None:
        async for msg in ws:
            if isinstance(msg, str):
                await ws.send(state([], trace_id=json.loads(msg)["trace_id"]))

    seen: list[Any] = []

    def on_event(ev: Any) -> None:
        if ev == Checkpoint("t"):
            try:
                s.finish()
            except StreamError as exc:
                seen.append(exc)
            s.close()

    with scripted(echo) as srv:
        s = open_sync_stream(srv.config, on_event=on_event)
        s.start()
        s.trace("t")
        assert isinstance(list(s.events(timeout=10))[-1], Closed)
        s._runner._thread.join(10)  # type: ignore[union-attr]
    assert len(seen) == 1 and "callback" in str(seen[0])
    assert s.state == "closed"
    assert client_threads() == []


# ----------------------------------------------------------------------------- retry policy
class RefusingServer(ScriptedServer):
    """A `ScriptedServer` whose first `refusals` handshakes get `status` with `headers`."""

    def __init__(
        self,
        handler: Callable[[Any, int], Awaitable[None]],
        refusals: int,
        status: int,
        headers: dict[str, str],
        body: bytes = b"",
    ) -> None:
        self.refusals = refusals
        self.status = status
        self.refusal_headers = headers
        self.body = body
        self.handshakes = 0
        super().__init__(handler)

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()

        def refuse(connection: Any, request: Any) -> Any:
            self.handshakes += 1
            if self.handshakes > self.refusals:
                return None
            response = connection.respond(self.status, "")
            response.body = self.body
            del response.headers["Content-Length"]
            response.headers["Content-Length"] = str(len(self.body))
            for k, v in self.refusal_headers.items():
                response.headers[k] = v
            return response

        async def handle(ws: Any) -> None:
            n = self.count
            self.count += 1
            self.received.append([])
            await self.handler(ws, n)

        async with serve(handle, "127.0.0.1", 0, process_request=refuse) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop


async def _echo_final(ws: Any, n: int) -> None:
    async for msg in ws:
        if isinstance(msg, str) and json.loads(msg).get("trace_id") == "final":
            await ws.send(state([seg("0", [("ok", 0.0, 0.1, True)])]))
            await ws.send(state([], trace_id="final"))


@pytest.mark.parametrize(
    ("headers", "wait"),
    [({"Retry-After": "0.3"}, 0.3), ({"retry-after-ms": "250"}, 0.25)],
)
def test_a_busy_handshake_waits_as_the_server_says_like_http(
    headers: dict[str, str], wait: float
) -> None:
    events: list[Any] = []
    srv = RefusingServer(_echo_final, 2, 503, headers)
    try:
        with open_sync_stream(srv.config, backoff=(5.0,), on_event=events.append) as s:
            s.send(np.zeros(1600, dtype=np.int16))
    finally:
        srv.close()
    waits = [e for e in events if isinstance(e, Reconnecting)]
    assert [e.attempt for e in waits] == [1, 2]
    assert [e.delay for e in waits] == pytest.approx([wait, wait])  # the hint, not 5 s
    assert "HTTP 503" in waits[0].reason
    assert s.transcript.text == "ok" and s.state == "done"


def test_a_refused_handshake_carries_the_request_id_and_the_servers_message() -> None:
    from fw_asr_widgets.api.errors import PermissionDeniedError

    body = json.dumps({"error": {"type": "permission", "message": "no streaming here"}})
    srv = RefusingServer(_echo_final, 1, 403, {"fireworks-request-id": "req-42"}, body.encode())
    try:
        with pytest.raises(PermissionDeniedError, match="no streaming here") as info:
            open_sync_stream(srv.config).start()
    finally:
        srv.close()
    assert info.value.request_id == "req-42" and info.value.status_code == 403
    assert srv.handshakes == 1  # not retried


def test_reconnect_waits_are_full_jitter_under_the_backoff_table() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = ClientConfig.resolve(base_url=f"http://127.0.0.1:{port}")
    events: list[Any] = []
    s = open_sync_stream(config, backoff=(0.04, 0.08), max_reconnects=6, on_event=events.append)
    with pytest.raises(APIConnectionError, match="after 7 attempts"):
        s.start()
    delays = [e.delay for e in events if isinstance(e, Reconnecting)]
    assert len(delays) == 6
    assert 0 <= delays[0] <= 0.04 and all(0 <= d <= 0.08 for d in delays[1:])
    assert len(set(delays)) > 1  # drawn, not a fixed table
