"""Notebook faults in a real kernel (nbclient): a kernel interrupt while a `Recorder` records,
while an `Uploader` transcribes and while `Client.transcribe` waits; a re-displayed recorder.

The kernel runs its own embedded engine and a loopback server that accepts and never
answers (so an upload is surely in flight when the interrupt lands). Audio reaches the
recorder through its message handler, from the kernel itself. Interrupts come from
nbclient's `interrupt_on_timeout` on cells that would otherwise run forever. After each
`close()`, the kernel reports its stream threads and its established client sockets.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
INTERRUPT_AFTER = 4  # seconds a forever-cell runs before nbclient interrupts the kernel

SETUP = """
import json, os, socket, threading, time, wave
import psutil
import fw_asr_widgets as fw
from fw_asr_widgets.local import serve
from fw_asr_widgets.widgets import Recorder, Uploader
from fw_asr_widgets.widgets.uploader import SLICE_BYTES

server = serve()
with wave.open({jfk!r}) as w:
    PCM = w.readframes(w.getnframes())
JFK = open({jfk!r}, "rb").read()

stall = socket.create_server(("127.0.0.1", 0))
STALL = stall.getsockname()[1]
held = []
def _accept():
    while True:
        try:
            held.append(stall.accept()[0])  # read nothing, answer nothing
        except OSError:
            return
threading.Thread(target=_accept, daemon=True).start()

def client_sockets(port):
    return [c for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED]

def stream_threads():
    return sorted(t.name for t in threading.enumerate() if t.is_alive()
                  and t.name.startswith(("fw-recorder", "fw-asr-client-stream", "fw-asr-up")))

def settle(check, seconds=15):
    end = time.monotonic() + seconds
    while check() and time.monotonic() < end:
        time.sleep(0.05)
    return check()

def report(**kw):
    print("RESULT " + json.dumps(kw))
"""

RECORD_FOREVER = """
rec = Recorder(client=fw.Client(base_url=server.url))
display(rec)
display(rec)  # a second view of the same widget
rec._handle_custom_msg({"type": "start", "session": "a", "device_rate": 48000, "chunk_ms": 100}, [])
rec._handle_custom_msg({"type": "start", "session": "b", "device_rate": 48000, "chunk_ms": 100}, [])
seq = 0
while True:
    for i in range(0, len(PCM), 3200):
        msg = {"type": "audio", "session": "a", "seq": seq, "sample_rate": 16000}
        rec._handle_custom_msg(msg, [memoryview(PCM[i : i + 3200])])
        seq += 1
        time.sleep(0.05)
"""

AFTER_RECORD = """
during = {"recording": rec.recording, "threads": stream_threads(),
          "sockets": len(client_sockets(server.port)), "chunks": seq}
rec.close()
settle(lambda: stream_threads() or client_sockets(server.port))
report(during=during, threads=stream_threads(), sockets=len(client_sockets(server.port)),
       text=rec.transcript.text, recording=rec.recording)
"""

UPLOAD_FOREVER = """
up = Uploader(client=fw.Client(base_url=f"http://127.0.0.1:{STALL}", max_retries=0))
display(up)
for i in range(0, len(JFK), SLICE_BYTES):
    up._on_msg(up, {"type": "slice", "file_id": "f1", "index": i // SLICE_BYTES,
                    "final": i + SLICE_BYTES >= len(JFK), "name": "jfk.wav",
                    "size": len(JFK)}, [JFK[i : i + SLICE_BYTES]])
up.wait()
"""

AFTER_UPLOAD = """
settle(lambda: not client_sockets(STALL), 10)  # the upload reached the server
during = {"sockets": len(client_sockets(STALL)), "rows": [r["state"] for r in up.files]}
up.close()
settle(lambda: client_sockets(STALL) or [t for t in stream_threads() if t.startswith("fw-asr-up")])
report(during=during, threads=stream_threads(), sockets=len(client_sockets(STALL)))
"""

TRANSCRIBE_FOREVER = """
c2 = fw.Client(base_url=f"http://127.0.0.1:{STALL}", max_retries=0)
c2.transcribe(JFK)
"""

AFTER_TRANSCRIBE = """
settle(lambda: client_sockets(STALL), 10)
report(sockets=len(client_sockets(STALL)), threads=stream_threads())
c2.close()
server.close()
"""


def _cell(src: str, *, interrupt: bool = False) -> Any:
    cell = nbformat.v4.new_code_cell(textwrap.dedent(src))
    if interrupt:
        cell.metadata["tags"] = ["raises-exception", "interrupt"]
    return cell


def _result(cell: Any) -> dict[str, Any]:
    for out in cell.outputs:
        if out.output_type == "stream":
            for line in out.text.splitlines():
                if line.startswith("RESULT "):
                    return json.loads(line[len("RESULT ") :])
    raise AssertionError(f"no RESULT in {cell.outputs}")


def _error_name(cell: Any) -> str | None:
    return next((o.ename for o in cell.outputs if o.output_type == "error"), None)


@pytest.fixture(scope="module")
def executed(data_dir: Path) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell(SETUP.format(jfk=str(data_dir / "jfk.wav"))),
        _cell(RECORD_FOREVER, interrupt=True),
        _cell(AFTER_RECORD),
        _cell(UPLOAD_FOREVER, interrupt=True),
        _cell(AFTER_UPLOAD),
        _cell(TRANSCRIBE_FOREVER, interrupt=True),
        _cell(AFTER_TRANSCRIBE),
    ]

    def timeout_for(cell: Any) -> int:
        return INTERRUPT_AFTER if "interrupt" in cell.metadata.get("tags", []) else 180

    env = {k: v for k, v in os.environ.items() if k != "FIREWORKS_API_KEY"}
    NotebookClient(
        nb,
        timeout_func=timeout_for,
        interrupt_on_timeout=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    ).execute(env={**env, "FW_ASR_QUIET": "1"})
    return nb


def test_interrupt_while_recording_then_close_leaves_nothing_running(executed: Any) -> None:
    assert _error_name(executed.cells[1]) == "KeyboardInterrupt"
    r = _result(executed.cells[2])
    during = r["during"]
    assert during["chunks"] > 0 and during["recording"]
    # Two views, two "start"s: one stream (the second session is refused as busy).
    assert during["threads"].count("fw-asr-client-stream-session") == 1
    assert during["sockets"] == 1
    assert r["threads"] == [] and r["sockets"] == 0
    assert not r["recording"]
    assert "fellow americans" in r["text"].lower()  # the transcript so far is kept


def test_interrupt_while_uploading_then_close_leaves_nothing_running(executed: Any) -> None:
    assert _error_name(executed.cells[3]) == "KeyboardInterrupt"
    r = _result(executed.cells[4])
    assert r["during"]["sockets"] == 1  # the upload was in flight
    assert r["sockets"] == 0
    assert not [t for t in r["threads"] if t.startswith("fw-asr-up")]


def test_interrupt_while_transcribing_closes_the_request(executed: Any) -> None:
    assert _error_name(executed.cells[5]) == "KeyboardInterrupt"
    r = _result(executed.cells[6])
    assert r["sockets"] == 0 and r["threads"] == []
