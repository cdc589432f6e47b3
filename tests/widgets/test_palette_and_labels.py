"""One palette in one place; model labels that do not mislead; upload errors without temp
paths (issue 14, points 5, 6 and 11; the browser side is in browser/test_first_contact_browser)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import fw_asr_widgets
from fw_asr_widgets import _palette
from fw_asr_widgets._page import render_html_page
from fw_asr_widgets.api.client import Client
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.transcript.display import to_html
from fw_asr_widgets.widgets import Timeline, TranscriptViewer
from fw_asr_widgets.widgets._base import planned_model_label, served_model_label
from fw_asr_widgets.widgets.uploader import _scrub_paths, _Upload

PKG = Path(fw_asr_widgets.__file__).parent


def _three_speakers() -> Transcript:
    segs = [
        {"id": i, "start": i, "end": i + 0.9, "text": f"line {i}", "speaker_id": f"S{i % 3}"}
        for i in range(6)
    ]
    return Transcript.from_response({"text": "", "segments": segs})


def test_palette_module_is_a_bottom_layer() -> None:
    tree = ast.parse((PKG / "_palette.py").read_text())
    imported = [
        (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    ]
    assert not [m for m in imported if m.startswith("fw_asr_widgets") or m == ""], imported


def test_no_other_copy_of_the_palette() -> None:
    # Only _palette.py spells out the colours; the JS files read them from the traits.
    hexes = set(_palette.PALETTE) | {_palette.NO_SPEAKER_COLOR}
    for path in [*PKG.rglob("*.py"), *PKG.rglob("*.js")]:
        if path.name == "_palette.py":
            continue
        text = path.read_text(errors="replace").upper()
        found = [h for h in hexes if h.upper() in text]
        assert not found, f"{path.relative_to(PKG)} has its own copy of {found}"
    for js in ("viewer.js", "timeline.js"):
        assert "PALETTE = [" not in (PKG / "widgets" / js).read_text()


def test_page_repr_and_widgets_give_a_speaker_the_same_colour() -> None:
    tr = _three_speakers()
    want = _palette.speaker_colors(tr.speakers)
    page = render_html_page(tr)
    for spk, colour in want.items():
        assert re.search(rf'<span class="spk" style="color:{colour}">{spk}</span>', page)
        assert f"color:{colour};font-weight:600" in to_html(tr)
    v = TranscriptViewer(tr)
    tl = Timeline(tr, viewer=v)
    assert v.palette == tl.palette == list(_palette.PALETTE)
    assert v.no_speaker_color == tl.no_speaker_color == _palette.NO_SPEAKER_COLOR
    # the page colours speaker i with palette[i]: the order the widgets use
    assert v.speakers == list(want)
    assert "palette" in v.get_state() and "palette" in tl.get_state()
    v.close()
    tl.close()


def test_page_says_a_click_plays() -> None:
    page = render_html_page(_three_speakers())
    assert 'title="Click to play from here"' in page and "a.play()" in page


def test_planned_labels_do_not_name_an_unused_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    embedded = Client()
    assert embedded.uses_embedded_engine
    assert planned_model_label(embedded, "whisper-v3", "en") == "embedded engine (Whisper tiny.en)"
    assert (
        planned_model_label(embedded, "whisper-v3", "fr", streaming=True)
        == "embedded engine (Whisper tiny.en)"
    )
    assert (
        planned_model_label(embedded, "whisper-v3", "fr") == "embedded engine (Whisper base) · fr"
    )
    auto = planned_model_label(embedded, "whisper-v3", None)
    assert auto.startswith("embedded engine (Whisper tiny.en") and "whisper-v3" not in auto
    fireworks = Client(api_key="fw-not-a-real-key-000")
    assert planned_model_label(fireworks, "whisper-v3", "en") == "Fireworks whisper-v3 · en"
    other = Client(base_url="http://127.0.0.1:9/")
    assert planned_model_label(other, "whisper-v3-turbo", None) == "whisper-v3-turbo at 127.0.0.1:9"
    for c in (embedded, fireworks, other):
        c.close()


def test_served_label_comes_from_the_engine_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    embedded = Client()
    reported = Transcript.from_response({"text": "hi", "x-fw-asr-local-model": "base"})
    assert served_model_label(embedded, "whisper-v3", reported) == "embedded engine (Whisper base)"
    fireworks = Client(api_key="fw-not-a-real-key-000")
    plain = Transcript.from_response({"text": "hi"})
    assert served_model_label(fireworks, "whisper-v3", plain) == "Fireworks whisper-v3"
    embedded.close()
    fireworks.close()


@pytest.mark.parametrize(
    "message",
    [
        "{path}: not a recognised audio file (InvalidDataError: [Errno 1094995529] "
        "Invalid data found when processing input: '{path}')",
        "the server could not decode {name_on_disk} [Errno 5] at {tmp}",
    ],
)
def test_upload_errors_lose_temp_paths_and_errno(message: str, tmp_path: Path) -> None:
    tmp = tmp_path / "fw-asr-upload-abc"
    path = tmp / "up-xyz.wav"
    rec = _Upload(id="1", name="My talk.wav", size=10, path=path)
    text = _scrub_paths(message.format(path=path, name_on_disk=path.name, tmp=tmp), rec, tmp)
    assert "My talk.wav" in text
    assert str(tmp) not in text and "up-xyz" not in text and "Errno" not in text, text
