"""Authentication, size caps, the job queue and server lifecycle (dedicated small servers)."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from fw_asr_widgets.local import ServerHandle, is_loopback, serve, shared_server
from fw_asr_widgets.local.server import MULTIPART_SLACK, Settings, check_key
from tests._logs import Records, attached

TRANSCRIBE = "/v1/audio/transcriptions"
KEY = "fw-test-key-0123456789"


def silence_wav(seconds: float) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.zeros(int(16_000 * seconds), dtype="<i2").tobytes())
    return buf.getvalue()


def error_of(r: httpx.Response, status: int, type_: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["object"] == "error" and err["type"] == type_
    return str(err["message"])


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerHandle]:
    with serve(api_key=KEY, max_upload_bytes=100_000) as handle:
        yield handle


def test_check_key_forms() -> None:
    assert check_key(None, None)
    assert check_key("k", "k") and check_key("k", "Bearer k") and check_key("k", "bearer  k ")
    assert not check_key("k", None) and not check_key("k", "") and not check_key("k", "Bearer x")
    assert not check_key("k", "kk")


def test_missing_and_wrong_key_are_401_then_right_key_works(keyed: ServerHandle) -> None:
    url = keyed.url
    files = {"file": ("s.wav", silence_wav(0.5))}
    msg = error_of(httpx.post(url + TRANSCRIBE, files=files), 401, "authentication_error")
    assert KEY not in msg
    for header in ("wrong", "Bearer wrong", f"Bearer {KEY}x", KEY[:-1]):
        r = httpx.post(url + TRANSCRIBE, files=files, headers={"Authorization": header})
        assert KEY not in error_of(r, 401, "authentication_error")
    error_of(httpx.get(url + "/openapi.json"), 401, "authentication_error")
    for header in (KEY, f"Bearer {KEY}"):
        r = httpx.post(url + TRANSCRIBE, files=files, headers={"Authorization": header})
        assert r.status_code == 200 and r.json() == {"text": ""}
    assert httpx.get(url + "/health").status_code == 200  # liveness stays open


@pytest.fixture
def uvicorn_errors() -> Iterator[list[logging.LogRecord]]:
    """What uvicorn logs at ERROR during the test (its loggers do not reach caplog)."""
    with attached(Records(logging.ERROR), "uvicorn.error") as handler:
        yield handler.records


def test_websocket_auth_before_accept(
    keyed: ServerHandle, uvicorn_errors: list[logging.LogRecord]
) -> None:
    ws_url = keyed.url.replace("http://", "ws://") + "/v1/audio/transcriptions/streaming"
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url, open_timeout=10)
    assert info.value.response.status_code == 401
    body = json.loads(info.value.response.body or b"{}")
    assert body["error"]["type"] == "authentication_error"
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url + "?Authorization=nope", open_timeout=10)
    assert info.value.response.status_code == 401
    headers = {"Authorization": f"Bearer {KEY}"}
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url + "?model=nope", additional_headers=headers, open_timeout=10)
    assert info.value.response.status_code == 404
    assert "fireworks-asr-large" in json.loads(info.value.response.body)["error"]["message"]
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url + "?language=fr", additional_headers=headers, open_timeout=10)
    assert info.value.response.status_code == 400
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url + "?response_format=srt", additional_headers=headers, open_timeout=10)
    assert info.value.response.status_code == 400
    # The right key (header, or query parameter for browsers) opens the stream.
    for url, hdrs in ((ws_url, headers), (ws_url + f"?Authorization={KEY}", {})):
        with connect(url, additional_headers=hdrs, open_timeout=30) as ws:
            assert ws.protocol.state.name == "OPEN"
    # Refusals are deliberate: the server log stays free of uvicorn's handshake error.
    errors = [r.getMessage() for r in uvicorn_errors if r.levelno >= logging.ERROR]
    assert errors == []


def test_upload_caps_413(keyed: ServerHandle) -> None:
    url, auth = keyed.url, {"Authorization": KEY}
    # The file part alone is above the cap (body within the multipart slack).
    r = httpx.post(url + TRANSCRIBE, files={"file": ("a.wav", b"\0" * 200_000)}, headers=auth)
    assert "100000" in error_of(r, 413, "request_too_large")
    # Content-Length announces too much: refused before reading.
    big = b"\0" * (100_000 + MULTIPART_SLACK + 10)
    r = httpx.post(url + TRANSCRIBE, files={"file": ("a.wav", big)}, headers=auth)
    error_of(r, 413, "request_too_large")

    # No Content-Length (chunked): counted while spooling.
    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(40):
            yield b"\0" * 32_768
        yield b"\r\n--b--\r\n"

    r = httpx.post(
        url + TRANSCRIBE,
        content=chunks(),
        headers={**auth, "content-type": "multipart/form-data; boundary=b"},
    )
    error_of(r, 413, "request_too_large")
    ok = httpx.post(url + TRANSCRIBE, files={"file": ("s.wav", silence_wav(0.5))}, headers=auth)
    assert ok.status_code == 200


def test_queue_full_is_429_with_retry_after() -> None:
    with serve(max_concurrent_jobs=1, max_queued_jobs=0) as handle:
        release = threading.Event()
        audio = silence_wav(0.5)
        head = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n"
        )

        def slow_body() -> Iterator[bytes]:
            yield head + audio[:100]
            release.wait(60)  # holds the job slot while the body is still uploading
            yield audio[100:] + b"\r\n--b--\r\n"

        result: dict[str, Any] = {}

        def first() -> None:
            result["r"] = httpx.post(
                handle.url + TRANSCRIBE,
                content=slow_body(),
                headers={"content-type": "multipart/form-data; boundary=b"},
                timeout=60,
            )

        t = threading.Thread(target=first)
        t.start()
        try:
            _wait_health(handle.url, "jobs_in_flight", 1)
            r = httpx.post(handle.url + TRANSCRIBE, files={"file": ("s.wav", audio)})
            assert "busy" in error_of(r, 429, "rate_limit_error")
            assert int(r.headers["Retry-After"]) > 0
        finally:
            release.set()
            t.join(60)
        assert result["r"].status_code == 200, result["r"].text
        again = httpx.post(handle.url + TRANSCRIBE, files={"file": ("s.wav", audio)})
        assert again.status_code == 200


def _long_speech_wav(data_dir: Path, repeats: int) -> bytes:
    """jfk.wav repeated: speech throughout, so every Whisper window has words to decode."""
    with wave.open(str(data_dir / "jfk.wav")) as w:
        frames, rate = w.readframes(w.getnframes()), w.getframerate()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames * repeats)
    return buf.getvalue()


def _wait_health(url: str, key: str, value: int, timeout: float = 60) -> dict[str, Any]:
    """Poll `/health` until `key` equals `value`; return that reply."""
    deadline = time.monotonic() + timeout
    while True:
        health: dict[str, Any] = httpx.get(url + "/health").json()
        if health[key] == value:
            return health
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} is not {value} after {timeout} s: {health}")
        time.sleep(0.02)


def _wait_idle(url: str) -> dict[str, Any]:
    return _wait_health(url, "jobs_in_flight", 0)


def test_jobs_of_disconnected_clients_are_cancelled(data_dir: Path) -> None:
    """A client that gives up (cell interrupted, timeout) frees the engine for the next one.

    Two 2.75-minute files on one job slot: the first client leaves mid-decode, the second
    while still queued. Both jobs are cancelled instead of decoding for nobody, and the
    engine then serves the next request normally.
    """
    audio = _long_speech_wav(data_dir, 15)
    with serve(max_concurrent_jobs=1, max_queued_jobs=2) as handle:
        url = handle.url

        def give_up_after(seconds: float) -> None:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(
                    url + TRANSCRIBE,
                    files={"file": ("long.wav", audio)},
                    data={"response_format": "verbose_json"},
                    timeout=httpx.Timeout(30, read=seconds),
                )

        first = threading.Thread(target=give_up_after, args=(3.0,))
        first.start()
        _wait_health(url, "jobs_running", 1)
        give_up_after(1.0)  # queued behind the first, gone before its turn
        first.join(60)
        health = _wait_idle(url)
        assert health["jobs_cancelled"] == 2, health
        assert health["jobs_running"] == 0

        r = httpx.post(
            url + TRANSCRIBE,
            files={"file": ("jfk.wav", (data_dir / "jfk.wav").read_bytes())},
            timeout=60,
        )
        assert r.status_code == 200 and "country" in r.json()["text"]
        assert httpx.get(url + "/health").json()["jobs_cancelled"] == 2


def test_interrupted_client_call_cancels_the_engine_job(data_dir: Path) -> None:
    """Interrupting `transcribe()` (what a notebook's Stop button does) stops the decode too."""
    import asyncio

    from fw_asr_widgets import AsyncClient

    audio = _long_speech_wav(data_dir, 15)

    async def interrupt(url: str) -> None:
        async with AsyncClient(base_url=url) as client:
            task = asyncio.create_task(client.transcribe(audio))
            await asyncio.to_thread(_wait_health, url, "jobs_running", 1)
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    with serve(max_concurrent_jobs=1) as handle:
        asyncio.run(interrupt(handle.url))
        health = _wait_idle(handle.url)
        assert health["jobs_cancelled"] == 1, health


def test_ctrl_c_in_sync_transcribe_cancels_the_engine_job(data_dir: Path) -> None:
    """Ctrl-C (a notebook's interrupt) in the blocking `Client.transcribe()` stops the decode."""
    import _thread

    from fw_asr_widgets import Client

    audio = _long_speech_wav(data_dir, 15)
    with serve(max_concurrent_jobs=1) as handle, Client(base_url=handle.url) as client:

        def interrupt_when_running() -> None:
            _wait_health(handle.url, "jobs_running", 1)
            time.sleep(0.5)
            _thread.interrupt_main()  # SIGINT's effect: KeyboardInterrupt in the main thread

        t = threading.Thread(target=interrupt_when_running)
        t.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.transcribe(audio)
        finally:
            t.join(30)
        health = _wait_idle(handle.url)
        assert health["jobs_cancelled"] == 1, health
        assert "country" in client.transcribe(data_dir / "jfk.wav").text


def test_non_loopback_requires_key_and_loopback_detection() -> None:
    with pytest.raises(ValueError, match="API key"):
        serve(host="0.0.0.0")
    with pytest.raises(ValueError, match="empty"):
        serve(api_key="  ")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_handle_close_is_idempotent_and_shared_server_is_a_singleton() -> None:
    h = serve()
    assert h.url == f"http://127.0.0.1:{h.port}" and "running" in repr(h)
    h.close()
    h.close()
    assert h.closed
    with pytest.raises(httpx.HTTPError):
        httpx.get(h.url + "/health", timeout=2)
    a, b = shared_server(), shared_server()
    assert a is b and httpx.get(a.url + "/health").json()["status"] == "ok"


def test_key_never_in_settings_repr_or_logs() -> None:
    assert KEY not in repr(Settings(api_key=KEY))
    from fw_asr_widgets.local import _install_redaction

    _install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info(
            '%s - "WebSocket %s" [accepted]', "127.0.0.1:1", f"/x?model=a&Authorization={KEY}"
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    text = stream.getvalue()
    assert "WebSocket /x?model=a&Authorization=***" in text and KEY not in text


def _deleted_fds() -> int:
    import os

    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").endswith("(deleted)"):
                n += 1
        except OSError:
            pass
    return n


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_spooled_uploads_are_released(keyed: ServerHandle) -> None:
    """Uploads above 1 MB spool to a temp file; it is closed after the request (also on errors)."""
    with serve(max_upload_bytes=10_000_000) as handle:
        big = silence_wav(40.0)  # 1.28 MB: spooled to disk
        before = _deleted_fds()
        ok = httpx.post(handle.url + TRANSCRIBE, files={"file": ("s.wav", big)}, timeout=60)
        assert ok.status_code == 200
        bad = httpx.post(
            handle.url + TRANSCRIBE,
            files={"file": ("s.wav", b"\x01" * 1_500_000)},
            data={"temperature": "hot"},
        )
        assert bad.status_code == 400
        undecodable = httpx.post(
            handle.url + TRANSCRIBE, files={"file": ("s.mp3", b"\x01" * 1_500_000)}
        )
        assert error_of(undecodable, 400, "invalid_request_error").startswith(
            "could not decode the uploaded file 's.mp3' as audio: not a recognised"
        )
        assert _deleted_fds() <= before


def test_module_entry_point(tmp_path: Path) -> None:
    """`python -m fw_asr_widgets.local` refuses a public host without a key, serves with one."""
    import socket
    import subprocess
    import sys
    import time

    refused = subprocess.run(
        [sys.executable, "-m", "fw_asr_widgets.local", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "API key" in refused.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fw_asr_widgets.local", "--port", str(port), "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        r = httpx.post(url + TRANSCRIBE, files={"file": ("s.wav", silence_wav(0.2))})
        assert r.status_code == 401
        r = httpx.post(
            url + TRANSCRIBE + f"?Authorization={KEY}",
            files={"file": ("s.wav", silence_wav(0.2))},
            headers={"Authorization": KEY},
        )
        assert r.status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert KEY not in out
    assert "Authorization=***" in out
