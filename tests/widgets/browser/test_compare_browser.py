"""fw.compare in JupyterLab + headless Chromium: three transcripts aligned in columns against
the STM reference, differences coloured, WER per model, click a row to play it; and the
pairwise matrix when there is no reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CELL = """
from pathlib import Path
import fw_asr_widgets as fw
from fw_asr_widgets.transcript import Transcript
DATA = Path({data!r})
ref = Transcript.from_stm(DATA / "two_speakers.stm")
def variant(edit):
    segs = [dict(id=i, start=s.start, end=s.end, speaker_id=s.speaker, text=edit(i, s.text))
            for i, s in enumerate(ref.segments)]
    return Transcript.from_response(dict(text="", segments=segs), source="two_speakers.wav")
a = variant(lambda i, t: t)
b = variant(lambda i, t: t.replace("Chicago", "Chicago, Illinois") if i == 7 else t)
c = variant(lambda i, t: "" if i == 4 else t.replace("Diane", "Dana"))
view = fw.compare({{"model-a": a, "model-b": b, "model-c": c}}, reference=ref,
                  audio=DATA / "two_speakers.wav")
view
"""


def test_compare_three_transcripts(new_page: Any, open_notebook: Any, data_dir: Path) -> None:
    page = new_page()
    nb = open_notebook(
        page, [CELL.format(data=str(data_dir)), "fw.compare({'a': a, 'b': b, 'c': c})"]
    )
    box = page.locator(".fwc").first
    box.locator(".fwc-row").first.wait_for()
    heads = box.locator(".fwc-table tr").first.locator("th").all_inner_texts()
    assert heads == ["time", "reference", "model-a", "model-b", "model-c"]
    assert box.locator(".fwc-row").count() == 13
    # WER per model against the reference, as the kernel computes it
    shown = {
        e.get_attribute("data-model"): float(e.get_attribute("data-wer"))
        for e in box.locator(".fwc-wer-item").all()
    }
    kernel = nb.kernel_json("{k: t.wer(ref) for k, t in view.transcripts.items()}")
    assert shown.keys() == kernel.keys() and all(abs(shown[k] - kernel[k]) < 1e-4 for k in shown)
    assert shown["model-a"] == 0.0 and shown["model-b"] > 0 and shown["model-c"] > shown["model-b"]
    # differences coloured where they are
    row7 = box.locator('.fwc-row[data-i="7"]')
    assert row7.locator(".fwc-ins").all_inner_texts() == ["Illinois."]
    assert "fwc-differs" in row7.get_attribute("class")
    row4 = box.locator('.fwc-row[data-i="4"]')
    assert row4.locator(".fwc-del").all_inner_texts() == ["Neither", "did", "I."]
    subs = box.locator(".fwc-sub").all_inner_texts()
    assert "Dana." in subs or "Dana" in subs
    assert "fwc-differs" not in box.locator('.fwc-row[data-i="0"]').get_attribute("class")
    # a click on a row plays it
    page.wait_for_function(
        "() => { const a = document.querySelector('.fwc audio'); return a && a.readyState >= 1; }"
    )
    row7.click()
    page.wait_for_function(
        "() => { const a = document.querySelector('.fwc audio');"
        " return !a.paused && a.currentTime >= 14.4 && a.currentTime < 18.5; }"
    )
    assert "fwc-playing" in row7.get_attribute("class")
    # no reference: a pairwise WER matrix
    second = page.locator(".fwc").nth(1)
    second.locator(".fwc-row").first.wait_for()
    cell = second.locator('.fwc-wer-matrix td[data-ref="a"][data-hyp="c"]')
    want = nb.kernel_json("round(100 * c.wer(a), 1)")
    assert cell.inner_text() == f"{want:.1f}%"
