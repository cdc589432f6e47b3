// @ts-check
// TranscriptViewer front end: virtualised rows, audio player, word highlight, search, renames,
// and (editable viewers) in-place editing driven by the keyboard or the mouse.
//
// Rows ([start, end, speakerIndex, text, flag]) come from the `segments` trait or, for large or
// editable transcripts, from a {type:"segments"} message; words and audio always come by
// message after this view sends {type:"ready"}. Only the rows in (and just around) the viewport
// are in the DOM: each row's height is estimated, then measured once rendered; `offsets` holds
// the prefix sums and a spacer element gives the scroll area its full height.
//
// Editing: the kernel holds the truth. An edit is sent as {type:"edit", seq, op} (op as in
// fw_asr_widgets.transcript._edit.TranscriptEdits.apply); the kernel answers with
// {type:"patch", seq, index, removed, rows, words}: only the replaced rows, spliced in here.
// One edit is in flight at a time; later ones wait (their positions refer to the patched rows).
//
// Speaker colours come from the kernel (`palette`, `no_speaker_color` traits). A click on a
// row or a word plays from there (as in the HTML page).
//
// Length: one controller class (`ViewerView`, ~900 lines) because the virtualised list, the
// player, search and editing share the row state (rows, words, offsets, focus); splitting it
// would pass that state between modules that anywidget can only join by inlining.

import * as shared from "./_shared.js";

const { h, fmtTime, lastLE, bytesOf, speakerColor } = shared;

const EST_ROW = 46; // px, first guess of a row's height before it is measured
const OVERSCAN = 300; // px rendered above and below the viewport
const JUMP = 3; // s, Ctrl+Left / Ctrl+Right
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];

/** @typedef {[number, number, number, string, number]} Row */
/** @typedef {{k: number[], start: number[], end: number[], text: string[], p: number[]}} RowWords */
/** @typedef {{get: (k: string) => any, set: (k: string, v: any) => void, save_changes: () => void,
 *   on: (ev: string, f: Function) => void, off: (ev: string, f: Function) => void,
 *   send: (msg: any) => void}} Model */

const SHORTCUTS = [
  ["← / →", "previous / next word"],
  ["↑ / ↓", "previous / next segment"],
  ["Shift+← / →", "select a run of words"],
  ["Enter or double-click", "edit the word"],
  ["Delete", "delete the word"],
  ["Insert or +", "insert a word after it"],
  ["S", "split the segment before the word"],
  ["M", "merge the segment with the next"],
  ["P then 1–9 / 0", "speaker of the segment (or of the selected words) / a new one"],
  ["N / Shift+N", "next / previous uncertain word"],
  ["Esc or Ctrl+Space", "play / pause"],
  ["Ctrl+← / Ctrl+→", `back / forward ${JUMP} s`],
  ["[ / ]", "slower / faster"],
  ["Ctrl+Z / Shift+Ctrl+Z", "undo / redo"],
  ["?", "this help"],
];

/** One view of a TranscriptViewer. */
class ViewerView {
  /**
   * @param {Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    this.t0 = performance.now();
    /** @type {Row[]} */ this.rows = [];
    /** @type {(RowWords | null)[]} */ this.words = [];
    this.n = 0;
    this.segStarts = new Float64Array(0);
    /** @type {number[]} */ this.heights = [];
    this.offsets = new Float64Array(1);
    /** @type {string[]} */ this.lower = [];
    this.wordsRev = -1;
    /** @type {any} */ this.wordsMsg = null;
    /** @type {Map<number, HTMLElement>} */ this.live = new Map();
    this.activeSeg = -1;
    this.activeWord = -1; // position in words[activeSeg]
    /** @type {number[]} */ this.matches = [];
    this.matchPos = -1;
    this.query = "";
    /** @type {string | null} */ this.audioUrl = null;
    this.audioRev = -1;
    /** @type {number | null} */ this.pendingSeek = null;
    this.raf = 0;
    this.frameQueued = false;
    this.lastSent = -1;
    // editing
    this.focus = { i: -1, w: -1 }; // row, position of the word in words[i]
    this.anchor = -1; // selection: positions anchor..focus.w in row focus.i
    this.picking = false; // after P: the next digit picks a speaker
    // seq: unique across views of one widget (each view's patch comes back to every view)
    this.viewId = Math.random().toString(36).slice(2, 10);
    this.seq = 0;
    /** @type {{seq: string, sent: number, after?: (msg: any) => void} | null} */ this.inFlight = null;
    /** @type {Array<() => any>} */ this.queue = [];
    this.build(el);
    this.bind();
  }

  // ---- DOM ------------------------------------------------------------------------------
  /** @param {HTMLElement} el */
  build(el) {
    const root = (this.root = h("div", "fwv"));
    // JupyterLab's command-mode shortcuts (m, s, arrows, ...) must not fire while typing here
    root.setAttribute("data-lm-suppress-shortcuts", "true");
    el.appendChild(root);
    const bar = h("div", "fwv-bar");
    this.title = h("span", "fwv-title");
    const search = (this.search = /** @type {HTMLInputElement} */ (h("input", "fwv-search")));
    search.type = "search";
    search.placeholder = "Search…";
    search.setAttribute("aria-label", "Search the transcript");
    this.prevBtn = this.button("fwv-prev", "◀", "Previous match (Shift+Enter)");
    this.nextBtn = this.button("fwv-next", "▶", "Next match (Enter)");
    this.count = h("span", "fwv-count");
    const follow = h("label", "fwv-follow");
    this.followBox = /** @type {HTMLInputElement} */ (h("input"));
    this.followBox.type = "checkbox";
    this.followBox.checked = true;
    follow.append(this.followBox, document.createTextNode(" follow"));
    this.copyBtn = this.button("fwv-copy", "Copy", "Copy the transcript as text");
    this.exportBtns = ["srt", "vtt", "csv"].map((f) => {
      const b = this.button(`fwv-export fwv-export-${f}`, f.toUpperCase(), `Download as ${f.toUpperCase()}`);
      b.dataset.format = f;
      return b;
    });
    bar.append(this.title, search, this.prevBtn, this.nextBtn, this.count, follow, this.copyBtn, ...this.exportBtns);

    // editing / listening toolbar
    const tools = (this.tools = h("div", "fwv-tools"));
    this.undoBtn = this.button("fwv-undo", "↶ Undo", "Undo (Ctrl/Cmd+Z)");
    this.redoBtn = this.button("fwv-redo", "↷ Redo", "Redo (Shift+Ctrl/Cmd+Z)");
    this.insertBtn = this.button("fwv-insert", "+ Word", "Insert a word after the focused word (Insert)");
    this.deleteBtn = this.button("fwv-delete", "✕ Word", "Delete the focused word (Delete)");
    this.splitBtn = this.button("fwv-split", "Split", "Split the segment before the focused word (S)");
    this.mergeBtn = this.button("fwv-merge", "Merge", "Merge the segment with the next (M)");
    this.spkSelect = /** @type {HTMLSelectElement} */ (h("select", "fwv-spk-select"));
    this.spkSelect.title = "Speaker of the focused segment, or of the selected words (P)";
    this.newSpk = /** @type {HTMLInputElement} */ (h("input", "fwv-newspk"));
    this.newSpk.placeholder = "new speaker name, Enter";
    this.newSpk.style.display = "none";
    this.editTools = h("span", "fwv-edit-tools");
    this.editTools.append(this.undoBtn, this.redoBtn, this.insertBtn, this.deleteBtn, this.splitBtn,
      this.mergeBtn, this.spkSelect, this.newSpk);
    this.speed = /** @type {HTMLSelectElement} */ (h("select", "fwv-speed"));
    this.speed.title = "Playback speed ([ and ])";
    for (const s of SPEEDS) {
      const o = /** @type {HTMLOptionElement} */ (h("option", "", `${s}×`));
      o.value = String(s);
      if (s === 1) o.selected = true;
      this.speed.appendChild(o);
    }
    const thrLabel = h("label", "fwv-thr-label", "unsure < ");
    this.thr = /** @type {HTMLInputElement} */ (h("input", "fwv-threshold"));
    this.thr.type = "range";
    this.thr.min = "0";
    this.thr.max = "1";
    this.thr.step = "0.05";
    this.thr.title = "Underline words whose probability is below this";
    this.thrValue = h("span", "fwv-thr-value");
    thrLabel.append(this.thr, this.thrValue);
    this.helpBtn = this.button("fwv-help-btn", "?", "Keyboard shortcuts (?)");
    this.help = h("div", "fwv-help");
    this.help.setAttribute("role", "dialog");
    const table = h("table");
    for (const [k, what] of SHORTCUTS) {
      const tr = h("tr");
      tr.append(h("td", "fwv-key", k), h("td", "", what));
      table.appendChild(tr);
    }
    this.help.append(h("div", "fwv-help-title", "Keyboard shortcuts (click a word first)"), table);
    this.help.style.display = "none";
    tools.append(this.editTools, this.speed, thrLabel, this.helpBtn, this.help);

    this.legend = h("div", "fwv-legend");
    this.audio = /** @type {HTMLAudioElement} */ (h("audio", "fwv-audio"));
    this.audio.controls = true;
    this.audio.preload = "auto";
    this.status = h("div", "fwv-status");
    this.scroller = h("div", "fwv-scroll");
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute("aria-label", "Transcript");
    this.spacer = h("div", "fwv-spacer");
    this.scroller.appendChild(this.spacer);
    root.append(bar, tools, this.legend, this.audio, this.status, this.scroller);
  }

  /**
   * @param {string} cls
   * @param {string} text
   * @param {string} title
   */
  button(cls, text, title) {
    const b = h("button", `fwv-btn ${cls}`, text);
    b.title = title;
    return /** @type {HTMLButtonElement} */ (b);
  }

  bind() {
    const { model } = this;
    /** @type {Array<[string, Function]>} */
    this.handlers = [
      ["msg:custom", (/** @type {any} */ m, /** @type {any} */ b) => this.onMsg(m, b)],
      ["change:current_time", () => this.onTime()],
      ["change:revision", () => this.reload()],
      ["change:speaker_names", () => this.onNames()],
      ["change:speakers", () => this.onNames()],
      ["change:palette", () => this.onNames()],
      ["change:no_speaker_color", () => this.onNames()],
      ["change:empty_text", () => this.onEmpty()],
      ["change:height", () => { this.boxHeight(); this.schedule(); }],
      ["change:editable", () => this.onEditable()],
      ["change:can_undo", () => this.onEditable()],
      ["change:can_redo", () => this.onEditable()],
      ["change:uncertainty_threshold", () => this.onThreshold()],
    ];
    for (const [ev, f] of this.handlers) model.on(ev, f);

    let searchTimer = 0;
    this.search.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = window.setTimeout(() => this.recomputeMatches(true), 120);
    });
    this.search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        clearTimeout(searchTimer);
        if (this.search.value.trim().toLowerCase() !== this.query) this.recomputeMatches(true);
        else this.step(ev.shiftKey ? -1 : 1);
      }
    });
    this.prevBtn.addEventListener("click", () => this.step(-1));
    this.nextBtn.addEventListener("click", () => this.step(1));
    this.copyBtn.addEventListener("click", () => this.copy());
    for (const b of this.exportBtns) {
      b.addEventListener("click", () => model.send({ type: "export", format: b.dataset.format }));
    }
    this.undoBtn.addEventListener("click", () => this.edit(() => ({ op: "undo" })));
    this.redoBtn.addEventListener("click", () => this.edit(() => ({ op: "redo" })));
    this.insertBtn.addEventListener("click", () => this.startInsert());
    this.deleteBtn.addEventListener("click", () => this.deleteWord());
    this.splitBtn.addEventListener("click", () => this.splitHere());
    this.mergeBtn.addEventListener("click", () => this.mergeHere());
    this.spkSelect.addEventListener("change", () => this.onSpeakerPick());
    this.newSpk.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        const v = this.newSpk.value.trim();
        this.newSpk.value = "";
        this.newSpk.style.display = "none";
        if (v) this.assignSpeaker(v);
        this.scroller.focus();
      } else if (ev.key === "Escape") {
        this.newSpk.style.display = "none";
        this.scroller.focus();
      }
    });
    this.speed.addEventListener("change", () => { this.audio.playbackRate = Number(this.speed.value); });
    this.thr.addEventListener("input", () => {
      model.set("uncertainty_threshold", Number(this.thr.value));
      model.save_changes();
      this.onThreshold();
    });
    this.helpBtn.addEventListener("click", () => this.toggleHelp());

    const a = this.audio;
    a.addEventListener("play", () => { if (!this.raf) this.raf = requestAnimationFrame(() => this.tick()); });
    a.addEventListener("timeupdate", () => {
      if (!this.raf) this.tick();
      this.report(a.currentTime);
    });
    a.addEventListener("seeked", () => { this.tick(); this.report(a.currentTime); });
    a.addEventListener("loadedmetadata", () => {
      if (this.pendingSeek !== null) { a.currentTime = this.pendingSeek; this.pendingSeek = null; }
    });

    const sc = this.scroller;
    sc.addEventListener("click", (ev) => this.onClick(/** @type {MouseEvent} */ (ev)));
    sc.addEventListener("dblclick", (ev) => this.onDblClick(/** @type {MouseEvent} */ (ev)));
    sc.addEventListener("scroll", () => this.schedule(), { passive: true });
    this.root.addEventListener("keydown", (ev) => this.onKey(/** @type {KeyboardEvent} */ (ev)));

    this.ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => this.schedule()) : null;
    if (this.ro) this.ro.observe(sc);
    this.onEditable();
    this.onThreshold();
    this.reload();
    model.send({ type: "ready" });
  }

  destroy() {
    if (this.raf) cancelAnimationFrame(this.raf);
    if (this.ro) this.ro.disconnect();
    for (const [ev, f] of this.handlers) this.model.off(ev, f);
    this.audio.pause();
    if (this.audioUrl) URL.revokeObjectURL(this.audioUrl);
  }

  // ---- data -----------------------------------------------------------------------------
  names() { return this.model.get("speaker_names") || {}; }

  /** @param {number} i */
  speakerName(i) {
    const sp = this.model.get("speakers") || [];
    if (i < 0 || i >= sp.length) return "";
    return this.names()[sp[i]] || sp[i];
  }

  /**
   * @param {string} text
   * @param {boolean} [isError]
   */
  setStatus(text, isError) {
    this.status.textContent = text || "";
    this.status.classList.toggle("fwv-error", !!isError);
  }

  recomputeOffsets() {
    const n = this.n, o = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) o[i + 1] = o[i] + this.heights[i];
    this.offsets = o;
    this.spacer.style.height = `${o[n]}px`;
    this.boxHeight();
  }

  reindex() {
    const n = (this.n = this.rows.length);
    this.segStarts = new Float64Array(n);
    for (let i = 0; i < n; i++) this.segStarts[i] = this.rows[i][0];
  }

  /** @param {Row[]} newRows */
  setRows(newRows) {
    this.rows = newRows || [];
    this.reindex();
    const n = this.n;
    this.lower = this.rows.map((r) => String(r[3]).toLowerCase());
    this.heights = new Array(n).fill(EST_ROW);
    this.words = new Array(n).fill(null);
    this.clearLive();
    this.activeSeg = -1;
    this.activeWord = -1;
    this.recomputeOffsets();
    if (this.wordsMsg && this.wordsMsg.revision === this.model.get("revision")) this.setWords(this.wordsMsg);
    this.recomputeMatches(false);
    this.renderLegend();
    this.paint();
    if (n && !this.root.dataset.firstRowMs) {
      this.root.dataset.firstRowMs = String(Math.round(performance.now() - this.t0));
    }
    if (!n) {
      const total = this.model.get("n_segments");
      this.setStatus(total ? `loading ${total} segments…` : (this.model.get("empty_text") || ""));
      this.root.classList.toggle("fwv-empty", !total);
    } else if (!this.status.classList.contains("fwv-error")) {
      this.setStatus("");
    }
    if (n) this.root.classList.remove("fwv-empty");
    this.root.dataset.rows = String(n);
  }

  /** @param {any} msg columnar words {seg, k, start, end, text, p} */
  setWords(msg) {
    this.wordsMsg = msg;
    this.wordsRev = msg.revision;
    if (!this.n) return;
    const words = new Array(this.n).fill(null);
    const m = msg.seg.length;
    for (let j = 0; j < m; j++) {
      const s = msg.seg[j];
      if (s >= this.n) continue;
      let w = words[s];
      if (!w) w = words[s] = { k: [], start: [], end: [], text: [], p: [] };
      w.k.push(msg.k ? msg.k[j] : w.k.length);
      w.start.push(msg.start[j]);
      w.end.push(msg.end[j]);
      w.text.push(msg.text[j]);
      w.p.push(msg.p ? msg.p[j] : -1);
    }
    this.words = words;
    this.wordsMsg = null; // now held per row; patches keep it current
    for (const [i, e] of this.live) this.fillRow(e, i);
    this.schedule();
  }

  /** @param {any} msg {index, removed, rows, words} */
  applyPatch(msg) {
    const { index, removed } = msg;
    if (removed || msg.rows.length) {
      this.rows.splice(index, removed, ...msg.rows);
      this.words.splice(index, removed, ...msg.words.map((/** @type {RowWords} */ w) => (w.k.length ? w : null)));
      this.lower.splice(index, removed, ...msg.rows.map((/** @type {Row} */ r) => String(r[3]).toLowerCase()));
      this.heights.splice(index, removed, ...msg.rows.map(() => EST_ROW));
      this.reindex();
      this.clearLive();
      this.recomputeOffsets();
      if (this.query) this.recomputeMatches(false);
      this.paint();
    }
    this.root.dataset.rows = String(this.n);
  }

  clearLive() {
    for (const e of this.live.values()) e.remove();
    this.live.clear();
  }

  // ---- rows -------------------------------------------------------------------------------
  /**
   * @param {HTMLElement} e
   * @param {number} i
   */
  fillRow(e, i) {
    const r = this.rows[i], model = this.model;
    e.dataset.i = String(i);
    e.dataset.start = String(r[0]);
    e.dataset.end = String(r[1]);
    e.style.borderLeftColor = speakerColor(model, r[2]);
    e.classList.toggle("fwv-row-active", i === this.activeSeg);
    e.classList.toggle("fwv-row-current-match", this.matchPos >= 0 && this.matches[this.matchPos] === i);
    e.classList.toggle("fwv-row-flag", !!r[4]);
    e.classList.toggle("fwv-row-focus", i === this.focus.i);
    const meta = /** @type {HTMLElement} */ (e.firstChild);
    /** @type {HTMLElement} */ (meta.firstChild).textContent = fmtTime(r[0]);
    const spk = /** @type {HTMLElement} */ (meta.children[1]);
    spk.textContent = this.speakerName(r[2]);
    spk.style.color = speakerColor(model, r[2]);
    spk.title = r[2] >= 0 ? "Double-click to rename this speaker" : "";
    spk.dataset.speaker = String(r[2]);
    const flag = /** @type {HTMLElement} */ (meta.lastChild);
    flag.textContent = r[4] ? "⚠" : "";
    flag.title = r[4] ? "This segment may be invented by the model (repeats, too compressible, or over silence)" : "";
    const body = /** @type {HTMLElement} */ (e.lastChild);
    body.textContent = "";
    const w = this.words[i];
    let joined = "";
    /** @type {Array<[number, number, string]> | null} */
    let parts = null;
    if (w) {
      parts = [];
      for (let j = 0; j < w.k.length; j++) {
        const txt = String(w.text[j]).trim();
        if (joined) joined += " ";
        parts.push([joined.length, joined.length + txt.length, txt]);
        joined += txt;
      }
      // Words without times are not sent: when they miss much of the text, show the text.
      const dense = (/** @type {string} */ t) => t.replace(/\s+/g, "").length;
      if (dense(joined) < 0.8 * dense(String(r[3]))) parts = null;
    }
    if (w && parts) {
      const ranges = this.query ? findRanges(joined.toLowerCase(), this.query) : [];
      const thr = Number(model.get("uncertainty_threshold")) || 0;
      const selLo = i === this.focus.i && this.anchor >= 0 ? Math.min(this.anchor, this.focus.w) : -1;
      const selHi = i === this.focus.i && this.anchor >= 0 ? Math.max(this.anchor, this.focus.w) : -1;
      for (let j = 0; j < parts.length; j++) {
        const [wa, wb, txt] = parts[j];
        if (j > 0) body.appendChild(document.createTextNode(" "));
        const span = h("span", "fwv-w", txt);
        span.dataset.start = String(w.start[j]);
        span.dataset.end = String(w.end[j]);
        span.dataset.w = String(j);
        span.dataset.k = String(w.k[j]);
        const p = w.p[j];
        if (p >= 0) {
          span.dataset.p = String(p);
          if (p < thr) span.classList.add("fwv-w-unsure");
        }
        if (i === this.activeSeg && j === this.activeWord) span.classList.add("fwv-w-active");
        if (i === this.focus.i && j === this.focus.w) span.classList.add("fwv-w-focus");
        if (j >= selLo && j <= selHi && selLo >= 0) span.classList.add("fwv-w-sel");
        if (ranges.some(([x, y]) => x < wb && y > wa)) span.classList.add("fwv-hit");
        body.appendChild(span);
      }
    } else {
      markText(body, String(r[3]), this.query ? findRanges(this.lower[i], this.query) : []);
    }
  }

  /** @param {number} i */
  makeRow(i) {
    const e = h("div", "fwv-row");
    const meta = h("div", "fwv-meta");
    meta.append(h("span", "fwv-time"), h("span", "fwv-spk"), h("span", "fwv-flag"));
    e.append(meta, h("div", "fwv-text"));
    this.fillRow(e, i);
    return e;
  }

  /** @param {number} i */
  refreshRow(i) {
    const e = this.live.get(i);
    if (e) this.fillRow(e, i);
  }

  // Render the rows that intersect the viewport (± OVERSCAN), measure them, fix offsets.
  /** @param {number} [anchor] */
  paint(anchor) {
    this.frameQueued = false;
    const n = this.n, sc = this.scroller;
    if (!n) return;
    for (let pass = 0; pass < 3; pass++) {
      const top = sc.scrollTop;
      const view = sc.clientHeight || this.model.get("height") || 420;
      const anchorIdx = anchor !== undefined ? anchor : Math.max(0, lastLE(this.offsets, n, top));
      const anchorDelta = anchor !== undefined ? 0 : top - this.offsets[anchorIdx];
      const first = Math.max(0, lastLE(this.offsets, n, top - OVERSCAN));
      let last = first;
      while (last < n && this.offsets[last] < top + view + OVERSCAN) last++;
      for (const [i, e] of this.live) {
        if (i < first || i >= last) { e.remove(); this.live.delete(i); }
      }
      for (let i = first; i < last; i++) {
        let e = this.live.get(i);
        if (!e) {
          e = this.makeRow(i);
          this.live.set(i, e);
          sc.appendChild(e);
        }
        e.style.top = `${this.offsets[i]}px`;
      }
      let changed = false;
      for (let i = first; i < last; i++) {
        const hgt = /** @type {HTMLElement} */ (this.live.get(i)).offsetHeight;
        if (hgt && Math.abs(hgt - this.heights[i]) > 0.5) { this.heights[i] = hgt; changed = true; }
      }
      if (!changed) break;
      this.recomputeOffsets();
      for (const [i, e] of this.live) e.style.top = `${this.offsets[i]}px`;
      const want = this.offsets[anchorIdx] + anchorDelta;
      if (Math.abs(sc.scrollTop - want) > 0.5) sc.scrollTop = want;
    }
  }

  schedule() {
    if (this.frameQueued) return;
    this.frameQueued = true;
    requestAnimationFrame(() => this.paint());
  }

  /**
   * @param {number} i
   * @param {boolean} [center]
   */
  scrollToRow(i, center) {
    if (i < 0 || i >= this.n) return;
    const view = this.scroller.clientHeight || 420;
    const off = center ? Math.max(0, view / 3) : 0;
    this.scroller.scrollTop = Math.max(0, this.offsets[i] - off);
    this.paint(i);
    this.scroller.scrollTop = Math.max(0, this.offsets[i] - off);
    this.paint();
  }

  /** @param {number} i */
  rowVisible(i) {
    const top = this.scroller.scrollTop, view = this.scroller.clientHeight;
    return this.offsets[i] >= top && this.offsets[i + 1] <= top + view;
  }

  // ---- search ------------------------------------------------------------------------------
  /** @param {boolean} jump */
  recomputeMatches(jump) {
    this.query = this.search.value.trim().toLowerCase();
    const q = this.query;
    this.matches = [];
    if (q) for (let i = 0; i < this.n; i++) if (this.lower[i].includes(q)) this.matches.push(i);
    this.matchPos = -1;
    if (jump && this.matches.length) {
      const cur = Math.max(0, this.activeSeg);
      this.matchPos = Math.max(0, this.matches.findIndex((i) => i >= cur));
      this.scrollToRow(this.matches[this.matchPos], true);
    }
    this.updateCount();
    for (const [i, e] of this.live) this.fillRow(e, i);
  }

  /** @param {number} dir */
  step(dir) {
    if (!this.matches.length) { this.recomputeMatches(true); return; }
    this.matchPos = (this.matchPos + dir + this.matches.length) % this.matches.length;
    this.scrollToRow(this.matches[this.matchPos], true);
    this.updateCount();
    for (const [i, e] of this.live) this.fillRow(e, i);
  }

  updateCount() {
    this.count.textContent = this.query
      ? (this.matches.length ? `${this.matchPos + 1}/${this.matches.length}` : "0 matches")
      : "";
    this.root.dataset.matches = String(this.matches.length);
  }

  // ---- legend / renames ---------------------------------------------------------------------
  /** Speaker chips: a coloured dot, the (editable) name and a pencil cue. */
  renderLegend() {
    const legend = this.legend, model = this.model;
    legend.textContent = "";
    /** @type {string[]} */
    const sp = model.get("speakers") || [];
    const nm = this.names();
    sp.forEach((label, i) => {
      const chip = h("label", "fwv-chip");
      const colour = speakerColor(model, i);
      chip.style.borderColor = colour;
      chip.title = `Click to rename ${label}`;
      chip.dataset.speaker = label;
      const dot = h("span", "fwv-dot");
      dot.style.background = colour;
      const input = /** @type {HTMLInputElement} */ (h("input", "fwv-rename"));
      input.value = nm[label] || label;
      input.dataset.speaker = label;
      input.title = `Rename ${label}`;
      input.setAttribute("aria-label", `Rename speaker ${label}`);
      input.size = Math.max(6, input.value.length + 1);
      const pencil = h("span", "fwv-edit", "\u270E"); // ✎
      pencil.setAttribute("aria-hidden", "true");
      input.addEventListener("change", () => this.rename(label, input.value));
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") input.blur(); });
      chip.append(dot, input, pencil);
      legend.appendChild(chip);
    });
    legend.style.display = sp.length ? "" : "none";
    // speaker picker of the editing toolbar
    const sel = this.spkSelect;
    sel.textContent = "";
    const head = /** @type {HTMLOptionElement} */ (h("option", "", "Speaker…"));
    head.value = "";
    sel.appendChild(head);
    sp.forEach((label) => {
      const o = /** @type {HTMLOptionElement} */ (h("option", "", nm[label] || label));
      o.value = label;
      sel.appendChild(o);
    });
    const o = /** @type {HTMLOptionElement} */ (h("option", "", "+ new speaker"));
    o.value = "\u0000new";
    sel.appendChild(o);
  }

  /**
   * @param {string} label
   * @param {string} value
   */
  rename(label, value) {
    const next = { ...this.names() };
    const v = (value || "").trim();
    if (v && v !== label) next[label] = v; else delete next[label];
    this.model.set("speaker_names", next);
    this.model.save_changes();
  }

  onNames() {
    this.renderLegend();
    for (const [i, e] of this.live) this.fillRow(e, i);
  }

  // ---- playback ------------------------------------------------------------------------------
  /**
   * Row and word position under time `t` (-1 when none).
   * @param {number} t
   * @returns {[number, number]}
   */
  locate(t) {
    let seg = lastLE(this.segStarts, this.n, t);
    if (seg >= 0 && t > this.rows[seg][1] + 0.25) seg = -1;
    let wj = -1;
    const w = seg >= 0 ? this.words[seg] : null;
    if (w) {
      wj = lastLE(w.start, w.start.length, t);
      if (wj >= 0 && t > w.end[wj] + 0.6) wj = -1;
    }
    return [seg, wj];
  }

  /**
   * @param {number} seg
   * @param {number} wj
   */
  setActive(seg, wj) {
    const segChanged = seg !== this.activeSeg;
    if (segChanged || wj !== this.activeWord) {
      for (const e of this.root.querySelectorAll(".fwv-w-active")) e.classList.remove("fwv-w-active");
      const prev = this.activeSeg;
      this.activeSeg = seg;
      this.activeWord = wj;
      if (segChanged) {
        const old = this.live.get(prev);
        if (old) old.classList.remove("fwv-row-active");
        const e = this.live.get(seg);
        if (e) e.classList.add("fwv-row-active");
        if (seg >= 0 && this.followBox.checked && !this.audio.paused && !this.rowVisible(seg)) this.scrollToRow(seg, true);
      }
      if (wj >= 0) {
        const row = this.live.get(seg);
        const span = row && row.querySelector(`.fwv-w[data-w="${wj}"]`);
        if (span) span.classList.add("fwv-w-active");
      }
    }
  }

  tick() {
    this.raf = 0;
    const [seg, wj] = this.locate(this.audio.currentTime);
    this.setActive(seg, wj);
    if (!this.audio.paused && !this.audio.ended) this.raf = requestAnimationFrame(() => this.tick());
  }

  /** Send the playback position to the kernel (keeps linked timelines in step). @param {number} t */
  report(t) {
    if (Math.abs(t - this.lastSent) < 0.2) return;
    this.lastSent = t;
    this.model.set("current_time", Math.round(t * 1000) / 1000);
    this.model.save_changes();
  }

  /**
   * Move the player (or, without audio, the highlight) to `t` seconds; `play` starts playback.
   * @param {number} t
   * @param {boolean} [play]
   */
  seek(t, play) {
    const a = this.audio;
    if (this.model.get("has_audio") && this.audioUrl) {
      if (a.readyState >= 1) a.currentTime = t; else this.pendingSeek = t;
      if (play) {
        const p = a.play();
        if (p && p.catch) p.catch(() => {}); // e.g. autoplay refused: the seek stays
      }
    } else {
      const [seg, wj] = this.locate(t);
      this.setActive(seg, wj);
    }
    this.lastSent = -1;
    this.report(t);
  }

  togglePlay() {
    const a = this.audio;
    if (!this.audioUrl) return;
    if (a.paused) {
      const p = a.play();
      if (p && p.catch) p.catch(() => {});
    } else a.pause();
  }

  /** @param {number} dt */
  jump(dt) {
    const t = Math.max(0, (this.audioUrl ? this.audio.currentTime : this.model.get("current_time")) + dt);
    this.seek(t, false);
  }

  /** @param {number} dir */
  changeSpeed(dir) {
    const at = SPEEDS.indexOf(Number(this.speed.value));
    const k = Math.min(SPEEDS.length - 1, Math.max(0, (at < 0 ? 2 : at) + dir));
    this.speed.value = String(SPEEDS[k]);
    this.audio.playbackRate = SPEEDS[k];
  }

  onTime() {
    const t = this.model.get("current_time");
    const cur = this.audioUrl ? this.audio.currentTime : null;
    if (cur === null) {
      if (Math.abs(t - this.lastSent) > 0.01) { const [s, w] = this.locate(t); this.setActive(s, w); }
      if (this.activeSeg >= 0 && !this.rowVisible(this.activeSeg)) this.scrollToRow(this.activeSeg, true);
      return;
    }
    if (Math.abs(cur - t) > 0.75) {
      this.seek(t);
      const [s] = this.locate(t);
      if (s >= 0 && !this.rowVisible(s)) this.scrollToRow(s, true);
    }
  }

  // ---- mouse ------------------------------------------------------------------------------------
  // A click on a row or a word plays from there (like a line of the HTML page) and focuses the
  // word; Shift+click selects a run of words; a click on a speaker name only seeks.
  /** @param {MouseEvent} ev */
  onClick(ev) {
    const target = /** @type {HTMLElement} */ (ev.target);
    if (target.closest("input")) return;
    const w = /** @type {HTMLElement | null} */ (target.closest(".fwv-w"));
    const row = /** @type {HTMLElement | null} */ (target.closest(".fwv-row"));
    if (!row) return;
    const i = Number(row.dataset.i);
    if (w) {
      const pos = Number(w.dataset.w);
      if (ev.shiftKey && this.focus.i === i) {
        if (this.anchor < 0) this.anchor = this.focus.w;
        this.setFocus(i, pos, true);
        return;
      }
      this.setFocus(i, pos);
    } else {
      this.setFocus(i, this.words[i] ? 0 : -1);
    }
    const t = Number((w || row).dataset.start);
    if (Number.isFinite(t)) this.seek(t, !target.closest(".fwv-spk"));
  }

  /** @param {MouseEvent} ev */
  onDblClick(ev) {
    const target = /** @type {HTMLElement} */ (ev.target);
    const spk = /** @type {HTMLElement | null} */ (target.closest(".fwv-spk"));
    if (spk) { this.inlineRename(spk, ev); return; }
    if (!this.model.get("editable")) return;
    const w = /** @type {HTMLElement | null} */ (target.closest(".fwv-w"));
    const row = /** @type {HTMLElement | null} */ (target.closest(".fwv-row"));
    if (!row) return;
    ev.preventDefault();
    this.audio.pause();
    const i = Number(row.dataset.i);
    if (w) { this.setFocus(i, Number(w.dataset.w)); this.startEdit(); }
    else if (!this.words[i]) this.startTextEdit(i);
  }

  /**
   * Double-click a row's speaker name to rename that speaker in place.
   * @param {HTMLElement} spk
   * @param {MouseEvent} ev
   */
  inlineRename(spk, ev) {
    if (spk.querySelector("input")) return;
    const idx = Number(spk.dataset.speaker);
    const label = (this.model.get("speakers") || [])[idx];
    if (label === undefined) return;
    ev.preventDefault();
    const input = /** @type {HTMLInputElement} */ (h("input", "fwv-rename fwv-rename-inline"));
    input.value = this.speakerName(idx);
    input.dataset.speaker = label;
    spk.textContent = "";
    spk.appendChild(input);
    editInPlace(input, (save) => {
      if (save) this.rename(label, input.value);
      const row = /** @type {HTMLElement | null} */ (spk.closest(".fwv-row"));
      if (row) this.fillRow(row, Number(row.dataset.i));
    });
  }

  // ---- focus and keyboard -------------------------------------------------------------------------
  /**
   * @param {number} i row
   * @param {number} w word position in the row (-1: the row itself)
   * @param {boolean} [keepSel]
   */
  setFocus(i, w, keepSel) {
    if (!keepSel) this.anchor = -1;
    this.focus = { i, w };
    this.root.dataset.focus = i >= 0 ? `${i}:${w}` : "";
    if (i >= 0 && !this.rowVisible(i)) this.scrollToRow(i, true);
    this.paintFocus();
    const active = document.activeElement;
    if (!active || !this.root.contains(active)) this.scroller.focus({ preventScroll: true });
  }

  /** Focus and selection classes on the rendered rows (no re-render: a double click's
   * second click must land on the same word element as its first). */
  paintFocus() {
    for (const cls of ["fwv-w-focus", "fwv-w-sel", "fwv-row-focus"]) {
      for (const e of this.root.querySelectorAll(`.${cls}`)) e.classList.remove(cls);
    }
    const { i, w } = this.focus;
    const row = this.live.get(i);
    if (!row) return;
    row.classList.add("fwv-row-focus");
    const span = row.querySelector(`.fwv-w[data-w="${w}"]`);
    if (span) span.classList.add("fwv-w-focus");
    if (this.anchor >= 0) {
      const lo = Math.min(this.anchor, w), hi = Math.max(this.anchor, w);
      for (let j = lo; j <= hi; j++) {
        const e = row.querySelector(`.fwv-w[data-w="${j}"]`);
        if (e) e.classList.add("fwv-w-sel");
      }
    }
  }

  /** @param {number} dir */
  moveWord(dir) {
    const { i, w } = this.focus;
    const cnt = (/** @type {number} */ r) => { const ws = this.words[r]; return ws ? ws.k.length : 0; };
    if (i < 0) { const r = Math.max(0, this.activeSeg); this.setFocus(r, cnt(r) ? 0 : -1); return; }
    if (w + dir >= 0 && w + dir < cnt(i)) { this.setFocus(i, w + dir); return; }
    const r = i + dir;
    if (r < 0 || r >= this.n) return;
    this.setFocus(r, cnt(r) ? (dir > 0 ? 0 : cnt(r) - 1) : -1);
  }

  /** @param {number} dir */
  moveRow(dir) {
    const i = Math.min(this.n - 1, Math.max(0, (this.focus.i < 0 ? this.activeSeg : this.focus.i) + dir));
    this.setFocus(i, this.words[i] ? 0 : -1);
  }

  /**
   * The next (dir 1) or previous (-1) word below the threshold, or flagged row.
   * @param {number} dir
   */
  nextUncertain(dir) {
    const thr = Number(this.model.get("uncertainty_threshold")) || 0;
    let i = Math.max(0, this.focus.i), w = this.focus.w;
    for (let steps = 0; steps <= this.n; steps++) {
      const ws = this.words[i];
      const cnt = ws ? ws.k.length : 0;
      for (let j = w + dir; j >= 0 && j < cnt; j += dir) {
        const p = ws ? ws.p[j] : -1;
        if (p >= 0 && p < thr) { this.setFocus(i, j); this.seekFocus(false); return true; }
      }
      i += dir;
      if (i < 0 || i >= this.n) break;
      if (this.rows[i][4]) { this.setFocus(i, this.words[i] ? 0 : -1); this.seekFocus(false); return true; }
      w = dir > 0 ? -1 : (this.words[i] ? this.words[i].k.length : 0);
    }
    this.setStatus("no more uncertain words");
    return false;
  }

  /** @param {boolean} play */
  seekFocus(play) {
    const { i, w } = this.focus;
    if (i < 0) return;
    const ws = this.words[i];
    this.seek(ws && w >= 0 ? ws.start[w] : this.rows[i][0], play);
  }

  toggleHelp() {
    const open = this.help.style.display === "none";
    this.help.style.display = open ? "" : "none";
    this.root.classList.toggle("fwv-help-open", open);
  }

  /** @param {KeyboardEvent} ev */
  onKey(ev) {
    const t = /** @type {HTMLElement} */ (ev.target);
    const inField = t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA";
    if (inField && t !== this.scroller) return;
    const mod = ev.ctrlKey || ev.metaKey;
    const editable = !!this.model.get("editable");
    if (this.picking) { this.onPickKey(ev); return; }
    let done = true;
    if (mod && (ev.key === "z" || ev.key === "Z") && editable) this.edit(() => ({ op: ev.shiftKey ? "redo" : "undo" }));
    else if (mod && (ev.key === "y" || ev.key === "Y") && editable) this.edit(() => ({ op: "redo" }));
    else if (ev.key === "Escape" || (ev.ctrlKey && (ev.key === " " || ev.code === "Space"))) {
      if (this.help.style.display !== "none" && ev.key === "Escape") this.toggleHelp();
      else this.togglePlay();
    } else if (mod && ev.key === "ArrowLeft") this.jump(-JUMP);
    else if (mod && ev.key === "ArrowRight") this.jump(JUMP);
    else if (ev.shiftKey && (ev.key === "ArrowLeft" || ev.key === "ArrowRight")) {
      const { i, w } = this.focus;
      const ws = this.words[i];
      if (i >= 0 && ws) {
        if (this.anchor < 0) this.anchor = w;
        const nw = Math.min(ws.k.length - 1, Math.max(0, w + (ev.key === "ArrowLeft" ? -1 : 1)));
        this.setFocus(i, nw, true);
      }
    } else if (ev.key === "ArrowRight") this.moveWord(1);
    else if (ev.key === "ArrowLeft") this.moveWord(-1);
    else if (ev.key === "ArrowDown") this.moveRow(1);
    else if (ev.key === "ArrowUp") this.moveRow(-1);
    else if (ev.key === "[") this.changeSpeed(-1);
    else if (ev.key === "]") this.changeSpeed(1);
    else if (ev.key === "?") this.toggleHelp();
    else if (ev.key === "n" || ev.key === "N") this.nextUncertain(ev.shiftKey ? -1 : 1);
    else if (ev.key === "Enter" && !mod) {
      if (editable && this.focus.i >= 0) {
        if (this.focus.w >= 0) this.startEdit(); else this.startTextEdit(this.focus.i);
      } else this.seekFocus(true);
    } else if (editable && (ev.key === "Delete" || ev.key === "Backspace")) this.deleteWord();
    else if (editable && (ev.key === "Insert" || ev.key === "+")) this.startInsert();
    else if (editable && (ev.key === "s" || ev.key === "S")) this.splitHere();
    else if (editable && (ev.key === "m" || ev.key === "M")) this.mergeHere();
    else if (editable && (ev.key === "p" || ev.key === "P")) this.startPick();
    else done = false;
    if (done) { ev.preventDefault(); ev.stopPropagation(); }
  }

  // ---- editing ------------------------------------------------------------------------------------
  onEditable() {
    const editable = !!this.model.get("editable");
    this.editTools.style.display = editable ? "" : "none";
    this.undoBtn.disabled = !this.model.get("can_undo");
    this.redoBtn.disabled = !this.model.get("can_redo");
    this.root.classList.toggle("fwv-editable", editable);
  }

  onThreshold() {
    const thr = Number(this.model.get("uncertainty_threshold")) || 0;
    this.thr.value = String(thr);
    this.thrValue.textContent = thr.toFixed(2);
    for (const [i, e] of this.live) this.fillRow(e, i);
  }

  /**
   * Queue an edit: `make` builds the op from the state when it is sent (after earlier patches).
   * @param {() => any} make
   * @param {(msg: any) => void} [after] called with the patch
   */
  edit(make, after) {
    this.queue.push(() => ({ make, after }));
    this.pump();
  }

  pump() {
    if (this.inFlight || !this.queue.length) return;
    const item = /** @type {() => any} */ (this.queue.shift())();
    const op = item.make();
    if (!op) { this.pump(); return; }
    const seq = `${this.viewId}-${++this.seq}`;
    this.inFlight = { seq, sent: performance.now(), after: item.after };
    this.root.dataset.pending = "1";
    this.model.send({ type: "edit", seq, op });
  }

  /**
   * @param {any} msg
   * @param {boolean} ok
   */
  finishEdit(msg, ok) {
    const f = this.inFlight;
    if (!f || msg.seq !== f.seq) return;
    this.inFlight = null;
    if (ok) {
      this.applyPatch(msg);
      if (f.after) f.after(msg);
      else this.clampFocus();
      this.root.dataset.lastEditMs = String(Math.round((performance.now() - f.sent) * 10) / 10);
      this.root.dataset.edits = String(Number(this.root.dataset.edits || 0) + 1);
      if (!this.status.classList.contains("fwv-error")) this.setStatus("");
    } else {
      this.setStatus(msg.message, true);
      this.root.dataset.editError = msg.message;
    }
    delete this.root.dataset.pending;
    this.pump();
  }

  clampFocus() {
    let { i, w } = this.focus;
    if (i < 0) return;
    i = Math.min(i, this.n - 1);
    const cnt = this.words[i] ? this.words[i].k.length : 0;
    w = cnt ? Math.min(Math.max(w, 0), cnt - 1) : -1;
    this.setFocus(i, w);
  }

  /** Editor index of the focused word, or -1. */
  focusK() {
    const { i, w } = this.focus;
    const ws = i >= 0 ? this.words[i] : null;
    return ws && w >= 0 ? ws.k[w] : -1;
  }

  /**
   * An input over the focused word (or after it, to insert); Enter commits, Esc cancels.
   * @param {string} value
   * @param {(text: string) => void} commit
   * @param {HTMLElement | null} anchorEl
   * @param {boolean} [after] place it after `anchorEl` instead of over it
   */
  inlineInput(value, commit, anchorEl, after) {
    if (!anchorEl) return;
    const input = /** @type {HTMLInputElement} */ (h("input", "fwv-word-input"));
    input.value = value;
    input.size = Math.max(4, value.length + 2);
    if (after) anchorEl.after(document.createTextNode(" "), input);
    else { anchorEl.style.display = "none"; anchorEl.after(input); }
    editInPlace(input, (save) => {
      const v = input.value;
      input.remove();
      anchorEl.style.display = "";
      this.scroller.focus({ preventScroll: true });
      if (save) commit(v); else this.refreshRow(this.focus.i);
    });
  }

  focusSpan() {
    const row = this.live.get(this.focus.i);
    return row ? /** @type {HTMLElement | null} */ (row.querySelector(`.fwv-w[data-w="${this.focus.w}"]`)) : null;
  }

  startEdit() {
    const { i } = this.focus;
    const k = this.focusK();
    const span = this.focusSpan();
    if (k < 0 || !span) return;
    const old = span.textContent || "";
    this.inlineInput(old, (v) => {
      const toks = v.split(/\s+/).filter(Boolean);
      if (!toks.length) { this.deleteWord(); return; }
      if (toks.join(" ") === old) return;
      this.edit(() => ({ op: "edit_word", segment: i, word: k, text: toks[0] }));
      toks.slice(1).forEach((tok, n) => {
        this.edit(() => ({ op: "insert_word", segment: i, word: k + 1 + n, text: tok }),
          () => this.setFocus(i, this.posOfK(i, k + 1 + n)));
      });
    }, span);
  }

  startInsert() {
    const { i } = this.focus;
    if (i < 0 || !this.model.get("editable")) return;
    const k = this.focusK();
    const span = this.focusSpan();
    const row = this.live.get(i);
    const at = k < 0 ? 0 : k + 1;
    const anchorEl = span || (row ? /** @type {HTMLElement} */ (row.lastChild) : null);
    this.inlineInput("", (v) => {
      v.split(/\s+/).filter(Boolean).forEach((tok, n) => {
        this.edit(() => ({ op: "insert_word", segment: i, word: at + n, text: tok }),
          () => this.setFocus(i, this.posOfK(i, at + n)));
      });
    }, anchorEl, true);
  }

  /**
   * Position in words[i] of the word with editor index k (or the nearest before).
   * @param {number} i
   * @param {number} k
   */
  posOfK(i, k) {
    const ws = this.words[i];
    if (!ws) return -1;
    const p = ws.k.indexOf(k);
    return p >= 0 ? p : Math.min(ws.k.length - 1, Math.max(0, lastLE(ws.k, ws.k.length, k)));
  }

  /** @param {number} i */
  startTextEdit(i) {
    const row = this.live.get(i);
    if (!row || !this.model.get("editable")) return;
    const body = /** @type {HTMLElement} */ (row.lastChild);
    this.inlineInput(String(this.rows[i][3]), (v) => {
      if (v.trim() !== String(this.rows[i][3]).trim()) this.edit(() => ({ op: "set_text", segment: i, text: v }));
    }, body);
  }

  deleteWord() {
    const { i } = this.focus;
    const k = this.focusK();
    if (k < 0) return;
    this.edit(() => ({ op: "delete_word", segment: i, word: k }));
  }

  splitHere() {
    const { i } = this.focus;
    const k = this.focusK();
    if (k <= 0) { this.setStatus("focus the word that should begin the new segment (not the first)", true); return; }
    this.edit(() => ({ op: "split", segment: i, word: k }), () => this.setFocus(i + 1, 0));
  }

  mergeHere() {
    const { i } = this.focus;
    if (i < 0) return;
    this.edit(() => ({ op: "merge", segment: i }));
  }

  // P, then a digit: the speaker of that number in the legend (0: a new speaker); Esc cancels.
  startPick() {
    if (this.focus.i < 0) return;
    /** @type {string[]} */
    const sp = this.model.get("speakers") || [];
    const nm = this.names();
    this.picking = true;
    this.root.dataset.picking = "1";
    const list = sp.slice(0, 9).map((label, n) => `${n + 1} ${nm[label] || label}`).join(" · ");
    this.setStatus(`Speaker: ${list} · 0 new speaker · Esc cancel`);
  }

  /** @param {KeyboardEvent} ev */
  onPickKey(ev) {
    if (["Shift", "Control", "Alt", "Meta"].includes(ev.key)) return;
    ev.preventDefault();
    ev.stopPropagation();
    this.picking = false;
    delete this.root.dataset.picking;
    this.setStatus("");
    /** @type {string[]} */
    const sp = this.model.get("speakers") || [];
    const d = ev.key >= "0" && ev.key <= "9" ? Number(ev.key) : -1;
    if (d === 0) {
      this.newSpk.style.display = "";
      this.newSpk.focus();
    } else if (d > 0 && d <= sp.length) {
      this.assignSpeaker(sp[d - 1]);
    }
  }

  onSpeakerPick() {
    const v = this.spkSelect.value;
    this.spkSelect.value = "";
    if (!v) return;
    if (v === "\u0000new") {
      this.newSpk.style.display = "";
      this.newSpk.focus();
      return;
    }
    this.assignSpeaker(v);
    this.scroller.focus({ preventScroll: true });
  }

  /** @param {string} label */
  assignSpeaker(label) {
    const { i, w } = this.focus;
    if (i < 0) return;
    const ws = this.words[i];
    /** @type {any} */
    const op = { op: "set_speaker", segment: i, speaker: label };
    if (ws && this.anchor >= 0 && this.anchor !== w) {
      const lo = Math.min(this.anchor, w), hi = Math.max(this.anchor, w);
      op.start = ws.k[lo];
      op.stop = ws.k[hi] + 1;
    }
    this.anchor = -1;
    this.edit(() => op);
  }

  // ---- copy / export ---------------------------------------------------------------------------------
  plainText() {
    return this.rows.map((r) => {
      const who = this.speakerName(r[2]);
      return `[${fmtTime(r[0])}] ${who ? who + ": " : ""}${r[3]}`;
    }).join("\n");
  }

  async copy() {
    const text = this.plainText();
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = /** @type {HTMLTextAreaElement} */ (h("textarea"));
      ta.value = text;
      this.root.appendChild(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    this.copyBtn.textContent = "Copied";
    setTimeout(() => { this.copyBtn.textContent = "Copy"; }, 1200);
  }

  /**
   * @param {any} msg
   * @param {any[]} buffers
   */
  download(msg, buffers) {
    const blob = new Blob([bytesOf(buffers[0])], { type: msg.mime });
    const url = URL.createObjectURL(blob);
    const a = /** @type {HTMLAnchorElement} */ (h("a"));
    a.href = url;
    a.download = msg.filename;
    this.root.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // ---- messages and trait changes ---------------------------------------------------------------------
  /**
   * @param {any} msg
   * @param {any[]} buffers
   */
  onMsg(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    const rev = this.model.get("revision");
    if (msg.type === "segments" && msg.revision === rev) {
      if (this.model.get("segments_by_message")) this.setRows(msg.rows);
    } else if (msg.type === "words" && msg.revision === rev) {
      this.setWords(msg);
    } else if (msg.type === "patch" && msg.revision === rev) {
      if (this.inFlight && msg.seq === this.inFlight.seq) this.finishEdit(msg, true);
      else this.applyPatch(msg); // an edit made from Python or by another view
    } else if (msg.type === "edit_error") {
      this.finishEdit(msg, false);
    } else if (msg.type === "audio" && msg.revision === rev && buffers && buffers.length) {
      if (this.audioRev === rev && this.audioUrl) return; // this view already has it
      if (this.audioUrl) URL.revokeObjectURL(this.audioUrl);
      this.audioUrl = URL.createObjectURL(new Blob([bytesOf(buffers[0])], { type: msg.mime }));
      this.audioRev = rev;
      this.audio.src = this.audioUrl;
      this.audio.playbackRate = Number(this.speed.value);
      this.audio.style.display = "";
      this.root.dataset.audioMime = msg.mime;
      const t = this.model.get("current_time");
      if (t > 0) this.pendingSeek = t;
    } else if (msg.type === "audio_error") {
      this.setStatus(msg.message, true);
    } else if (msg.type === "export") {
      this.download(msg, buffers);
    } else if (msg.type === "export_error") {
      this.setStatus(msg.message, true);
    }
  }

  boxHeight() {
    // At most `height` px; shorter when the rows need less (36 px when there are none).
    const max = this.model.get("height") || 420;
    let px = max;
    if (!this.model.get("n_segments")) px = 36;
    else if (this.n) px = Math.min(max, Math.ceil(this.offsets[this.n]) + 2);
    const want = `${px}px`;
    if (this.scroller.style.height !== want) this.scroller.style.height = want;
  }

  reload() {
    const { model } = this;
    this.title.textContent = model.get("title") || "";
    this.boxHeight();
    this.audio.style.display = model.get("has_audio") && this.audioUrl ? "" : "none";
    if (!model.get("has_audio") && this.audioUrl) {
      URL.revokeObjectURL(this.audioUrl);
      this.audioUrl = null;
      this.audio.removeAttribute("src");
    }
    this.wordsMsg = null;
    this.inFlight = null;
    this.queue = [];
    this.focus = { i: -1, w: -1 };
    this.setRows(model.get("segments_by_message") ? [] : model.get("segments"));
  }

  onEmpty() {
    if (!this.n && !this.model.get("n_segments")) this.setStatus(this.model.get("empty_text") || "");
  }
}

/**
 * Edit `input` in place: focus it with its text selected; Enter saves, Esc cancels, leaving
 * it saves. `finish(save)` runs once. Keys and clicks stay inside (the viewer's own keys and
 * its row clicks do not see them).
 * @param {HTMLInputElement} input
 * @param {(save: boolean) => void} finish
 */
function editInPlace(input, finish) {
  input.focus();
  input.select();
  let done = false;
  const end = (/** @type {boolean} */ save) => {
    if (done) return;
    done = true;
    finish(save);
  };
  input.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter" || e.key === "Escape") {
      e.preventDefault();
      end(e.key === "Enter");
    }
  });
  input.addEventListener("blur", () => end(true));
  input.addEventListener("click", (e) => e.stopPropagation());
  input.addEventListener("dblclick", (e) => e.stopPropagation());
}

/**
 * @param {string} text
 * @param {string} q
 * @returns {Array<[number, number]>}
 */
function findRanges(text, q) {
  /** @type {Array<[number, number]>} */
  const out = [];
  if (!q) return out;
  let at = text.indexOf(q);
  while (at >= 0) {
    out.push([at, at + q.length]);
    at = text.indexOf(q, at + q.length);
  }
  return out;
}

/**
 * @param {HTMLElement} body
 * @param {string} text
 * @param {Array<[number, number]>} ranges
 */
function markText(body, text, ranges) {
  body.textContent = "";
  let at = 0;
  for (const [x, y] of ranges) {
    if (x > at) body.appendChild(document.createTextNode(text.slice(at, x)));
    body.appendChild(h("mark", "fwv-hit", text.slice(x, y)));
    at = y;
  }
  if (at < text.length) body.appendChild(document.createTextNode(text.slice(at)));
}

export { speakerColor, fmtTime };

/** @param {{model: Model, el: HTMLElement}} ctx */
function render({ model, el }) {
  const view = new ViewerView(model, el);
  return () => view.destroy();
}

export default { render };
