"""The API key never shows: not in reprs, log records of any level, exception text, widget
state or a saved notebook.

One keyed embedded server per module; the client takes the key from `FIREWORKS_API_KEY`
or as an argument. Log records are captured at DEBUG from every logger (ours, httpx,
httpcore, uvicorn, websockets) during a transcription and a streaming session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.api._config import ClientConfig
from fw_asr_widgets.api.streaming import open_async_stream, open_sync_stream
from fw_asr_widgets.local import ServerHandle, serve
from fw_asr_widgets.local.server import Settings

KEY = "fw-SECRET-7c1f3e9a5b2d4f60"
LOGGERS = (
    "",
    "fw_asr_widgets",
    "httpx",
    "httpcore",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "websockets",
    "websockets.client",
    "websockets.server",
)


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerHandle]:
    with serve(api_key=KEY) as handle:
        yield handle


class Capture(logging.Handler):
    """Keeps every record's formatted message and raw msg/args, whatever its level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        out = []
        for r in self.records:
            try:
                msg = r.getMessage()
            except Exception:
                msg = repr(r.msg)
            out.append(f"{r.name} {msg} {r.msg!r} {r.args!r} {r.exc_text or ''}")
        return out


@pytest.fixture()
def capture() -> Iterator[Capture]:
    handler = Capture()
    saved = {}
    for name in LOGGERS:
        lg = logging.getLogger(name)
        saved[name] = lg.level
        lg.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_reprs_never_show_the_key(keyed: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    objects: list[Any] = [
        fw.Client(KEY, base_url=keyed.url),
        fw.AsyncClient(KEY, base_url=keyed.url),
        ClientConfig.resolve(KEY, keyed.url),
        Settings(api_key=KEY),
        keyed,
        open_sync_stream(ClientConfig.resolve(KEY, keyed.url)),
        open_async_stream(ClientConfig.resolve(KEY, keyed.url)),
    ]
    monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
    objects += [fw.Client(base_url=keyed.url), ClientConfig.resolve(base_url=keyed.url)]
    for obj in objects:
        for text in (repr(obj), str(obj), f"{obj!r:>10}"):
            assert KEY not in text, type(obj).__name__
    assert "***" in repr(objects[0]) and "***" in repr(objects[-1])


def test_logs_and_errors_never_show_the_key(
    keyed: ServerHandle, capture: Capture, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jfk = data_dir / "jfk.wav"
    monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
    with fw.Client(base_url=keyed.url) as client:
        tr = client.transcribe(jfk)
        assert "fellow americans" in tr.text.lower()
        streamed = client.stream_file(jfk, speed=None)
        assert "country" in streamed.text.lower()

    async def async_session() -> str:
        async with fw.AsyncClient(KEY, base_url=keyed.url) as ac:
            return (await ac.transcribe(jfk, response_format="text")).strip()  # type: ignore[union-attr]

    assert "country" in asyncio.run(async_session()).lower()
    # Wrong keys: the server's refusals, over HTTP and WebSocket, as exceptions.
    errors: list[BaseException] = []
    for bad in (KEY + "x", KEY[:-1]):
        with fw.Client(bad, base_url=keyed.url) as client:
            with pytest.raises(fw.AuthenticationError) as info:
                client.transcribe(jfk)
            errors.append(info.value)
            with pytest.raises(fw.APIError) as info2:
                client.stream_file(jfk, speed=None)
            errors.append(info2.value)
    texts = capture.texts()
    names = {r.name.split(".")[0] for r in capture.records}
    assert {"httpx", "httpcore", "websockets"} <= names, names  # DEBUG really was captured
    leaks = [t for t in texts if KEY in t or KEY[:-1] in t]
    assert leaks == []
    for err in errors:
        for text in (str(err), repr(err), repr(getattr(err, "body", None)), repr(err.args)):
            assert KEY[:-1] not in text
