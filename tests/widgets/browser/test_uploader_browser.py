"""Uploader in JupyterLab + headless Chromium: a real file picked in the page travels to the
kernel in acknowledged slices and is transcribed (with diarization) by the embedded engine."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

DROP_JS = """
([b64, name]) => {
  const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bin], name, {type: 'audio/wav'}));
  const zone = document.querySelector('.fwu-zone');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
  }
}
"""


def test_uploader_transcribes_two_speakers(
    new_page: Any, open_notebook: Any, data_dir: Path, artifacts_dir: Path
) -> None:
    page = new_page()
    wav = data_dir / "two_speakers.wav"
    nb = open_notebook(
        page,
        [
            "from fw_asr_widgets.widgets import Uploader\n"
            # small slices so the 960 KB file takes several acknowledged round trips
            "up = Uploader(diarize=True, language='en')\nup.slice_size = 128 * 1024\nup"
        ],
    )
    page.locator(".fwu-zone").wait_for()
    page.locator(".fwu-input").set_input_files(str(wav))
    row = page.locator('.fwu-row[data-source="two_speakers.wav"]')
    row.wait_for()
    page.locator('.fwu-row[data-state="done"], .fwu-row[data-state="error"]').wait_for(
        timeout=120_000
    )
    nb.screenshot("uploader-done")
    assert row.get_attribute("data-state") == "done", row.inner_text()
    assert "2 speakers" in row.locator(".fwu-detail").inner_text()

    df = nb.kernel_json(
        "{'sources': up.to_pandas()['source'].unique().tolist(),"
        " 'rows': len(up.to_pandas()), 'speakers': int(up.to_pandas()['speaker'].nunique()),"
        " 'text': ' '.join(up.to_pandas()['text']).lower(),"
        " 'size': up.files[0]['size'], 'temp_left': len(list(up._tmpdir.iterdir()))}"
    )
    assert df["sources"] == ["two_speakers.wav"]
    assert df["rows"] >= 3 and df["speakers"] == 2
    assert "new jersey" in df["text"] and "chicago" in df["text"]
    assert df["size"] == wav.stat().st_size
    assert df["temp_left"] == 0

    # a second file, dropped on the zone (a synthetic drop event carrying a DataTransfer)
    jfk = base64.b64encode((data_dir / "jfk.wav").read_bytes()).decode()
    page.evaluate(DROP_JS, [jfk, "jfk.wav"])
    dropped = page.locator('.fwu-row[data-source="jfk.wav"]')
    dropped.wait_for()
    page.locator('.fwu-row[data-source="jfk.wav"][data-state="done"]').wait_for(timeout=120_000)
    nb.screenshot("uploader-two-files")
    text = nb.kernel_json("up.transcripts['jfk.wav'].text.lower()")
    assert "ask not what your country" in text
    assert nb.kernel_json("sorted(up.to_pandas()['source'].unique())") == [
        "jfk.wav",
        "two_speakers.wav",
    ]


def test_app_panel_shows_an_upload_in_its_viewer(
    new_page: Any, open_notebook: Any, data_dir: Path, artifacts_dir: Path
) -> None:
    page = new_page()
    nb = open_notebook(
        page, ["import fw_asr_widgets as fw\npanel = fw.app(language='en', diarize=False)\npanel"]
    )
    page.locator(".fwr, .fw-recorder, .fwu-zone").first.wait_for()
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.locator(".fwu-input").set_input_files(str(data_dir / "jfk.wav"))
    page.locator('.fwu-row[data-state="done"]').wait_for(timeout=120_000)
    # the viewer below shows the result, with the uploaded audio
    page.wait_for_function(
        "() => { const r = document.querySelector('.fwv-row');"
        " const a = document.querySelector('.fwv audio');"
        " return r && /ask not what your country/i.test(r.closest('.fwv').innerText)"
        " && a && a.readyState >= 1; }",
        timeout=30_000,
    )
    assert abs(page.evaluate("document.querySelector('.fwv audio').duration") - 11.0) < 0.2
    assert page.locator(".fwt-canvas").is_visible()
    nb.screenshot("app-panel")
    assert nb.kernel_json("panel.viewer.title") == "jfk.wav"
