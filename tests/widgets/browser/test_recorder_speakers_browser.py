"""The Recorder with live speaker labels in real Chromium: the phone call as the microphone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fw_asr_widgets._palette import PALETTE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "from fw_asr_widgets.widgets import Recorder\nrecorder = Recorder(speakers=True)\nrecorder",
]

# Each labelled segment's speaker and its underline colour as the page shows them.
SHOWN_JS = """() => [...document.querySelectorAll('.fw-rec-transcript .fw-has-speaker')].map(
  (s) => [s.dataset.id, s.dataset.speaker, getComputedStyle(s).borderBottomColor])"""


def _rgb(hex_color: str) -> str:
    h = hex_color.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def test_recorder_shows_live_speaker_colours(
    new_page: Callable[..., object], open_notebook: Callable[..., object], data_dir: Path
) -> None:
    page = new_page(data_dir / "two_speakers.wav")  # played once, 30 s
    nb = open_notebook(page, CELLS)
    box = page.locator(".fw-recorder")
    box.wait_for()
    box.locator(".fw-rec-toggle").click()
    nb.wait_kernel("recorder.recording", lambda v: v is True, timeout=20)
    # Two speakers, in two palette colours, while the take is still recording.
    page.wait_for_function(
        "() => new Set([...document.querySelectorAll('.fw-rec-transcript .fw-has-speaker')]"
        ".map((s) => s.dataset.speaker)).size >= 2",
        timeout=45_000,
    )
    live = page.evaluate(SHOWN_JS)
    nb.screenshot("recorder-speakers-live")
    assert box.locator(".fw-rec-toggle").inner_text().endswith("Stop")
    colours = {spk: col for _, spk, col in live}
    assert len(colours) >= 2
    assert set(colours.values()) <= {_rgb(c) for c in PALETTE}
    assert len(set(colours.values())) == len(colours)  # one colour per speaker
    box.locator(".fw-rec-toggle").click()
    nb.wait_kernel("recorder._take.done.is_set()", lambda v: v is True, timeout=90)
    state = nb.kernel_json(
        "{'segs': [[str(s.id), s.speaker] for s in recorder.transcript.segments],"
        " 'words': [w.speaker for w in recorder.transcript.words],"
        " 'speakers': recorder.transcript.speakers}"
    )
    assert len(state["speakers"]) >= 2
    assert all(w is not None for w in state["words"])
    # What the page showed live is what the transcript carries.
    final = dict(state["segs"])
    for sid, spk, _ in live:
        assert final.get(sid) == spk
    # The colours follow the transcript's order of first appearance (the Python palette).
    shown = page.evaluate(SHOWN_JS)
    for _, spk, col in shown:
        assert col == _rgb(PALETTE[state["speakers"].index(spk) % len(PALETTE)])
