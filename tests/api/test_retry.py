"""The retry policy: backoff maths, Retry-After, and retries over a MockTransport."""

from __future__ import annotations

import asyncio
import email.utils
import time
from pathlib import Path

import httpx
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.api._retry import RetryPolicy, is_retryable_status, parse_retry_after

BASE = "http://mock.test"


class Recorder:
    """A MockTransport handler answering from a script; records bodies and sleeps."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.script = list(responses)
        self.bodies: list[bytes] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return item

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def client(rec: Recorder, max_retries: int = 2) -> fw.AsyncClient:
    c = fw.AsyncClient(
        base_url=BASE,
        max_retries=max_retries,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(rec)),
    )
    c._retry = RetryPolicy(max_retries=max_retries, sleep=rec.sleep, random=lambda: 0.5)
    return c


OK = httpx.Response(200, json={"text": "ask not"})


def test_retryable_statuses() -> None:
    assert all(is_retryable_status(s) for s in (408, 409, 429, 500, 502, 503, 504))
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 413, 422, 501))


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after({"Retry-After": date}, now=now) <= 31  # type: ignore[operator]
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_full_jitter_capped() -> None:
    top = RetryPolicy(random=lambda: 1.0)
    assert [top.backoff(a) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert RetryPolicy(random=lambda: 0.0).backoff(3) == 0.0
    assert RetryPolicy().delay(0, {"Retry-After": "600"}) == 60.0
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


def test_429_with_retry_after_then_success(data_dir: Path) -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"message": "slow"}}),
        OK,
    )
    tr = asyncio.run(client(rec).transcribe(data_dir / "jfk.wav"))
    assert isinstance(tr, fw.Transcript) and tr.text == "ask not"
    assert len(rec.bodies) == 2
    assert rec.sleeps == [2.0]
    # The upload was re-sent in full from the start of the file.
    assert rec.bodies[0] == rec.bodies[1]
    assert len(rec.bodies[0]) > (data_dir / "jfk.wav").stat().st_size


def test_503_then_success_uses_jittered_backoff(data_dir: Path) -> None:
    rec = Recorder(httpx.Response(503, text="busy"), httpx.Response(502), OK)
    tr = asyncio.run(client(rec).transcribe((data_dir / "jfk.wav").read_bytes()))
    assert isinstance(tr, fw.Transcript) and tr.text == "ask not"
    assert len(rec.bodies) == 3
    assert rec.sleeps == [0.25, 0.5]  # random()=0.5 times 0.5 s, 1 s


def test_connection_error_then_success(data_dir: Path) -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), OK)
    with (data_dir / "jfk.wav").open("rb") as f:
        tr = asyncio.run(client(rec).transcribe(f))
    assert isinstance(tr, fw.Transcript)
    assert len(rec.bodies) == 3
    assert rec.bodies[0] == rec.bodies[2]


def test_gives_up_after_max_retries(data_dir: Path) -> None:
    rec = Recorder(
        httpx.Response(503, json={"detail": "overloaded"}, headers={"x-request-id": "r1"})
    )
    with pytest.raises(fw.ServerError) as info:
        asyncio.run(client(rec, max_retries=3).transcribe(data_dir / "jfk.wav"))
    assert len(rec.bodies) == 4
    assert info.value.status_code == 503
    assert info.value.message == "overloaded"
    assert info.value.request_id == "r1"


def test_timeouts_and_connection_errors_are_typed(data_dir: Path) -> None:
    rec = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(fw.APITimeoutError):
        asyncio.run(client(rec, max_retries=1).transcribe(data_dir / "jfk.wav"))
    assert len(rec.bodies) == 2
    rec = Recorder(httpx.ConnectError("refused"))
    with pytest.raises(fw.APIConnectionError) as info:
        asyncio.run(client(rec, max_retries=0).transcribe(data_dir / "jfk.wav"))
    assert not isinstance(info.value, fw.APITimeoutError)
    assert len(rec.bodies) == 1


def test_no_retry_on_client_errors(data_dir: Path) -> None:
    rec = Recorder(httpx.Response(400, json={"error": {"message": "bad field"}}))
    with pytest.raises(fw.BadRequestError, match="bad field"):
        asyncio.run(client(rec).transcribe(data_dir / "jfk.wav"))
    assert len(rec.bodies) == 1 and rec.sleeps == []


def test_rate_limit_error_carries_retry_after(data_dir: Path) -> None:
    rec = Recorder(httpx.Response(429, headers={"Retry-After": "7"}, text="slow down"))
    with pytest.raises(fw.RateLimitError) as info:
        asyncio.run(client(rec, max_retries=0).transcribe(data_dir / "jfk.wav"))
    assert info.value.retry_after == 7.0
    assert info.value.message == "slow down"


def test_with_options_per_call_retries(data_dir: Path) -> None:
    rec = Recorder(httpx.Response(500))
    base = client(rec, max_retries=0)
    more = base.with_options(max_retries=2, timeout=5)
    assert (more.max_retries, more.timeout, base.max_retries) == (2, 5.0, 0)
    with pytest.raises(fw.ServerError):
        asyncio.run(more.transcribe(data_dir / "jfk.wav"))
    assert len(rec.bodies) == 3
    assert rec.sleeps == [0.25, 0.5]  # the injected sleep is kept by with_options
