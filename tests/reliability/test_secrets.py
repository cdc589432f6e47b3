"""The API key never shows: not in reprs, log records of any level, exception text, widget
state or a saved notebook.

One keyed embedded server per module; the client takes the key from `FIREWORKS_API_KEY`
or as an argument. Log records are captured at DEBUG from every logger (ours, httpx,
httpcore, uvicorn, websockets) during a transcription and a streaming session.
"""

from __future__ import annotations

import asyncio
import json
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
from tests._logs import Records, attached

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


class Capture(Records):
    """Keeps every record's formatted message and raw msg/args, whatever its level."""

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
    try:
        with attached(handler, ""):
            yield handler
    finally:
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


NOTEBOOK = [
    """
    import logging, os, time
    logging.basicConfig(level=logging.DEBUG, force=True)  # every logger, into the outputs
    import fw_asr_widgets as fw
    from fw_asr_widgets.local import serve
    from fw_asr_widgets.widgets import Recorder, Timeline, TranscriptViewer, Uploader, app
    from fw_asr_widgets.widgets.uploader import SLICE_BYTES
    JFK = {jfk!r}
    server = serve(api_key=os.environ["FIREWORKS_API_KEY"])
    client = fw.Client(base_url=server.url)  # the key comes from FIREWORKS_API_KEY
    print(client, server, client._config)
    client
    """,
    "tr = client.transcribe(JFK)\ntr",
    "tr.to_pandas()",
    "viewer = TranscriptViewer(tr, audio=JFK)\nviewer",
    "Timeline(tr, viewer=viewer)",
    """
    import wave
    with wave.open(JFK) as w:
        pcm = w.readframes(w.getnframes())
    rec = Recorder(client=client)
    display(rec)
    rec._handle_custom_msg({{"type": "start", "session": "s", "device_rate": 16000, "chunk_ms": 100}}, [])
    chunks = [pcm[i : i + 3200] for i in range(0, len(pcm), 3200)]
    for seq, c in enumerate(chunks):
        rec._handle_custom_msg({{"type": "audio", "session": "s", "seq": seq, "sample_rate": 16000}}, [memoryview(c)])
    rec._handle_custom_msg({{"type": "stop", "session": "s", "last_seq": len(chunks) - 1}}, [])
    rec.wait(120)
    """,
    """
    data = open(JFK, "rb").read()
    up = Uploader(client=client)
    display(up)
    for i in range(0, len(data), SLICE_BYTES):
        up._on_msg(up, {{"type": "slice", "file_id": "f", "index": i // SLICE_BYTES, "name": "jfk.wav",
                        "final": i + SLICE_BYTES >= len(data), "size": len(data)}}, [data[i : i + SLICE_BYTES]])
    up.wait(120)
    up.to_pandas()
    """,
    "panel = app(client=client)\npanel",
    """
    wrong = fw.Client(os.environ["FIREWORKS_API_KEY"] + "x", base_url=server.url)
    try:
        wrong.transcribe(JFK)
    except fw.AuthenticationError as exc:
        print(repr(exc), exc)
    wrong.stream_file(JFK, speed=None)  # raises: its traceback is saved in the notebook
    """,
]


def test_saved_notebook_with_every_widget_never_holds_the_key(
    data_dir: Path, tmp_path: Path
) -> None:
    import os
    import textwrap

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    for src in NOTEBOOK:
        nb.cells.append(
            nbformat.v4.new_code_cell(
                textwrap.dedent(src).strip().format(jfk=str(data_dir / "jfk.wav"))
            )
        )
    nb.cells[-1].metadata["tags"] = ["raises-exception"]
    NotebookClient(nb, timeout=240, kernel_name="python3", store_widget_state=True).execute(
        env={**os.environ, "FIREWORKS_API_KEY": KEY, "FW_ASR_QUIET": "1"}
    )
    path = tmp_path / "shared.ipynb"
    nbformat.write(nb, str(path))
    text = path.read_text(encoding="utf-8")

    # The notebook really did the work, and saved the widgets' state.
    assert "fellow Americans" in text and "DEBUG:httpcore" in text
    assert "DEBUG:websockets.client:> Authorization: ***" in text
    assert nb.cells[-1].outputs[-1].output_type == "error"
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {m["state"].get("_model_name") for m in state.values()}
    assert "AnyModel" in models and len(state) >= 6, models
    # ... and the key is nowhere in it.
    assert KEY not in text
    assert KEY not in json.dumps(state)
