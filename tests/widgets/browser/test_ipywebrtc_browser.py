"""ipywebrtc (optional extra `webrtc`) in JupyterLab + headless Chromium: record with its
`AudioRecorder` from the fake microphone playing jfk.wav, transcribe the recording with the
embedded engine, and play it back in `TranscriptViewer`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipywebrtc")

RECORDER_CELL = """
from ipywebrtc import AudioRecorder, CameraStream
cam = CameraStream(constraints={"audio": True, "video": False})
rec = AudioRecorder(stream=cam)
rec
"""

# Words of the first ~7 s of jfk.wav ("And so my fellow Americans, ask not what your country…"),
# as stems: the tiny model on a live (echo-cancelled, Opus) capture may say "American".
OPENING_STEMS = ("fellow", "american", "ask", "not", "country")

# The recorder view: `.widget-play` holds [record, download] buttons, then an <audio> result.
RECORD_BUTTON = ".jp-OutputArea-output .widget-play button.jupyter-button"


def test_ipywebrtc_recording_is_transcribed_and_played(
    new_page: Any, open_notebook: Any, data_dir: Path
) -> None:
    page = new_page(data_dir / "jfk.wav")
    console: list[str] = []
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    nb = open_notebook(page, [RECORDER_CELL])
    out = nb.cell(0)
    record = out.locator(RECORD_BUTTON).first
    try:
        record.wait_for(timeout=20_000)
    except Exception as e:  # the front end did not render: show the cell and the console
        problems = [c for c in console if c.startswith(("[error]", "[warning]", "[pageerror]"))]
        raise AssertionError(
            f"ipywebrtc's AudioRecorder did not render.\ncell output: {nb.output_text(0)!r}\n"
            f"console: {problems}"
        ) from e
    assert out.locator(".widget-play button.jupyter-button").count() == 2  # record, download
    assert out.locator(".jp-OutputArea-output audio").count() == 1
    assert nb.kernel_json("len(rec.audio.value)") == 0

    record.click()  # a real user gesture starts MediaRecorder on the microphone stream
    # The recording is on once the icon turns red (the model's `recording` flag is set).
    page.wait_for_function(
        "(sel) => { const i = document.querySelector(sel + ' i');"
        " return i && i.style.color === 'darkred'; }",
        arg=RECORD_BUTTON,
    )
    time.sleep(7.0)  # ~7 s of jfk.wav plays into the recorder
    record.click()
    size = nb.wait_kernel("len(rec.audio.value)", lambda n: n > 0, timeout=30)
    assert size > 10_000  # ~7 s of WebM/Opus at 128 kb/s, not a header alone
    head = nb.kernel_json("rec.audio.value[:4].hex()")
    assert head == "1a45dfa3"  # EBML magic: MediaRecorder's WebM
    # ipywebrtc shows the recording in its own <audio> element as well
    page.wait_for_function(
        "(sel) => { const a = document.querySelector(sel);"
        " return a && a.src.startsWith('blob:'); }",
        arg=".jp-OutputArea-output .widget-play + audio",
    )

    i = nb.append_cell(
        "import fw_asr_widgets as fw\ntr = fw.Client().transcribe(rec)\nprint(tr.text)",
        timeout=90,
    )
    text = nb.kernel_json("tr.text")
    assert isinstance(text, str)
    assert text.strip() in nb.output_text(i)
    words = re.findall(r"[a-z]+", text.lower())
    hits = {stem for stem in OPENING_STEMS if any(w.startswith(stem) for w in words)}
    assert len(hits) >= 3, f"transcript {text!r} has only {sorted(hits)} of the opening words"
    duration = nb.kernel_json("tr.duration")
    assert 5.0 < duration < 10.0  # ~7 s recorded, not the whole 11 s file

    j = nb.append_cell("v = fw.TranscriptViewer(tr, audio=rec)\nv", timeout=60)
    viewer = nb.cell(j).locator(".fwv")
    viewer.locator(".fwv-row").first.wait_for()
    page.wait_for_function(
        "(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];"
        " const a = c && c.querySelector('.fwv audio');"
        " return a && a.src !== '' && a.readyState >= 1 && a.duration > 0; }",
        arg=j,
        timeout=30_000,
    )
    player = nb.cell(j).locator(".fwv audio")
    assert player.evaluate("a => a.src").startswith("blob:")
    played = float(player.evaluate("a => a.duration"))
    assert abs(played - duration) < 0.5  # the player holds this very recording
    assert nb.cell(j).locator(".fwv").evaluate("e => e.dataset.audioMime").startswith("audio/")
    nb.screenshot("ipywebrtc-recorded-transcribed")
