"""CorpusSearch in JupyterLab: hits listed from the corpus, a click plays that hit's audio
(sent by the kernel as a binary message, decoded and non-silent in the page), a new query
typed in the page searches again, and no audio is ever in the widget's synced state."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("duckdb")

_AUDIO_RMS_JS = """
async () => {
  const a = document.querySelector('.fw-search-probe, .fws-audio');
  const buf = await (await fetch(a.src)).arrayBuffer();
  const ctx = new OfflineAudioContext(1, 16000, 16000);
  const decoded = await ctx.decodeAudioData(buf);
  const x = decoded.getChannelData(0);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return { seconds: decoded.duration, rms: Math.sqrt(s / Math.max(1, x.length)),
           index: a.dataset.index };
}
"""


@pytest.fixture
def corpus_dir(tmp_path: Path, data_dir: Path, local_server) -> Path:
    import fw_asr_widgets as fw

    src = tmp_path / "calls"
    src.mkdir()
    for name in ("jfk.wav", "english.wav"):
        (src / name).write_bytes((data_dir / name).read_bytes())
    out = tmp_path / "calls.transcripts"
    with fw.Client(base_url=local_server.url) as c:
        run = fw.transcribe_corpus(src, out, client=c, progress=False, temperature=0.0)
    assert run.ok == 2
    return out


def test_search_widget_lists_hits_and_plays_them(new_page, open_notebook, corpus_dir) -> None:
    page = new_page()
    nb = open_notebook(
        page,
        [
            "import fw_asr_widgets as fw\n"
            f"corpus = fw.open_corpus({str(corpus_dir)!r})\n"
            "w = corpus.search_widget('country')\nw"
        ],
    )
    hits = page.locator(".fws .fws-hit")
    hits.first.wait_for()
    assert hits.count() == 2
    assert "country" in hits.nth(0).inner_text().lower()
    assert "jfk.wav" in hits.nth(0).inner_text()
    assert "2 hits" in page.locator(".fws-status").inner_text()

    hits.nth(1).click()
    nb.wait_kernel("w.sent", lambda v: len(v) == 1 and v[0][0] == 1)
    page.wait_for_function(
        "() => { const a = document.querySelector('.fws-audio');"
        " return a && a.src.startsWith('blob:') && a.dataset.index === '1'; }"
    )
    probe = page.evaluate(_AUDIO_RMS_JS)
    start, end = nb.kernel_json("(w.hits[1]['start'], w.hits[1]['end'])")
    assert probe["seconds"] == pytest.approx(end - start + 1.0, abs=0.15)  # pad 0.5 s each side
    assert probe["rms"] > 0.01, "the snippet is silent"
    assert page.locator(".fws-hit.fws-playing").get_attribute("data-index") == "1"

    # a new query typed in the page
    box = page.locator(".fws-query")
    box.fill("ask")
    box.press("Enter")
    nb.wait_kernel("w.query", lambda v: v == "ask")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.fws-hit .fws-match')]"
        ".map(e => e.textContent.toLowerCase()).join('|') === 'ask|ask'"
    )
    # audio never in synced state: only short text
    state = nb.kernel_json(
        "{k: type(v).__name__ for k, v in w.get_state().items()"
        " if isinstance(v, (bytes, bytearray, memoryview))}"
    )
    assert state == {}
    size = "len(repr({k: v for k, v in w.get_state().items() if k not in ('_esm', '_css')}))"
    assert nb.kernel_json(size) < 3000
