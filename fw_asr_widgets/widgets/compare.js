// @ts-check
// CompareView front end: transcripts aligned in columns (rows by message after "ready"),
// differences coloured, a click on a row plays it; WER against the reference or pairwise.

import * as shared from "./_shared.js";

const { h, fmtTime, bytesOf } = shared;

/** @typedef {[string, string, string]} Tok  text, kind ("", "sub", "ins", "del"), pivot word */
/** @typedef {{start: number, end: number, speaker: string, cells: Tok[][]}} Row */

const KIND_TITLE = { sub: "instead of", ins: "not in", del: "missing here" };

class CompareController {
  /**
   * @param {any} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    /** @type {string | null} */ this.audioUrl = null;
    /** @type {Row[]} */ this.rows = [];
    this.stopAt = -1;
    const root = (this.root = h("div", "fwc"));
    el.appendChild(root);
    this.title = h("div", "fwc-title");
    this.werBox = h("div", "fwc-wer");
    this.audio = /** @type {HTMLAudioElement} */ (h("audio", "fwc-audio"));
    this.audio.controls = true;
    this.audio.style.display = "none";
    this.status = h("div", "fwc-status");
    this.scroll = h("div", "fwc-scroll");
    this.table = /** @type {HTMLTableElement} */ (h("table", "fwc-table"));
    this.scroll.appendChild(this.table);
    root.append(this.title, this.werBox, this.audio, this.status, this.scroll);
    this.onMsg = (/** @type {any} */ msg, /** @type {any[]} */ buffers) => this.message(msg, buffers);
    model.on("msg:custom", this.onMsg);
    this.table.addEventListener("click", (ev) => {
      const tr = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (ev.target).closest("tr[data-start]"));
      if (tr) this.play(Number(tr.dataset.start), Number(tr.dataset.end), Number(tr.dataset.i));
    });
    this.audio.addEventListener("timeupdate", () => {
      if (this.stopAt >= 0 && this.audio.currentTime >= this.stopAt) { this.audio.pause(); this.stopAt = -1; }
    });
    this.header();
    model.send({ type: "ready" });
  }

  header() {
    const m = this.model;
    this.title.textContent = m.get("title") || "";
    this.scroll.style.maxHeight = `${m.get("height") || 420}px`;
    const wer = m.get("wer") || {};
    const pct = (/** @type {number} */ x) => `${(100 * x).toFixed(1)}%`;
    this.werBox.textContent = "";
    if (!m.get("pairwise")) {
      this.werBox.append(h("span", "fwc-wer-label", "WER against the reference: "));
      for (const [k, v] of Object.entries(wer)) {
        const s = h("span", "fwc-wer-item", `${k} ${pct(Number(v))}`);
        s.dataset.model = k;
        s.dataset.wer = String(v);
        this.werBox.appendChild(s);
      }
    } else {
      const t = h("table", "fwc-wer-matrix");
      const names = Object.keys(wer);
      const head = h("tr");
      head.append(h("th", "", "WER (row = reference)"), ...names.map((n) => h("th", "", n)));
      t.appendChild(head);
      for (const a of names) {
        const tr = h("tr");
        tr.appendChild(h("th", "", a));
        for (const b of names) {
          const td = h("td", "", a === b ? "–" : pct(Number(wer[a][b])));
          td.dataset.ref = a;
          td.dataset.hyp = b;
          tr.appendChild(td);
        }
        t.appendChild(tr);
      }
      this.werBox.appendChild(t);
    }
  }

  /** @param {Row[]} rows */
  setRows(rows) {
    this.rows = rows;
    /** @type {string[]} */
    const cols = this.model.get("columns") || [];
    const t = this.table;
    t.textContent = "";
    const head = h("tr");
    head.append(h("th", "fwc-time", "time"), ...cols.map((c) => h("th", "", c)));
    t.appendChild(head);
    rows.forEach((r, i) => {
      const tr = h("tr", "fwc-row");
      tr.dataset.i = String(i);
      tr.dataset.start = String(r.start);
      tr.dataset.end = String(r.end);
      tr.title = "Click to play this row";
      const time = h("td", "fwc-time", fmtTime(r.start));
      if (r.speaker) time.appendChild(h("div", "fwc-spk", r.speaker));
      tr.appendChild(time);
      let differs = false;
      r.cells.forEach((cell) => {
        const td = h("td", "fwc-cell");
        cell.forEach(([text, kind, pivot], j) => {
          if (j) td.appendChild(document.createTextNode(" "));
          const s = h("span", kind ? `fwc-${kind}` : "fwc-eq", text);
          if (kind) {
            differs = true;
            s.title = kind === "sub" ? `${KIND_TITLE.sub} “${pivot}”` : /** @type {any} */ (KIND_TITLE)[kind];
          }
          td.appendChild(s);
        });
        tr.appendChild(td);
      });
      tr.classList.toggle("fwc-differs", differs);
      t.appendChild(tr);
    });
    this.root.dataset.rows = String(rows.length);
  }

  /**
   * @param {number} start
   * @param {number} end
   * @param {number} i
   */
  play(start, end, i) {
    for (const e of this.table.querySelectorAll(".fwc-playing")) e.classList.remove("fwc-playing");
    const tr = this.table.querySelector(`tr[data-i="${i}"]`);
    if (tr) tr.classList.add("fwc-playing");
    this.root.dataset.playing = String(i);
    if (!this.audioUrl) return;
    this.audio.currentTime = start;
    this.stopAt = end > start ? end + 0.2 : -1;
    const p = this.audio.play();
    if (p && p.catch) p.catch(() => {});
  }

  /**
   * @param {any} msg
   * @param {any[]} buffers
   */
  message(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "rows") this.setRows(msg.rows);
    else if (msg.type === "audio" && buffers && buffers.length) {
      if (this.audioUrl) URL.revokeObjectURL(this.audioUrl);
      this.audioUrl = URL.createObjectURL(new Blob([bytesOf(buffers[0])], { type: msg.mime }));
      this.audio.src = this.audioUrl;
      this.audio.style.display = "";
    }
  }

  destroy() {
    this.model.off("msg:custom", this.onMsg);
    this.audio.pause();
    if (this.audioUrl) URL.revokeObjectURL(this.audioUrl);
  }
}

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  const c = new CompareController(model, el);
  return () => c.destroy();
}

export default { render };
