"""HTTP faults from a real loopback server that misbehaves on purpose (no MockTransport).

Connection reset mid-upload, a server that never answers, bodies cut short, HTML error pages,
429/503 with and without Retry-After, and 401/403 that say where the key came from without
printing it. After each, the client leaves no connection open.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.api._retry import RetryPolicy
from tests.reliability._rawserver import (
    RawServer,
    raw_server,
    read_head,
    read_request,
    reset,
    respond,
)

OK_BODY = json.dumps({"text": "ask not what your country can do for you"}).encode()
FAKE_KEY = "fw_FAKEKEY_0123456789abcdef"


def client(srv: RawServer, *, retries: int = 2, timeout: float = 30.0, **kw: str) -> fw.Client:
    """A sync client for `srv` whose retry waits are recorded instead of slept."""
    c = fw.Client(base_url=srv.url, max_retries=retries, timeout=timeout, **kw)
    c.sleeps = []  # type: ignore[attr-defined]

    async def sleep(seconds: float) -> None:
        c.sleeps.append(seconds)  # type: ignore[attr-defined]

    c._async._retry = RetryPolicy(max_retries=retries, sleep=sleep, random=lambda: 0.5)
    return c


def open_client_sockets(port: int) -> list[object]:
    """This process's TCP connections to `port` that are still established."""
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    ]


def script(*steps: Callable[[socket.socket], None]) -> Callable[[socket.socket, int], None]:
    """Connection n runs steps[n] (the last step repeats)."""

    def handler(conn: socket.socket, n: int) -> None:
        steps[min(n, len(steps) - 1)](conn)

    return handler


def ok(conn: socket.socket) -> None:
    read_request(conn)
    respond(conn, "200 OK", OK_BODY)


def reset_mid_upload(conn: socket.socket) -> None:
    head, length, body = read_head(conn)
    while len(body) < 8192:
        body += conn.recv(4096)
    assert len(body) < length  # the client is still uploading
    reset(conn)


def status(code: str, body: bytes, **headers: str) -> Callable[[socket.socket], None]:
    def step(conn: socket.socket) -> None:
        read_request(conn)
        respond(conn, code, body, headers)

    return step


@pytest.fixture()
def jfk(data_dir: Path) -> Path:
    return data_dir / "jfk.wav"


def test_reset_mid_upload_is_retried_then_a_connection_error(jfk: Path) -> None:
    with raw_server(script(reset_mid_upload), rcvbuf=4096) as srv:
        c = client(srv, retries=2)
        with pytest.raises(fw.APIConnectionError) as info:
            c.transcribe(jfk)
        assert not isinstance(info.value, fw.APITimeoutError)
        assert srv.url in str(info.value)
        assert srv.count == 3 and len(c.sleeps) == 2  # type: ignore[attr-defined]
        c.close()
        assert open_client_sockets(srv.port) == []


def test_reset_mid_upload_then_served_succeeds_with_the_whole_file(jfk: Path) -> None:
    seen: list[int] = []

    def counted_ok(conn: socket.socket) -> None:
        head, length, body = read_head(conn)
        while len(body) < length:
            body += conn.recv(65536)
        seen.append(len(body))
        respond(conn, "200 OK", OK_BODY)

    with raw_server(script(reset_mid_upload, counted_ok), rcvbuf=4096) as srv:
        c = client(srv)
        tr = c.transcribe(jfk)
        assert isinstance(tr, fw.Transcript) and tr.text.startswith("ask not")
        assert srv.count == 2
        assert seen and seen[0] > jfk.stat().st_size  # the retry re-sent the whole file
        c.close()
        assert open_client_sockets(srv.port) == []


def test_server_that_never_answers_times_out(jfk: Path) -> None:
    def silent(conn: socket.socket) -> None:
        read_request(conn)
        conn.settimeout(None)
        conn.recv(1)  # wait until the client gives up and closes

    with raw_server(script(silent)) as srv:
        c = client(srv, retries=1, timeout=0.5)
        with pytest.raises(fw.APITimeoutError, match="timed out after 0.5 s"):
            c.transcribe(jfk)
        assert srv.count == 2  # retried once
        c.close()
        assert open_client_sockets(srv.port) == []


def test_body_cut_short_is_a_connection_error_and_retried(jfk: Path) -> None:
    def cut(conn: socket.socket) -> None:
        read_request(conn)
        respond(conn, "200 OK", OK_BODY[:20], content_length=len(OK_BODY))
        conn.close()

    with raw_server(script(cut)) as srv:
        c = client(srv, retries=1)
        with pytest.raises(fw.APIConnectionError):
            c.transcribe(jfk)
        assert srv.count == 2
    with raw_server(script(cut, ok)) as srv:
        tr = client(srv, retries=1).transcribe(jfk)
        assert isinstance(tr, fw.Transcript) and tr.text.startswith("ask not")


def test_truncated_json_with_a_matching_length_is_a_validation_error(jfk: Path) -> None:
    with raw_server(script(status("200 OK", b'{"text": "ask not what'))) as srv:
        c = client(srv)
        with pytest.raises(fw.APIResponseValidationError, match="not a JSON object"):
            c.transcribe(jfk)
        assert srv.count == 1  # a 200 is not retried


def test_json_of_the_wrong_shape_is_a_validation_error(jfk: Path) -> None:
    step = status("200 OK", b'{"text": "x", "segments": [null]}')
    with (
        raw_server(script(step)) as srv,
        pytest.raises(fw.APIResponseValidationError, match="not a transcription response"),
    ):
        client(srv).transcribe(jfk)


def test_html_error_page_becomes_a_short_plain_message(jfk: Path) -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title>"
        b"<script>var x = 1;</script></head><body><h1>Service Unavailable</h1>"
        b"<p>Back soon &amp; sorry.</p>" + b"<p>padding</p>" * 500 + b"</body></html>"
    )
    step = status("503 Service Unavailable", page, **{"Content-Type": "text/html"})
    with raw_server(script(step)) as srv:
        c = client(srv, retries=1)
        with pytest.raises(fw.ServerError) as info:
            c.transcribe(jfk)
    err = info.value
    assert err.status_code == 503 and srv.count == 2
    assert "<" not in err.message and "var x" not in err.message
    assert err.message.startswith("503 Service Unavailable Service Unavailable Back soon & sorry.")
    assert len(err.message) <= 300


@pytest.mark.parametrize(
    ("code", "headers", "wait"),
    [
        ("429 Too Many Requests", {"Retry-After": "3"}, 3.0),
        ("429 Too Many Requests", {}, 0.25),  # backoff: random 0.5 x 0.5 s
        ("503 Service Unavailable", {"Retry-After": "2"}, 2.0),
        ("503 Service Unavailable", {}, 0.25),
    ],
)
def test_429_and_503_are_retried_honouring_retry_after(
    jfk: Path, code: str, headers: dict[str, str], wait: float
) -> None:
    busy = status(code, b'{"error": {"message": "busy"}}', **headers)
    with raw_server(script(busy, ok)) as srv:
        c = client(srv)
        tr = c.transcribe(jfk)
        assert isinstance(tr, fw.Transcript) and srv.count == 2
        assert c.sleeps == [wait]  # type: ignore[attr-defined]
    with raw_server(script(busy)) as srv:
        c = client(srv, retries=2)
        with pytest.raises(fw.RateLimitError if code.startswith("429") else fw.ServerError) as info:
            c.transcribe(jfk)
        assert srv.count == 3 and info.value.message == "busy"
        if code.startswith("429"):
            expected = float(headers["Retry-After"]) if headers else None
            assert info.value.retry_after == expected  # type: ignore[attr-defined]


def test_non_retryable_statuses_are_sent_once(jfk: Path) -> None:
    with raw_server(script(status("501 Not Implemented", b'{"detail": "no"}'))) as srv:
        with pytest.raises(fw.ServerError, match="no"):
            client(srv).transcribe(jfk)
        assert srv.count == 1


def _echo_auth(code: str, heads: list[bytes]) -> Callable[[socket.socket], None]:
    """A hostile server: rejects the request and echoes the Authorization header back."""

    def step(conn: socket.socket) -> None:
        head = read_request(conn)
        heads.append(head)
        auth = [ln for ln in head.decode().split("\r\n") if ln.lower().startswith("authorization")]
        body = json.dumps({"error": {"message": f"rejected {auth}"}}).encode()
        respond(conn, code, body, {"X-Request-Id": "req-7", "WWW-Authenticate": "Bearer"})

    return step


@pytest.mark.parametrize("code", ["401 Unauthorized", "403 Forbidden"])
@pytest.mark.parametrize("where", ["argument", "env"])
def test_auth_errors_say_where_the_key_came_from_without_printing_it(
    jfk: Path, monkeypatch: pytest.MonkeyPatch, code: str, where: str
) -> None:
    heads: list[bytes] = []
    with raw_server(script(_echo_auth(code, heads))) as srv:
        if where == "env":
            monkeypatch.setenv("FIREWORKS_API_KEY", FAKE_KEY)
            c = client(srv)
            hint = "environment variable FIREWORKS_API_KEY"
        else:
            c = client(srv, api_key=FAKE_KEY)
            hint = "api_key argument"
        cls = fw.AuthenticationError if code.startswith("401") else fw.PermissionDeniedError
        with pytest.raises(cls) as info:
            c.transcribe(jfk)
        assert srv.count == 1  # auth errors are not retried
        assert f"Bearer {FAKE_KEY}".encode() in heads[0]  # the server did get the key
    err = info.value
    assert hint in str(err)
    assert "req-7" in str(err) and "***" in err.message  # the echoed key was replaced
    for text in (str(err), repr(err), err.message, repr(err.body), repr(c), str(c)):
        assert FAKE_KEY not in text


def test_no_key_401_tells_how_to_set_one(jfk: Path) -> None:
    step = status("401 Unauthorized", b'{"detail": "missing key"}')
    with raw_server(script(step)) as srv, pytest.raises(fw.AuthenticationError) as info:
        client(srv).transcribe(jfk)
    assert "no API key was sent" in str(info.value) and "FIREWORKS_API_KEY" in str(info.value)
