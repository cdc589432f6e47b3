"""The live Recorder in a real browser: JupyterLab 4 and Notebook 7, jfk.wav as the microphone."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import jiwer
import pytest

from tests.conftest import JFK_REFERENCE

pytestmark = pytest.mark.browser

RECORDER_CELLS = [
    "from fw_asr_widgets.widgets import Recorder\nrecorder = Recorder()\nrecorder",
]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower())).strip()


def wer(hyp: str) -> float:
    return float(jiwer.wer(_norm(JFK_REFERENCE), _norm(hyp)))


def test_recorder_live_transcript_jupyterlab(
    new_page: Callable[..., object], open_notebook: Callable[..., object], data_dir: Path
) -> None:
    page = new_page(data_dir / "jfk.wav")  # played once (%noloop), 11 s
    nb = open_notebook(page, RECORDER_CELLS)
    box = page.locator(".fw-recorder")
    box.wait_for()
    assert "Press Start" in box.locator(".fw-rec-status").inner_text()

    box.locator(".fw-rec-toggle").click()
    clicked = time.monotonic()
    nb.wait_kernel("recorder.recording", lambda v: v is True, timeout=20)

    # The live transcript shows up in the page while recording.
    page.wait_for_function(
        "() => /country/i.test(document.querySelector('.fw-rec-transcript').innerText)",
        timeout=25_000,
    )
    live_text = box.locator(".fw-rec-transcript").inner_text()
    nb.screenshot("recorder-lab-live")
    assert box.locator(".fw-rec-toggle").inner_text().endswith("Stop")

    time.sleep(max(0.0, 12.0 - (time.monotonic() - clicked)))
    box.locator(".fw-rec-toggle").click()
    nb.wait_kernel("recorder._take.done.is_set()", lambda v: v is True, timeout=60)
    state = nb.kernel_json(
        "{'text': recorder.transcript.text, 'status': recorder.status, 'error': recorder.error,"
        " 'peak': float(abs(recorder.audio).max()), 'seconds': recorder.audio.size / 16000,"
        " 'gaps': recorder.gaps, 'recording': recorder.recording,"
        " 'rows': len(recorder.to_pandas())}"
    )
    page.wait_for_function(
        "() => /^Done/.test(document.querySelector('.fw-rec-status').innerText)", timeout=10_000
    )
    page_text = box.locator(".fw-rec-transcript").inner_text()
    nb.screenshot("recorder-lab-final")

    assert state["error"] == ""
    assert state["recording"] is False
    assert state["peak"] > 0.05, "the fake microphone delivered silence"
    assert 10.0 <= state["seconds"] <= 14.0
    assert state["gaps"] == []
    assert state["rows"] >= 1
    assert wer(state["text"]) <= 0.25, state["text"]
    assert wer(page_text) <= 0.25, page_text
    assert wer(live_text) < 1.0
    assert box.locator(".fw-seg.fw-partial").count() == 0
    assert box.locator(".fw-seg.fw-final").count() >= 1


def test_recorder_notebook7_smoke(
    new_page: Callable[..., object],
    open_notebook: Callable[..., object],
    notebook7_server: object,
    data_dir: Path,
) -> None:
    page = new_page(data_dir / "jfk.wav")
    nb = open_notebook(page, RECORDER_CELLS, server=notebook7_server)
    box = page.locator(".fw-recorder")
    box.wait_for()
    box.locator(".fw-rec-toggle").click()
    nb.wait_kernel("recorder.elapsed", lambda v: v >= 2.0, timeout=30)
    assert page.locator(".fw-rec-meter-fill").evaluate("e => parseFloat(e.style.width)") > 0
    nb.screenshot("recorder-notebook7")
    box.locator(".fw-rec-toggle").click()
    nb.wait_kernel("recorder._take.done.is_set()", lambda v: v is True, timeout=60)
    assert nb.kernel_json("float(abs(recorder.audio).max())") > 0.05
    assert nb.kernel_json("recorder.error") == ""

    # A front end without mediaDevices (as in VS Code) says so and points to the Uploader.
    page.evaluate("Object.defineProperty(navigator, 'mediaDevices', {value: undefined})")
    box.locator(".fw-rec-toggle").click()
    page.wait_for_function(
        "() => /Uploader/.test(document.querySelector('.fw-rec-status').innerText)",
        timeout=10_000,
    )
    err = nb.wait_kernel("recorder.error", lambda v: "Uploader" in v, timeout=20)
    assert "microphone" in err
