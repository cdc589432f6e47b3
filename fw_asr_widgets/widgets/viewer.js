// @ts-check
// TranscriptViewer front end: virtualised rows, audio player, word highlight, search, renames.
//
// Rows come from the `segments` trait ([start, end, speakerIndex, text]) or, for large
// transcripts, from a {type:"segments"} message; words and audio always come by message after
// this view sends {type:"ready"}. Only the rows in (and just around) the viewport are in the DOM:
// each row's height is estimated, then measured once it is rendered; `offsets` holds the prefix
// sums and a spacer element gives the scroll area its full height.
//
// Speaker colours come from the kernel (`palette`, `no_speaker_color` traits; one palette in
// fw_asr_widgets/_palette.py). A click on a row or a word plays from there (as in the HTML page).

/**
 * Colour of speaker `i` (order of first appearance; -1: no speaker) from the synced palette.
 * @param {{get: (name: string) => any}} model
 * @param {number} i
 * @returns {string}
 */
export function speakerColor(model, i) {
  /** @type {string[]} */
  const palette = model.get("palette") || [];
  const none = model.get("no_speaker_color") || "";
  return i >= 0 && palette.length ? palette[i % palette.length] : none;
}

export function fmtTime(t) {
  t = Math.max(0, Math.floor(t || 0));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

// Index of the last element of sorted `arr` (length n) that is <= x, or -1.
function lastLE(arr, n, x) {
  let lo = 0, hi = n - 1, ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= x) { ans = mid; lo = mid + 1; } else { hi = mid - 1; }
  }
  return ans;
}

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function bytesOf(buf) {
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

const EST_ROW = 46; // px, first guess of a row's height before it is measured
const OVERSCAN = 300; // px rendered above and below the viewport

function render({ model, el }) {
  const t0 = performance.now();
  const root = h("div", "fwv");
  el.appendChild(root);

  // ---- toolbar ------------------------------------------------------------------------
  const bar = h("div", "fwv-bar");
  const title = h("span", "fwv-title");
  const search = h("input", "fwv-search");
  search.type = "search";
  search.placeholder = "Search…";
  search.setAttribute("aria-label", "Search the transcript");
  const prevBtn = h("button", "fwv-btn fwv-prev", "◀");
  prevBtn.title = "Previous match (Shift+Enter)";
  const nextBtn = h("button", "fwv-btn fwv-next", "▶");
  nextBtn.title = "Next match (Enter)";
  const count = h("span", "fwv-count");
  const follow = h("label", "fwv-follow");
  const followBox = h("input");
  followBox.type = "checkbox";
  followBox.checked = true;
  follow.append(followBox, document.createTextNode(" follow"));
  const copyBtn = h("button", "fwv-btn fwv-copy", "Copy");
  copyBtn.title = "Copy the transcript as text";
  const exportBtns = ["srt", "vtt", "csv"].map((f) => {
    const b = h("button", `fwv-btn fwv-export fwv-export-${f}`, f.toUpperCase());
    b.title = `Download as ${f.toUpperCase()}`;
    b.dataset.format = f;
    return b;
  });
  bar.append(title, search, prevBtn, nextBtn, count, follow, copyBtn, ...exportBtns);

  const legend = h("div", "fwv-legend");
  const audio = h("audio", "fwv-audio");
  audio.controls = true;
  audio.preload = "auto";
  const status = h("div", "fwv-status");
  const scroller = h("div", "fwv-scroll");
  scroller.tabIndex = 0;
  const spacer = h("div", "fwv-spacer");
  scroller.appendChild(spacer);
  root.append(bar, legend, audio, status, scroller);

  // ---- state ----------------------------------------------------------------------------
  let rows = [];
  let n = 0;
  let segStarts = new Float64Array(0);
  let heights = new Float32Array(0);
  let offsets = new Float64Array(1);
  let lower = []; // lower-cased row text for search
  let words = null; // {seg, start, end, text, first: Int32Array, count: Int32Array, startsF}
  let wordsRev = -1;
  let wordsMsg = null;
  const live = new Map(); // row index -> element
  let activeSeg = -1, activeWord = -1;
  let matches = [], matchPos = -1, query = "";
  let audioUrl = null, audioRev = -1, pendingSeek = null;
  let raf = 0, frameQueued = false;
  let lastSent = -1;

  function names() { return model.get("speaker_names") || {}; }
  function speakerName(i) {
    const sp = model.get("speakers") || [];
    if (i < 0 || i >= sp.length) return "";
    return names()[sp[i]] || sp[i];
  }

  function setStatus(text, isError) {
    status.textContent = text || "";
    status.classList.toggle("fwv-error", !!isError);
  }

  function recomputeOffsets() {
    const o = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) o[i + 1] = o[i] + heights[i];
    offsets = o;
    spacer.style.height = `${o[n]}px`;
    boxHeight();
  }

  function setRows(newRows) {
    rows = newRows || [];
    n = rows.length;
    segStarts = new Float64Array(n);
    lower = new Array(n);
    for (let i = 0; i < n; i++) {
      segStarts[i] = rows[i][0];
      lower[i] = String(rows[i][3]).toLowerCase();
    }
    heights = new Float32Array(n).fill(EST_ROW);
    for (const e of live.values()) e.remove();
    live.clear();
    activeSeg = -1;
    activeWord = -1;
    recomputeOffsets();
    if (wordsMsg && wordsMsg.revision === model.get("revision")) setWords(wordsMsg);
    recomputeMatches(false);
    renderLegend();
    paint();
    if (n && !root.dataset.firstRowMs) {
      root.dataset.firstRowMs = String(Math.round(performance.now() - t0));
    }
    if (!n) {
      const total = model.get("n_segments");
      setStatus(total ? `loading ${total} segments…` : (model.get("empty_text") || ""));
      root.classList.toggle("fwv-empty", !total);
    } else if (!status.classList.contains("fwv-error")) {
      setStatus("");
    }
    if (n) root.classList.remove("fwv-empty");
  }

  function setWords(msg) {
    const m = msg.seg.length;
    const first = new Int32Array(Math.max(n, 1)).fill(-1);
    const cnt = new Int32Array(Math.max(n, 1));
    for (let j = 0; j < m; j++) {
      const s = msg.seg[j];
      if (s >= n) continue;
      if (first[s] < 0) first[s] = j;
      cnt[s]++;
    }
    words = {
      seg: msg.seg, start: Float64Array.from(msg.start), end: msg.end, text: msg.text,
      first, count: cnt, m,
    };
    wordsRev = msg.revision;
    wordsMsg = msg;
    for (const [i, e] of live) fillRow(e, i);
    schedule();
  }

  // ---- rows -------------------------------------------------------------------------------
  function fillRow(e, i) {
    const r = rows[i];
    e.dataset.i = String(i);
    e.dataset.start = String(r[0]);
    e.dataset.end = String(r[1]);
    e.style.borderLeftColor = speakerColor(model, r[2]);
    e.classList.toggle("fwv-row-active", i === activeSeg);
    e.classList.toggle("fwv-row-current-match", matchPos >= 0 && matches[matchPos] === i);
    const meta = e.firstChild;
    meta.firstChild.textContent = fmtTime(r[0]);
    const spk = meta.lastChild;
    spk.textContent = speakerName(r[2]);
    spk.style.color = speakerColor(model, r[2]);
    spk.title = r[2] >= 0 ? "Double-click to rename this speaker" : "";
    spk.dataset.speaker = String(r[2]);
    const body = e.lastChild;
    body.textContent = "";
    const w = words && wordsRev === model.get("revision") ? words : null;
    let parts = null, joined = "";
    if (w && w.first[i] >= 0) {
      const a = w.first[i], b = a + w.count[i];
      parts = [];
      for (let j = a; j < b; j++) {
        const txt = String(w.text[j]).trim();
        if (joined) joined += " ";
        parts.push([joined.length, joined.length + txt.length, txt]);
        joined += txt;
      }
      // Words without times are not sent: when they miss much of the text, show the text.
      const dense = (t) => t.replace(/\s+/g, "").length;
      if (dense(joined) < 0.8 * dense(String(r[3]))) parts = null;
    }
    if (parts) {
      const a = w.first[i], b = a + w.count[i];
      const ranges = query ? findRanges(joined.toLowerCase(), query) : [];
      for (let j = a; j < b; j++) {
        const [wa, wb, txt] = parts[j - a];
        if (j > a) body.appendChild(document.createTextNode(" "));
        const span = h("span", "fwv-w", txt);
        span.dataset.start = String(w.start[j]);
        span.dataset.end = String(w.end[j]);
        span.dataset.j = String(j);
        if (j === activeWord) span.classList.add("fwv-w-active");
        if (ranges.some(([x, y]) => x < wb && y > wa)) span.classList.add("fwv-hit");
        body.appendChild(span);
      }
    } else {
      markText(body, String(r[3]), query ? findRanges(lower[i], query) : []);
    }
  }

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

  function makeRow(i) {
    const e = h("div", "fwv-row");
    const meta = h("div", "fwv-meta");
    meta.append(h("span", "fwv-time"), h("span", "fwv-spk"));
    e.append(meta, h("div", "fwv-text"));
    fillRow(e, i);
    return e;
  }

  // Render the rows that intersect the viewport (± OVERSCAN), measure them, fix offsets.
  function paint(anchor) {
    frameQueued = false;
    if (!n) return;
    for (let pass = 0; pass < 3; pass++) {
      const top = scroller.scrollTop;
      const view = scroller.clientHeight || model.get("height") || 420;
      const anchorIdx = anchor !== undefined ? anchor : Math.max(0, lastLE(offsets, n, top));
      const anchorDelta = anchor !== undefined ? 0 : top - offsets[anchorIdx];
      const first = Math.max(0, lastLE(offsets, n, top - OVERSCAN));
      let last = first;
      while (last < n && offsets[last] < top + view + OVERSCAN) last++;
      for (const [i, e] of live) {
        if (i < first || i >= last) { e.remove(); live.delete(i); }
      }
      const fresh = [];
      for (let i = first; i < last; i++) {
        let e = live.get(i);
        if (!e) {
          e = makeRow(i);
          live.set(i, e);
          scroller.appendChild(e);
          fresh.push(i);
        }
        e.style.top = `${offsets[i]}px`;
      }
      let changed = false;
      for (let i = first; i < last; i++) {
        const hgt = live.get(i).offsetHeight;
        if (hgt && Math.abs(hgt - heights[i]) > 0.5) { heights[i] = hgt; changed = true; }
      }
      if (!changed) break;
      recomputeOffsets();
      for (const [i, e] of live) e.style.top = `${offsets[i]}px`;
      const want = offsets[anchorIdx] + anchorDelta;
      if (Math.abs(scroller.scrollTop - want) > 0.5) scroller.scrollTop = want;
    }
  }

  function schedule() {
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(() => paint());
  }

  function scrollToRow(i, center) {
    if (i < 0 || i >= n) return;
    const view = scroller.clientHeight || 420;
    const off = center ? Math.max(0, view / 3) : 0;
    scroller.scrollTop = Math.max(0, offsets[i] - off);
    paint(i);
    scroller.scrollTop = Math.max(0, offsets[i] - off);
    paint();
  }

  function rowVisible(i) {
    const top = scroller.scrollTop, view = scroller.clientHeight;
    return offsets[i] >= top && offsets[i + 1] <= top + view;
  }

  // ---- search ----------------------------------------------------------------------------
  function findRanges(text, q) {
    const out = [];
    if (!q) return out;
    let at = text.indexOf(q);
    while (at >= 0) {
      out.push([at, at + q.length]);
      at = text.indexOf(q, at + q.length);
    }
    return out;
  }

  function recomputeMatches(jump) {
    query = search.value.trim().toLowerCase();
    matches = [];
    if (query) for (let i = 0; i < n; i++) if (lower[i].includes(query)) matches.push(i);
    matchPos = -1;
    if (jump && matches.length) {
      // first match at or after the current position
      const cur = Math.max(0, activeSeg);
      matchPos = Math.max(0, matches.findIndex((i) => i >= cur));
      scrollToRow(matches[matchPos], true);
    }
    updateCount();
    for (const [i, e] of live) fillRow(e, i);
  }

  function step(dir) {
    if (!matches.length) { recomputeMatches(true); return; }
    matchPos = (matchPos + dir + matches.length) % matches.length;
    scrollToRow(matches[matchPos], true);
    updateCount();
    for (const [i, e] of live) fillRow(e, i);
  }

  function updateCount() {
    count.textContent = query
      ? (matches.length ? `${matchPos + 1}/${matches.length}` : "0 matches")
      : "";
    root.dataset.matches = String(matches.length);
  }

  let searchTimer = 0;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => recomputeMatches(true), 120);
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      clearTimeout(searchTimer);
      if (search.value.trim().toLowerCase() !== query) recomputeMatches(true);
      else step(ev.shiftKey ? -1 : 1);
    }
  });
  prevBtn.addEventListener("click", () => step(-1));
  nextBtn.addEventListener("click", () => step(1));

  // ---- legend / renames -------------------------------------------------------------------
  /** Speaker chips: a coloured dot, the (editable) name and a pencil cue. */
  function renderLegend() {
    legend.textContent = "";
    /** @type {string[]} */
    const sp = model.get("speakers") || [];
    const nm = names();
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
      const commit = () => rename(label, input.value);
      input.addEventListener("change", commit);
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") input.blur(); });
      chip.append(dot, input, pencil);
      legend.appendChild(chip);
    });
    legend.style.display = sp.length ? "" : "none";
  }

  // ---- playback ----------------------------------------------------------------------------
  function locate(t) {
    let seg = lastLE(segStarts, n, t);
    if (seg >= 0 && t > rows[seg][1] + 0.25) seg = -1;
    let wj = -1;
    if (words && words.m && wordsRev === model.get("revision")) {
      wj = lastLE(words.start, words.m, t);
      if (wj >= 0 && t > words.end[wj] + 0.6) wj = -1;
    }
    return [seg, wj];
  }

  function setActive(seg, wj) {
    if (seg !== activeSeg) {
      const old = live.get(activeSeg);
      if (old) old.classList.remove("fwv-row-active");
      activeSeg = seg;
      const e = live.get(seg);
      if (e) e.classList.add("fwv-row-active");
      if (seg >= 0 && followBox.checked && !audio.paused && !rowVisible(seg)) scrollToRow(seg, true);
    }
    if (wj !== activeWord) {
      for (const e of root.querySelectorAll(".fwv-w-active")) e.classList.remove("fwv-w-active");
      activeWord = wj;
      if (wj >= 0 && words) {
        const row = live.get(words.seg[wj]);
        const span = row && row.querySelector(`.fwv-w[data-j="${wj}"]`);
        if (span) span.classList.add("fwv-w-active");
      }
    }
  }

  function tick() {
    raf = 0;
    const [seg, wj] = locate(audio.currentTime);
    setActive(seg, wj);
    if (!audio.paused && !audio.ended) raf = requestAnimationFrame(tick);
  }

  function report(t) {
    // Send the playback position to the kernel (keeps linked timelines in step).
    if (Math.abs(t - lastSent) < 0.2) return;
    lastSent = t;
    model.set("current_time", Math.round(t * 1000) / 1000);
    model.save_changes();
  }

  audio.addEventListener("play", () => { if (!raf) raf = requestAnimationFrame(tick); });
  audio.addEventListener("timeupdate", () => {
    if (!raf) tick();
    report(audio.currentTime);
  });
  audio.addEventListener("seeked", () => { tick(); report(audio.currentTime); });
  audio.addEventListener("loadedmetadata", () => {
    if (pendingSeek !== null) { audio.currentTime = pendingSeek; pendingSeek = null; }
  });

  /**
   * Move the player (or, without audio, the highlight) to `t` seconds; `play` starts playback.
   * @param {number} t
   * @param {boolean} [play]
   */
  function seek(t, play) {
    if (model.get("has_audio") && audioUrl) {
      if (audio.readyState >= 1) audio.currentTime = t; else pendingSeek = t;
      if (play) {
        const p = audio.play();
        if (p && p.catch) p.catch(() => {}); // e.g. autoplay refused: the seek stays
      }
    } else {
      const [seg, wj] = locate(t);
      setActive(seg, wj);
    }
    lastSent = -1;
    report(t);
  }

  // A click on a row or a word plays from there (like a line of the HTML page); a click on a
  // speaker name only seeks (a double click there renames).
  scroller.addEventListener("click", (ev) => {
    const target = /** @type {HTMLElement} */ (ev.target);
    if (target.closest("input")) return;
    const w = target.closest(".fwv-w");
    const row = /** @type {HTMLElement | null} */ (target.closest(".fwv-row"));
    if (!row) return;
    const t = Number((/** @type {HTMLElement} */ (w || row)).dataset.start);
    if (Number.isFinite(t)) seek(t, !target.closest(".fwv-spk"));
  });
  scroller.addEventListener("scroll", schedule, { passive: true });

  // Double-click a row's speaker name to rename that speaker in place.
  function rename(label, value) {
    const next = { ...names() };
    const v = (value || "").trim();
    if (v && v !== label) next[label] = v; else delete next[label];
    model.set("speaker_names", next);
    model.save_changes();
  }
  scroller.addEventListener("dblclick", (ev) => {
    const spk = ev.target.closest(".fwv-spk");
    if (!spk || spk.querySelector("input")) return;
    const idx = Number(spk.dataset.speaker);
    const label = (model.get("speakers") || [])[idx];
    if (label === undefined) return;
    ev.preventDefault();
    const input = h("input", "fwv-rename fwv-rename-inline");
    input.value = speakerName(idx);
    input.dataset.speaker = label;
    spk.textContent = "";
    spk.appendChild(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (save) => {
      if (done) return;
      done = true;
      if (save) rename(label, input.value);
      const row = spk.closest(".fwv-row");
      if (row) fillRow(row, Number(row.dataset.i));
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      else if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
    input.addEventListener("click", (e) => e.stopPropagation());
  });

  function onTime() {
    const t = model.get("current_time");
    const cur = audioUrl ? audio.currentTime : null;
    if (cur === null) {
      if (Math.abs(t - lastSent) > 0.01) { const [s, w] = locate(t); setActive(s, w); }
      if (activeSeg >= 0 && !rowVisible(activeSeg)) scrollToRow(activeSeg, true);
      return;
    }
    if (Math.abs(cur - t) > 0.75) {
      seek(t);
      const [s] = locate(t);
      if (s >= 0 && !rowVisible(s)) scrollToRow(s, true);
    }
  }
  model.on("change:current_time", onTime);

  // ---- copy / export --------------------------------------------------------------------------
  function plainText() {
    return rows.map((r) => {
      const who = speakerName(r[2]);
      return `[${fmtTime(r[0])}] ${who ? who + ": " : ""}${r[3]}`;
    }).join("\n");
  }
  copyBtn.addEventListener("click", async () => {
    const text = plainText();
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = h("textarea");
      ta.value = text;
      root.appendChild(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    copyBtn.textContent = "Copied";
    setTimeout(() => { copyBtn.textContent = "Copy"; }, 1200);
  });
  for (const b of exportBtns) {
    b.addEventListener("click", () => model.send({ type: "export", format: b.dataset.format }));
  }
  function download(msg, buffers) {
    const blob = new Blob([bytesOf(buffers[0])], { type: msg.mime });
    const url = URL.createObjectURL(blob);
    const a = h("a");
    a.href = url;
    a.download = msg.filename;
    root.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // ---- messages and trait changes -----------------------------------------------------------
  function onMsg(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    const rev = model.get("revision");
    if (msg.type === "segments" && msg.revision === rev) {
      if (model.get("segments_by_message")) setRows(msg.rows);
    } else if (msg.type === "words" && msg.revision === rev) {
      setWords(msg);
    } else if (msg.type === "audio" && msg.revision === rev && buffers && buffers.length) {
      if (audioRev === rev && audioUrl) return; // this view already has it
      if (audioUrl) URL.revokeObjectURL(audioUrl);
      audioUrl = URL.createObjectURL(new Blob([bytesOf(buffers[0])], { type: msg.mime }));
      audioRev = rev;
      audio.src = audioUrl;
      audio.style.display = "";
      root.dataset.audioMime = msg.mime;
      const t = model.get("current_time");
      if (t > 0) pendingSeek = t;
    } else if (msg.type === "audio_error") {
      setStatus(msg.message, true);
    } else if (msg.type === "export") {
      download(msg, buffers);
    } else if (msg.type === "export_error") {
      setStatus(msg.message, true);
    }
  }
  model.on("msg:custom", onMsg);

  function boxHeight() {
    // At most `height` px; shorter when the rows need less (36 px when there are none).
    const max = model.get("height") || 420;
    let px = max;
    if (!model.get("n_segments")) px = 36;
    else if (n) px = Math.min(max, Math.ceil(offsets[n]) + 2);
    const want = `${px}px`;
    if (scroller.style.height !== want) scroller.style.height = want;
  }

  function reload() {
    title.textContent = model.get("title") || "";
    boxHeight();
    audio.style.display = model.get("has_audio") && audioUrl ? "" : "none";
    if (!model.get("has_audio") && audioUrl) {
      URL.revokeObjectURL(audioUrl);
      audioUrl = null;
      audio.removeAttribute("src");
    }
    words = null;
    wordsMsg = null;
    setRows(model.get("segments_by_message") ? [] : model.get("segments"));
  }
  model.on("change:revision", reload);
  function onNames() {
    renderLegend();
    for (const [i, e] of live) fillRow(e, i);
  }
  function onHeight() {
    boxHeight();
    schedule();
  }
  model.on("change:speaker_names", onNames);
  model.on("change:palette", onNames);
  model.on("change:no_speaker_color", onNames);
  function onEmpty() { if (!n && !model.get("n_segments")) setStatus(model.get("empty_text") || ""); }
  model.on("change:empty_text", onEmpty);
  model.on("change:height", onHeight);

  reload();
  const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(() => schedule()) : null;
  if (ro) ro.observe(scroller);
  model.send({ type: "ready" });

  return () => {
    if (raf) cancelAnimationFrame(raf);
    if (ro) ro.disconnect();
    model.off("msg:custom", onMsg);
    model.off("change:current_time", onTime);
    model.off("change:revision", reload);
    model.off("change:speaker_names", onNames);
    model.off("change:palette", onNames);
    model.off("change:no_speaker_color", onNames);
    model.off("change:empty_text", onEmpty);
    model.off("change:height", onHeight);
    audio.pause();
    if (audioUrl) URL.revokeObjectURL(audioUrl);
  };
}

export default { render };
