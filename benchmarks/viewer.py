"""Viewer: time to first render and to scroll to the end of a 10,000-segment transcript in
headless Chromium, against the same segments rendered as a plain (non-virtualised) DOM list.

The viewer's ES module and CSS are loaded in a plain HTML page served from loopback with a
minimal fake anywidget `model` (get/set/on/off/send/save_changes) whose state and messages come
from a real `TranscriptViewer` in Python: its synced traits, and the messages it sends when the
page says `ready` (for 10,000 segments the rows travel by message, as in a notebook). JupyterLab
itself (widget manager, kernel comm) is left out: the browser tests measure that path; here the
figure is the widget's own rendering cost, repeatable and quick.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

from benchmarks._util import FigureResult, Row, fmt_s, run_child

NAME = "Viewer"
CHROMIUM = "/usr/bin/chromium"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="viewer.css">
<style>body{font-family:sans-serif;margin:0;padding:8px;width:900px}
.plain-scroll{height:420px;overflow:auto;border:1px solid #ccc}
.plain-row{display:flex;gap:8px;padding:2px 6px}</style></head>
<body><div id="host"></div>
<script type="module">
import mod from "./viewer.js";
const data = await (await fetch("data.json")).json();
const frame = () => new Promise(r => requestAnimationFrame(r));
function visible(sc, sel) {
  const row = sc.querySelector(sel);
  if (!row) return false;
  const a = sc.getBoundingClientRect(), b = row.getBoundingClientRect();
  return b.height > 0 && b.top < a.bottom && b.bottom > a.top;
}
async function until(sc, sel) {
  for (let k = 0; k < 600; k++) { if (visible(sc, sel)) return performance.now(); await frame(); }
  throw new Error("not visible: " + sel);
}
async function toEnd(sc, sel) {
  for (let k = 0; k < 60; k++) {
    sc.scrollTop = sc.scrollHeight;
    await frame(); await frame();
    if (sc.scrollTop + sc.clientHeight >= sc.scrollHeight - 1 && visible(sc, sel)) break;
  }
  return until(sc, sel);
}
function fakeModel(state, msgs) {
  const handlers = {};
  const fire = (ev, ...a) => (handlers[ev] || []).slice().forEach(h => h(...a));
  return {
    get: k => state[k],
    set: (k, v) => { state[k] = v; fire("change:" + k); },
    save_changes: () => {},
    on: (ev, h) => { (handlers[ev] ||= []).push(h); },
    off: (ev, h) => { handlers[ev] = (handlers[ev] || []).filter(x => x !== h); },
    send: msg => {
      if (msg.type === "ready") setTimeout(() => msgs.forEach(m => fire("msg:custom", m, [])), 0);
    },
  };
}
window.runViewer = async () => {
  const host = document.getElementById("host");
  host.innerHTML = "";
  const el = document.createElement("div");
  host.appendChild(el);
  const model = fakeModel(structuredClone(data.state), structuredClone(data.msgs));
  const t0 = performance.now();
  await mod.render({ model, el });
  const sc = el.querySelector(".fwv-scroll");
  const t1 = await until(sc, ".fwv-row");
  const t2 = await toEnd(sc, `.fwv-row[data-i="${data.last}"]`);
  return { first: t1 - t0, end: t2 - t1, rows: el.querySelectorAll(".fwv-row").length };
};
window.runPlain = async () => {
  const host = document.getElementById("host");
  host.innerHTML = "";
  const rows = data.plain;
  const t0 = performance.now();
  const sc = document.createElement("div");
  sc.className = "plain-scroll";
  const frag = document.createDocumentFragment();
  rows.forEach(([start, speaker, text], i) => {
    const r = document.createElement("div");
    r.className = "plain-row";
    r.dataset.i = String(i);
    const t = document.createElement("span"); t.textContent = start;
    const s = document.createElement("span"); s.textContent = speaker;
    const x = document.createElement("span"); x.textContent = text;
    r.append(t, s, x);
    frag.appendChild(r);
  });
  sc.appendChild(frag);
  host.appendChild(sc);
  const t1 = await until(sc, ".plain-row");
  const t2 = await toEnd(sc, `.plain-row[data-i="${rows.length - 1}"]`);
  return { first: t1 - t0, end: t2 - t1, rows: sc.children.length };
};
window.benchReady = true;
</script></body></html>
"""


def _big_transcript(n: int) -> Any:
    from fw_asr_widgets.transcript import Transcript

    def seg(i: int) -> dict[str, Any]:
        t0 = i * 1.08
        text = f"segment {i} of a three hour meeting"
        words = [
            dict(word=" " + w, start=t0 + k * 0.14, end=t0 + k * 0.14 + 0.12)
            for k, w in enumerate(text.split())
        ]
        return dict(
            id=i, start=t0, end=t0 + 1.0, speaker_id=f"SPEAKER_0{i % 3}", text=text, words=words
        )

    return Transcript.from_response(dict(text="", segments=[seg(i) for i in range(n)]))


def page_data(n: int) -> dict[str, Any]:
    """The viewer's synced state and the messages it sends on `ready`, plus plain rows."""
    from fw_asr_widgets.widgets import TranscriptViewer

    tr = _big_transcript(n)
    v = TranscriptViewer(tr)
    state = {}
    for name in v.trait_names(sync=True):
        if name.startswith("_") or name in ("layout", "tabbable", "tooltip", "keys"):
            continue
        try:
            state[name] = json.loads(json.dumps(getattr(v, name)))
        except TypeError:
            continue
    msgs: list[dict[str, Any]] = []
    v._post = lambda content, buffers=None: msgs.append(content)  # type: ignore[method-assign]
    v._on_msg(v, {"type": "ready"}, None)
    plain = [[f"{s.start:.2f}", s.speaker or "", s.text] for s in tr.segments]
    return {"state": state, "msgs": msgs, "plain": plain, "last": n - 1}


def child(n: int, reps: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    import fw_asr_widgets.widgets as w

    src = Path(w.__file__).parent
    with tempfile.TemporaryDirectory(prefix="fw-bench-viewer-") as tmp:
        root = Path(tmp)
        shutil.copy(src / "viewer.js", root / "viewer.js")
        shutil.copy(src / "viewer.css", root / "viewer.css")
        (root / "index.html").write_text(PAGE)
        (root / "data.json").write_text(json.dumps(page_data(n)))
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
        out: dict[str, list[dict[str, float]]] = {"viewer": [], "plain": []}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                for _ in range(reps + 1):  # the first round warms up (module parse, JIT)
                    for kind, fn in (("viewer", "runViewer"), ("plain", "runPlain")):
                        page = browser.new_page(viewport={"width": 1000, "height": 800})
                        page.goto(url)
                        page.wait_for_function("() => window.benchReady === true")
                        out[kind].append(page.evaluate(f"window.{fn}()"))
                        page.close()
                browser.close()
        finally:
            httpd.shutdown()
    return {k: v[1:] for k, v in out.items()}


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    if not Path(CHROMIUM).exists():
        res.notes.append(f"skipped: {CHROMIUM} not found")
        res.rows.append(Row(NAME, "first render", "skipped (no Chromium)"))
        return res
    n = 10_000
    m = run_child("benchmarks.viewer:child", n, 1 if quick else 5, timeout=600)

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in m[kind]) / 1000.0

    first, end = med("viewer", "first"), med("viewer", "end")
    pfirst, pend = med("plain", "first"), med("plain", "end")
    res.rows.append(
        Row(
            NAME,
            f"{n:,} segments: render → first row visible",
            fmt_s(first),
            "plain DOM list of the same rows",
            fmt_s(pfirst),
            f"{first / pfirst:.2f}×",
            "< 1 s",
            first < 1.0,
        )
    )
    res.rows.append(
        Row(
            NAME,
            f"{n:,} segments: scroll to the last row visible",
            fmt_s(end),
            "plain DOM list of the same rows",
            fmt_s(pend),
            f"{end / pend:.2f}×",
            "smooth (no goal figure)",
            None,
        )
    )
    rows = max(r["rows"] for r in m["viewer"])
    res.notes.append(
        f"Median of {len(m['viewer'])} fresh pages after a warm-up page, headless Chromium "
        f"({CHROMIUM}). The viewer keeps at most {rows} rows in the DOM (virtualised); the plain "
        "list holds all 10,000. Times include delivering the rows by message (10,000 segments "
        "exceed the synced-state limit) but not the kernel→browser transfer. "
        + (__doc__ or "").split("\n\n")[1].replace("\n", " ")
    )
    return res
