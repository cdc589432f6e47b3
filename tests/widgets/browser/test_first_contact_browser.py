"""First-contact fixes seen in a real page (JupyterLab + headless Chromium), issue 14:

- labels name what transcribes (the embedded engine's Whisper tiny.en), not "whisper-v3 · en";
- a bad upload's error names the user's file in a plain sentence (no temp path, no errno);
- `fw.app()` before any result shows what to do (no empty 0:00–0:01 axis, no "no segments"),
  has no "Show recording below" button, and a file being transcribed shows elapsed time and
  an estimate;
- one palette (from Python) for the viewer, the timeline, the HTML page and the repr; a click on
  a viewer row plays, as on the HTML page; speaker chips show that they can be renamed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.widgets.browser.test_viewer_browser import STM_CELL

# Every text a `.fwu-state` element shows, recorded as the page changes (installed before an
# upload, so short-lived states are not missed between two polls).
RECORD_STATES_JS = """
() => {
  window.__fwuStates = [];
  const seen = new Set();
  const grab = () => {
    for (const e of document.querySelectorAll('.fwu-state')) {
      const t = e.textContent;
      if (!seen.has(t)) { seen.add(t); window.__fwuStates.push(t); }
    }
  };
  new MutationObserver(grab).observe(document.body,
    {childList: true, subtree: true, characterData: true});
}
"""


def _rgb(hex_colour: str) -> str:
    """`rgb(r, g, b)` of a "#RRGGBB" colour, as getComputedStyle reports it."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


def test_labels_name_the_model_that_transcribes(
    new_page: Any, open_notebook: Any, data_dir: Path
) -> None:
    page = new_page()
    nb = open_notebook(
        page,
        [
            "from fw_asr_widgets.widgets import Recorder, Uploader\nrec = Recorder()\nrec",
            "up = Uploader(language='en')\nup",
        ],
    )
    label = page.locator(".fw-rec-model")
    label.wait_for()
    # Before any result: what the embedded engine will run, not the Fireworks name asked for.
    assert label.inner_text() == "embedded engine (Whisper tiny.en)"
    settings = page.locator(".fwu-settings")
    assert settings.inner_text() == "embedded engine (Whisper tiny.en)"
    assert "whisper-v3" not in label.inner_text() + settings.inner_text()

    page.locator(".fwu-input").set_input_files(str(data_dir / "jfk.wav"))
    done = page.locator('.fwu-row[data-source="jfk.wav"][data-state="done"]')
    done.wait_for(timeout=120_000)
    nb.screenshot("first-contact-labels")
    # After the result: the model that served it, as the engine reported it.
    detail = done.locator(".fwu-detail").inner_text()
    assert detail.endswith("· embedded engine (Whisper tiny.en)"), detail
    assert nb.kernel_json("up.files[0]['served_by']") == "embedded engine (Whisper tiny.en)"
    assert nb.kernel_json("up.transcripts['jfk.wav'].raw['x-fw-asr-local-model']") == "tiny.en"


def test_bad_upload_error_names_the_file_in_a_plain_sentence(
    new_page: Any, open_notebook: Any
) -> None:
    page = new_page()
    nb = open_notebook(page, ["from fw_asr_widgets.widgets import Uploader\nup = Uploader()\nup"])
    page.locator(".fwu-zone").wait_for()
    page.locator(".fwu-input").set_input_files(
        [{"name": "notes.wav", "mimeType": "audio/wav", "buffer": bytes(range(256)) * 200}]
    )
    bad = page.locator('.fwu-row[data-source="notes.wav"][data-state="error"]')
    bad.wait_for(timeout=60_000)
    nb.screenshot("first-contact-bad-file")
    # its own name and a plain sentence, in the page and in `up.errors`
    shown = bad.locator(".fwu-detail").inner_text()
    kept = nb.kernel_json("up.errors['notes.wav']")
    for text in (shown, kept):
        assert text.startswith("notes.wav is not an audio or video file"), text
        assert "fw-asr-upload" not in text and "up-" not in text, text
        assert "Errno" not in text and "InvalidDataError" not in text, text
    assert shown == kept
    assert nb.kernel_json("len(list(up._tmpdir.iterdir()))") == 0


def test_app_empty_state_no_show_button_and_an_upload_estimate(
    new_page: Any, open_notebook: Any, data_dir: Path
) -> None:
    page = new_page()
    nb = open_notebook(page, ["import fw_asr_widgets as fw\npanel = fw.app(language='en')\npanel"])
    page.locator(".fwv").wait_for()
    page.locator(".fwt").wait_for()
    # the rules the widgets share (_shared.css, inlined into each widget's _css) reach all
    # three widgets of the app, and each keeps its own padding: the same computed styles as
    # when every stylesheet held its own copy (the notebook page's styles win on the buttons'
    # corner radius, before and after)
    styles = page.evaluate(
        """() => ['.fwv', '.fwv-btn', '.fwt-btn', '.fwu-btn', '.fwu-path'].map((sel) => {
            const s = getComputedStyle(document.querySelector(sel));
            return [sel, s.borderTopStyle, s.borderTopLeftRadius, s.cursor, s.paddingLeft,
                    s.fontFamily.length > 0];
        })"""
    )
    assert styles == [
        [".fwv", "solid", "6px", "auto", "6px", True],
        [".fwv-btn", "solid", "2px", "pointer", "8px", True],
        [".fwt-btn", "solid", "2px", "pointer", "6px", True],
        [".fwu-btn", "solid", "2px", "pointer", "10px", True],
        [".fwu-path", "solid", "4px", "text", "6px", True],
    ], styles
    hint = "Record or upload audio to see the transcript here."
    page.wait_for_function(
        "(hint) => document.querySelector('.fwv-status').textContent === hint", arg=hint
    )
    assert page.locator(".fwv-status").is_visible()
    assert not page.locator(".fwv-scroll").is_visible()
    assert "no segments" not in page.locator(".fwv").inner_text()
    # the timeline: a sentence instead of a 0:00–0:01 axis with a "speech" lane
    empty = page.locator(".fwt-empty")
    assert empty.is_visible() and "once there is a transcript" in empty.inner_text()
    assert not page.locator(".fwt-canvas").is_visible()
    # no button repeating what Stop already does
    assert page.get_by_text("Show recording below").count() == 0
    nb.screenshot("first-contact-app-empty")

    page.evaluate(RECORD_STATES_JS)
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.locator(".fwu-input").set_input_files(str(data_dir / "two_speakers.wav"))
    page.locator('.fwu-row[data-state="done"]').wait_for(timeout=180_000)
    states: list[str] = page.evaluate("window.__fwuStates")
    timed = [s for s in states if s.startswith("transcribing")]
    assert timed, states
    assert re.fullmatch(r"transcribing… \d+ s · about \d+ s left", timed[0]), timed
    row = nb.kernel_json("panel.uploader.files[0]")
    assert row["estimate"] > 0 and row["started_at"] > 0, row
    # the result fills both; their empty states are gone
    page.locator(".fwv-row").first.wait_for()
    assert page.locator(".fwt-canvas").is_visible()
    assert not page.locator(".fwt-empty").is_visible()
    assert page.locator(".fwv-status").inner_text() == ""
    nb.screenshot("first-contact-app-result")


def test_one_palette_click_plays_and_chips_invite_renaming(
    new_page: Any, open_notebook: Any, data_dir: Path, tmp_path: Path
) -> None:
    page = new_page()
    nb = open_notebook(
        page,
        [
            STM_CELL.format(data=str(data_dir)),
            "v = TranscriptViewer(tr, audio=DATA / 'two_speakers.wav', height=260)\n"
            "tl = Timeline(tr, viewer=v)\nv",
            "tl",
        ],
    )
    page.locator(".fwv-chip").first.wait_for()
    page.wait_for_function(
        "() => { const a = document.querySelector('.fwv audio'); return a && a.readyState >= 1; }"
    )
    from fw_asr_widgets._palette import PALETTE

    speakers = nb.kernel_json("list(tr.speakers)")
    assert nb.kernel_json("v.palette") == list(PALETTE) == nb.kernel_json("tl.palette")

    def chip_colours() -> list[str]:
        return page.evaluate(
            "() => [...document.querySelectorAll('.fwv-chip')]"
            ".map((c) => getComputedStyle(c).borderTopColor)"
        )

    def lane_swatch(k: int) -> str:
        # the timeline draws each lane's colour swatch at x 4..14, centred in the lane
        return page.evaluate(
            """(k) => {
              const c = document.querySelector('.fwt-canvas');
              const dpr = window.devicePixelRatio || 1;
              const p = c.getContext('2d').getImageData(9 * dpr, (k * 26 + 13) * dpr, 1, 1).data;
              return `rgb(${p[0]}, ${p[1]}, ${p[2]})`;
            }""",
            k,
        )

    assert chip_colours() == [_rgb(PALETTE[i]) for i in range(len(speakers))]
    row_colour = page.evaluate(
        "() => getComputedStyle(document.querySelector('.fwv-row[data-i=\"0\"] .fwv-spk')).color"
    )
    first = nb.kernel_json("tr.segments[0].speaker")
    assert row_colour == _rgb(PALETTE[speakers.index(first)])
    assert [lane_swatch(k) for k in range(len(speakers))] == chip_colours()

    # the same colours in the HTML page and the notebook repr
    html_page = nb.kernel_json(
        "__import__('fw_asr_widgets._page', fromlist=['x']).render_html_page(tr)"
    )
    repr_html = nb.kernel_json("tr._repr_html_()")
    for i, _s in enumerate(speakers):
        assert PALETTE[i] in html_page and PALETTE[i] in repr_html

    # the page takes its palette from Python: a new one repaints chips, rows and lanes
    nb.kernel_exec("v.palette = tl.palette = ['#112233', '#445566']")
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.fwv-chip')).borderTopColor"
        " === 'rgb(17, 34, 51)'"
    )
    assert chip_colours() == ["rgb(17, 34, 51)", "rgb(68, 85, 102)"]
    page.wait_for_function(
        """() => { const c = document.querySelector('.fwt-canvas');
          const dpr = window.devicePixelRatio || 1;
          const p = c.getContext('2d').getImageData(9 * dpr, 13 * dpr, 1, 1).data;
          return p[0] === 17 && p[1] === 34 && p[2] === 51; }"""
    )

    # chips invite renaming: a tooltip, a pencil cue and a text cursor
    chip = page.locator(".fwv-chip").first
    assert re.search(r"rename", chip.get_attribute("title") or "", re.I)
    pencil = chip.locator(".fwv-edit")
    assert pencil.is_visible() and pencil.inner_text() == "✎"
    assert page.evaluate("getComputedStyle(document.querySelector('.fwv-chip')).cursor") == "text"
    spk = page.locator('.fwv-row[data-i="0"] .fwv-spk')
    assert re.search(r"rename", spk.get_attribute("title") or "", re.I)

    # a click on a row plays from its start, like a click on a line of the HTML page
    row = page.locator('.fwv-row[data-i="3"]')
    start = float(row.get_attribute("data-start") or "nan")
    row.locator(".fwv-text").click(position={"x": 3, "y": 5})  # on its first word
    page.wait_for_function(
        "(s) => { const a = document.querySelector('.fwv audio');"
        " return !a.paused && a.currentTime > s + 0.2 && a.currentTime < s + 3; }",
        arg=start,
    )
    page.evaluate("document.querySelector('.fwv audio').pause()")
    nb.screenshot("first-contact-viewer-palette")

    html_file = tmp_path / "page.html"
    nb.kernel_exec(
        "from fw_asr_widgets._page import write_html_page\n"
        f"write_html_page(tr, {str(html_file)!r}, audio=DATA / 'two_speakers.wav')"
    )
    other = new_page()
    other.goto(html_file.as_uri())
    other.wait_for_function("() => document.querySelector('audio').readyState >= 1")
    line = other.locator(".seg").nth(3)
    assert float(line.get_attribute("data-start") or "nan") == start
    line.click()
    other.wait_for_function(
        "(s) => { const a = document.querySelector('audio');"
        " return !a.paused && a.currentTime > s + 0.2 && a.currentTime < s + 3; }",
        arg=start,
    )
