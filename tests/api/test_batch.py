"""`transcribe_many`: results as they complete, bounded concurrency, per-file errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.api import BatchResult


def test_sync_batch_against_the_engine(
    local_server: Any, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEfmt " + b"\x00" * 64)
    english = shared_data / "english.wav"
    files = [english, corrupt, tmp_path / "missing.flac", english.read_bytes()]
    with fw.Client(base_url=local_server.url) as client:
        results = list(client.transcribe_many(files, concurrency=2, response_format="json"))
    assert sorted(r.index for r in results) == [0, 1, 2, 3]
    by_index = {r.index: r for r in results}
    for i in (0, 3):
        r = by_index[i]
        assert r.ok and isinstance(r.transcript, fw.Transcript)
        assert "two" in r.transcript.text.lower() or "2" in r.transcript.text
        assert r.transcript.source == r.source
    assert by_index[0].source == str(english)
    assert by_index[3].source == "<bytes #3>"
    assert isinstance(by_index[1].error, fw.AudioDecodeError)
    assert "corrupt.wav" in str(by_index[1].error)
    assert isinstance(by_index[2].error, FileNotFoundError)
    assert not by_index[1].ok and by_index[1].transcript is None
    err = capsys.readouterr().err
    assert "4/4" in err and "failed=2" in err  # the tqdm bar


class SlowServer:
    """An async MockTransport handler that tracks how many requests are in flight."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.count = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.active += 1
        self.count += 1
        self.peak = max(self.peak, self.active)
        # Hold each request until three are in flight (or 2 s pass), so a busy machine
        # cannot hide the overlap; a client exceeding its bound would still show peak > 3.
        for _ in range(400):
            if self.active >= 3:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)
        self.active -= 1
        if b"fail-me" in request.content:
            return httpx.Response(400, json={"error": {"message": "no"}})
        return httpx.Response(200, json={"text": f"ok {self.count}"})


def test_async_batch_bounds_concurrency(shared_data: Path) -> None:
    server = SlowServer()
    wav = (shared_data / "english.wav").read_bytes()
    files = [wav] * 9

    async def main() -> list[BatchResult]:
        async with fw.AsyncClient(
            base_url="http://mock.test",
            max_retries=0,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        ) as client:
            return [
                r
                async for r in client.transcribe_many(
                    files, concurrency=3, progress=False, prompt="hello"
                )
            ]

    results = asyncio.run(main())
    assert len(results) == 9 and all(r.ok for r in results)
    assert server.peak == 3
    assert sorted(r.index for r in results) == list(range(9))


def test_server_errors_do_not_stop_the_batch(shared_data: Path) -> None:
    server = SlowServer()
    wav = (shared_data / "english.wav").read_bytes()
    client = fw.Client(
        base_url="http://mock.test",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
    )
    results = list(
        client.transcribe_many([wav, wav], progress=False, extra_fields={"tag": "fail-me"})
    )
    assert [type(r.error) for r in results] == [fw.BadRequestError] * 2


def test_bad_arguments_raise_before_anything_starts() -> None:
    client = fw.Client(base_url="http://127.0.0.1:9")
    with pytest.raises(ValueError, match="allowed values"):
        client.transcribe_many(["a.wav"], response_format="xml")
    with pytest.raises(TypeError, match="colour"):
        client.transcribe_many(["a.wav"], colour="red")
    with pytest.raises(ValueError, match="concurrency"):
        client.transcribe_many(["a.wav"], concurrency=0)


def test_leaving_early_cancels_the_rest(shared_data: Path) -> None:
    server = SlowServer()
    wav = (shared_data / "english.wav").read_bytes()
    client = fw.Client(
        base_url="http://mock.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
    )
    gen = client.transcribe_many([wav] * 20, concurrency=2, progress=False)
    first = next(gen)
    gen.close()
    assert first.ok
    assert server.count < 20


def test_translate_many_against_the_engine(
    local_server: Any, shared_data: Path, tmp_path: Path
) -> None:
    english = shared_data / "english.wav"
    missing = tmp_path / "missing.flac"
    with fw.Client(base_url=local_server.url) as client:
        results = list(client.translate_many([english, missing], concurrency=2, progress=False))
    by_index = {r.index: r for r in results}
    assert sorted(by_index) == [0, 1]
    assert by_index[0].ok and isinstance(by_index[0].transcript, fw.Transcript)
    assert by_index[0].transcript.text.strip() and by_index[0].source == str(english)
    assert isinstance(by_index[1].error, FileNotFoundError)
    # translate's own options are checked up front: diarize is transcribe-only
    with pytest.raises(TypeError, match="translate_many.*diarize"):
        client.translate_many([english], diarize=True)


def test_submit_returns_a_cancellable_future(shared_data: Path) -> None:
    server = SlowServer()
    wav = (shared_data / "english.wav").read_bytes()
    client = fw.Client(
        base_url="http://mock.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
    )
    fut = client._submit("transcribe", wav, response_format="json")
    assert isinstance(fut.result(timeout=30), fw.Transcript)
    slow = client._submit("transcribe", wav, response_format="json")
    slow.cancel()
    assert slow.cancelled()
