// @ts-check
// Timeline front end: who-spoke-when lanes on a canvas. Wheel (or the buttons) zooms around the
// pointer, drag pans, click sets `current_time` (a linked viewer seeks through the kernel).
// Colours come from the kernel's `palette` / `no_speaker_color` traits (one palette, in Python).
// With nothing to draw, `empty_text` is shown instead of the canvas.

const LABEL_W = 110;
const AXIS_H = 18;

import * as shared from "./_shared.js";

const { h } = shared;

function fmt(t) {
  const neg = t < 0;
  t = Math.abs(t);
  const hh = Math.floor(t / 3600), mm = Math.floor((t % 3600) / 60), ss = t % 60;
  const s = ss < 10 ? `0${ss.toFixed(ss % 1 ? 1 : 0)}` : ss.toFixed(ss % 1 ? 1 : 0);
  return (neg ? "-" : "") + (hh ? `${hh}:${String(mm).padStart(2, "0")}:${s}` : `${mm}:${s}`);
}

const STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

function render({ model, el }) {
  const root = h("div", "fwt");
  const bar = h("div", "fwt-bar");
  const zin = h("button", "fwt-btn fwt-zoom-in", "+");
  zin.title = "Zoom in";
  const zout = h("button", "fwt-btn fwt-zoom-out", "−");
  zout.title = "Zoom out";
  const zfit = h("button", "fwt-btn fwt-zoom-fit", "Fit");
  zfit.title = "Show everything";
  const range = h("span", "fwt-range");
  bar.append(zin, zout, zfit, range);
  const canvas = /** @type {HTMLCanvasElement} */ (h("canvas", "fwt-canvas"));
  const empty = h("div", "fwt-empty");
  root.append(bar, canvas, empty);
  el.appendChild(root);
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));

  /**
   * Colour of speaker `i` (-1: no speaker) from the synced palette.
   * @param {number} i
   * @returns {string}
   */
  function color(i) {
    /** @type {string[]} */
    const palette = model.get("palette") || [];
    const none = model.get("no_speaker_color") || "";
    return i >= 0 && palette.length ? palette[i % palette.length] : none;
  }

  /** True when there is nothing to draw: no spans and no known duration. */
  function isEmpty() { return !rows.length && !(model.get("duration") > 0); }

  let rows = [];
  let view = [0, 1];
  let width = 600;

  function lanes() {
    const sp = model.get("speakers") || [];
    const hasNone = rows.some((r) => r[2] < 0);
    const out = sp.map((label, i) => ({ i, label: (model.get("speaker_names") || {})[label] || label }));
    if (hasNone || !out.length) out.push({ i: -1, label: sp.length ? "(no speaker)" : "speech" });
    return out;
  }

  function total() {
    const d = model.get("duration") || 0;
    return Math.max(d, rows.length ? rows[rows.length - 1][1] : 0, 1);
  }

  function clampView(a, b) {
    const T = total();
    let span = Math.min(Math.max(b - a, 0.5), T);
    a = Math.max(0, Math.min(a, T - span));
    view = [a, a + span];
    root.dataset.viewStart = view[0].toFixed(3);
    root.dataset.viewEnd = view[1].toFixed(3);
  }

  function xOf(t) { return LABEL_W + ((t - view[0]) / (view[1] - view[0])) * (width - LABEL_W); }
  function tOf(x) { return view[0] + ((x - LABEL_W) / (width - LABEL_W)) * (view[1] - view[0]); }

  function draw() {
    const nothing = isEmpty();
    root.classList.toggle("fwt-empty-state", nothing);
    empty.textContent = nothing ? (model.get("empty_text") || "") : "";
    if (nothing) { root.dataset.spans = "0"; return; }
    const L = lanes();
    const lh = model.get("lane_height") || 26;
    const height = L.length * lh + AXIS_H;
    width = Math.max(200, root.clientWidth || el.clientWidth || 600);
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(root);
    const fg = style.color || "#222";
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "middle";
    const laneOf = new Map(L.map((l, k) => [l.i, k]));
    L.forEach((l, k) => {
      const y = k * lh;
      ctx.fillStyle = k % 2 ? "rgba(127,127,127,0.06)" : "rgba(127,127,127,0.12)";
      ctx.fillRect(LABEL_W, y, width - LABEL_W, lh);
      ctx.fillStyle = color(l.i);
      ctx.fillRect(4, y + lh / 2 - 5, 10, 10);
      ctx.fillStyle = fg;
      ctx.fillText(l.label.length > 14 ? `${l.label.slice(0, 13)}…` : l.label, 18, y + lh / 2);
    });
    // spans in view (rows are sorted by start)
    let lo = 0, hi = rows.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (rows[m][1] < view[0]) lo = m + 1; else hi = m; }
    for (let j = lo; j < rows.length && rows[j][0] <= view[1]; j++) {
      const [a, b, s] = rows[j];
      const k = laneOf.get(s);
      if (k === undefined) continue;
      const x0 = Math.max(LABEL_W, xOf(a)), x1 = Math.min(width, xOf(b));
      ctx.fillStyle = color(s);
      ctx.fillRect(x0, k * lh + 4, Math.max(1, x1 - x0), lh - 8);
    }
    // axis
    const y0 = L.length * lh;
    const span = view[1] - view[0];
    const step = STEPS.find((s) => (s / span) * (width - LABEL_W) >= 70) || 3600;
    ctx.fillStyle = fg;
    ctx.strokeStyle = "rgba(127,127,127,0.5)";
    ctx.textBaseline = "top";
    for (let t = Math.ceil(view[0] / step) * step; t <= view[1]; t += step) {
      const x = xOf(t);
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, y0 + 3);
      ctx.stroke();
      ctx.fillText(fmt(Math.round(t * 10) / 10), x + 2, y0 + 3);
    }
    // playhead
    const cur = model.get("current_time") || 0;
    if (cur >= view[0] && cur <= view[1]) {
      const x = xOf(cur);
      ctx.strokeStyle = "#e53935";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, y0);
      ctx.stroke();
      ctx.lineWidth = 1;
    }
    range.textContent = `${fmt(Math.round(view[0]))} – ${fmt(Math.round(view[1]))}`;
    root.dataset.spans = String(rows.length);
  }

  let queued = false;
  function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; draw(); });
  }

  function zoom(factor, centerT) {
    const c = centerT === undefined ? (view[0] + view[1]) / 2 : centerT;
    clampView(c - (c - view[0]) * factor, c + (view[1] - c) * factor);
    schedule();
  }

  zin.addEventListener("click", () => zoom(0.5));
  zout.addEventListener("click", () => zoom(2));
  zfit.addEventListener("click", () => { clampView(0, total()); schedule(); });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const rect = canvas.getBoundingClientRect();
    if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY) || ev.shiftKey) {
      const d = (ev.deltaX || ev.deltaY) / (width - LABEL_W) * (view[1] - view[0]);
      clampView(view[0] + d, view[1] + d);
      schedule();
    } else {
      zoom(Math.exp(ev.deltaY * 0.002), Math.max(view[0], tOf(ev.clientX - rect.left)));
    }
  }, { passive: false });

  let drag = null;
  canvas.addEventListener("pointerdown", (ev) => {
    drag = { x: ev.clientX, v: [...view], moved: false };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (drag.moved) {
      const d = (-dx / (width - LABEL_W)) * (drag.v[1] - drag.v[0]);
      clampView(drag.v[0] + d, drag.v[1] + d);
      schedule();
    }
  });
  canvas.addEventListener("pointerup", (ev) => {
    const d = drag;
    drag = null;
    if (!d || d.moved) return;
    const rect = canvas.getBoundingClientRect();
    const x = ev.clientX - rect.left;
    if (x < LABEL_W) return;
    const t = Math.max(0, Math.min(total(), tOf(x)));
    model.set("current_time", Math.round(t * 1000) / 1000);
    model.save_changes();
    schedule();
  });

  function reload() {
    rows = model.get("spans_by_message") ? [] : (model.get("spans") || []);
    clampView(0, total());
    schedule();
  }
  function onMsg(msg) {
    if (msg && msg.type === "spans" && msg.revision === model.get("revision")) {
      rows = msg.rows;
      clampView(0, total());
      schedule();
    }
  }
  const redrawOn = ["current_time", "speaker_names", "lane_height", "palette", "no_speaker_color", "empty_text"];
  /** @type {[string, (msg?: any) => void][]} */
  const listeners = [
    ["msg:custom", onMsg],
    ["change:revision", reload],
    ...redrawOn.map((name) => /** @type {[string, () => void]} */ ([`change:${name}`, schedule])),
  ];
  for (const [name, fn] of listeners) model.on(name, fn);
  const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(schedule) : null;
  if (ro) ro.observe(root);
  reload();
  model.send({ type: "ready" });

  return () => {
    if (ro) ro.disconnect();
    for (const [name, fn] of listeners) model.off(name, fn);
  };
}

export default { render };
