// @ts-check
// Uploader front end: drop zone + file picker + path/URL box; sends files in acknowledged
// slices ({type:"slice", file_id, index, final, name, size} + one buffer) and renders the
// per-file status rows that the kernel keeps in the `files` trait. While the server works on a
// file, its row counts the seconds since `started_at` (kernel clock, epoch seconds) and, when
// the kernel gave an `estimate`, says about how long is left.

import * as shared from "./_shared.js";

const { h } = shared;

function newId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "").slice(0, 16);
  return Math.random().toString(16).slice(2) + Date.now().toString(16);
}

const STATE_TEXT = {
  uploading: "uploading",
  queued: "queued",
  transcribing: "transcribing…",
  done: "done",
  error: "error",
};

/**
 * State text of a row being transcribed: elapsed seconds and what the estimate says is left.
 * @param {{started_at?: number, estimate?: number}} r
 * @param {number} nowSeconds
 * @returns {{text: string, fraction: number | null}}
 */
export function transcribingText(r, nowSeconds) {
  const started = Number(r.started_at) || 0;
  const elapsed = started > 0 ? Math.max(0, Math.floor(nowSeconds - started)) : 0;
  const estimate = Number(r.estimate) || 0;
  let text = `transcribing… ${elapsed} s`;
  if (estimate > 0) {
    const left = Math.ceil(estimate - elapsed);
    text += left > 0
      ? ` · about ${left} s left`
      : ` · longer than the ${Math.round(estimate)} s estimated, almost done?`;
    return { text, fraction: Math.min(0.95, elapsed / estimate) };
  }
  return { text, fraction: null };
}

function render({ model, el }) {
  const root = h("div", "fwu");
  const zone = h("div", "fwu-zone");
  zone.tabIndex = 0;
  zone.setAttribute("role", "button");
  zone.append(
    h("div", "fwu-zone-title", "Drop audio or video files here"),
    h("div", "fwu-zone-sub", "or click to choose (any size, several at once)"),
  );
  const input = h("input", "fwu-input");
  input.type = "file";
  input.multiple = true;
  input.accept = "audio/*,video/*,.wav,.mp3,.flac,.ogg,.opus,.m4a,.aac,.webm,.mp4,.aiff,.aif,.wma";
  input.style.display = "none";
  const pathRow = h("div", "fwu-pathrow");
  const pathBox = h("input", "fwu-path");
  pathBox.type = "text";
  pathBox.placeholder = "…or a path on the kernel's machine, or an http(s) URL";
  const addBtn = h("button", "fwu-btn fwu-add", "Transcribe");
  pathRow.append(pathBox, addBtn);
  const settings = h("div", "fwu-settings");
  const list = h("div", "fwu-list");
  root.append(zone, input, pathRow, settings, list);
  el.appendChild(root);

  // ---- acknowledged slices ----------------------------------------------------------------
  const waiting = new Map(); // `${fileId}:${index}` -> {resolve, reject}
  const failed = new Map(); // fileId -> message
  const local = new Map(); // fileId -> fraction sent (shown until the kernel's row exists)

  function waitAck(fileId, index) {
    return new Promise((resolve, reject) => waiting.set(`${fileId}:${index}`, { resolve, reject }));
  }

  function onMsg(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "slice_ack") {
      const w = waiting.get(`${msg.file_id}:${msg.index}`);
      if (w) { waiting.delete(`${msg.file_id}:${msg.index}`); w.resolve(); }
    } else if (msg.type === "slice_error") {
      failed.set(msg.file_id, msg.message);
      for (const [k, w] of waiting) {
        if (k.startsWith(`${msg.file_id}:`)) { waiting.delete(k); w.reject(new Error(msg.message)); }
      }
    }
  }
  model.on("msg:custom", onMsg);
  model.send({ type: "hello" }); // lets the kernel drop uploads whose page went away

  async function upload(file) {
    const id = newId();
    const size = file.size;
    const S = Math.max(1024, model.get("slice_size") || 524288);
    const W = Math.max(1, model.get("window") || 3);
    const total = Math.max(1, Math.ceil(size / S));
    const inflight = [];
    local.set(id, { name: file.name, size, sent: 0 });
    renderRows();
    try {
      for (let i = 0; i < total; i++) {
        if (failed.has(id)) return;
        const buf = await file.slice(i * S, Math.min(size, (i + 1) * S)).arrayBuffer();
        const ack = waitAck(id, i);
        ack.catch(() => {});
        model.send(
          { type: "slice", file_id: id, index: i, final: i === total - 1, name: file.name, size },
          undefined,
          [buf],
        );
        inflight.push(ack);
        if (inflight.length >= W) await inflight.shift();
      }
      await Promise.all(inflight);
    } catch (err) {
      // the kernel has marked the row as failed; nothing else to do here
    } finally {
      local.delete(id);
    }
  }

  function take(files) {
    for (const f of Array.from(files || [])) upload(f);
  }

  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); }
  });
  input.addEventListener("change", () => { take(input.files); input.value = ""; });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (ev) => { ev.preventDefault(); zone.classList.add("fwu-over"); });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("fwu-over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("fwu-over");
    if (ev.dataTransfer) take(ev.dataTransfer.files);
  });
  function submitPath() {
    const v = pathBox.value.trim();
    if (!v) return;
    model.send({ type: "path", value: v });
    pathBox.value = "";
  }
  addBtn.addEventListener("click", submitPath);
  pathBox.addEventListener("keydown", (ev) => { if (ev.key === "Enter") submitPath(); });

  // ---- rows ----------------------------------------------------------------------------
  function renderRows() {
    list.textContent = "";
    settings.textContent = model.get("settings") || "";
    const rows = model.get("files") || [];
    const known = new Set(rows.map((r) => r.id));
    for (const r of rows) list.appendChild(row(r));
    for (const [id, l] of local) {
      if (!known.has(id)) {
        list.appendChild(row({ id, name: l.name, size_text: "", progress: 0, state: "uploading" }));
      }
    }
  }

  function row(r) {
    const e = h("div", `fwu-row fwu-${r.state}`);
    e.dataset.state = r.state;
    e.dataset.id = r.id;
    e.dataset.source = r.source || r.name;
    const name = h("span", "fwu-name", r.name);
    name.title = r.source || r.name;
    const size = h("span", "fwu-size", r.size_text || "");
    const bar = /** @type {HTMLProgressElement} */ (h("progress", "fwu-bar"));
    bar.max = 1;
    let text = STATE_TEXT[r.state] || r.state;
    if (r.state === "transcribing") {
      const t = transcribingText(r, Date.now() / 1000);
      text = t.text;
      if (t.fraction === null) bar.removeAttribute("value"); // indeterminate
      else bar.value = t.fraction;
    } else {
      bar.value = r.state === "done" ? 1 : Math.max(0, Math.min(1, r.progress || 0));
    }
    if (r.state === "uploading") text = `uploading ${Math.round((r.progress || 0) * 100)}%`;
    const state = h("span", "fwu-state", text);
    let info = r.state === "error" ? r.error : (r.summary || r.error || "");
    if (r.state === "done" && r.served_by) info += ` · ${r.served_by}`;
    const detail = h("span", "fwu-detail", info);
    if (r.served_by) detail.title = `Transcribed by ${r.served_by}`;
    e.append(name, size, bar, state, detail);
    if (r.state === "uploading") {
      const cancel = h("button", "fwu-btn fwu-cancel", "✕");
      cancel.title = "Cancel";
      cancel.addEventListener("click", () => model.send({ type: "cancel", file_id: r.id }));
      e.appendChild(cancel);
    }
    return e;
  }

  model.on("change:files", renderRows);
  model.on("change:settings", renderRows);
  renderRows();
  // Tick the elapsed time of rows being transcribed (only their state text and bar change).
  const ticker = setInterval(() => {
    for (const r of model.get("files") || []) {
      if (r.state !== "transcribing") continue;
      const e = list.querySelector(`.fwu-row[data-id="${r.id}"]`);
      if (!e) continue;
      const t = transcribingText(r, Date.now() / 1000);
      const state = e.querySelector(".fwu-state");
      if (state) state.textContent = t.text;
      const bar = /** @type {HTMLProgressElement | null} */ (e.querySelector(".fwu-bar"));
      if (bar && t.fraction !== null) bar.value = t.fraction;
    }
  }, 1000);

  return () => {
    clearInterval(ticker);
    model.off("msg:custom", onMsg);
    model.off("change:files", renderRows);
    model.off("change:settings", renderRows);
  };
}

export default { render };
