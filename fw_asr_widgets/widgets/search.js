// @ts-check
// Corpus search front end: a query box, a hit list; click a hit -> the kernel sends that
// snippet's audio as one binary message, played here from a blob URL (never synced state).

import * as shared from "./_shared.js";

const { h, bytesOf } = shared;

/**
 * One hit as the kernel sends it in the `hits` trait (`fw_asr_widgets.widgets.search`).
 * @typedef {{i: number, file: string, start: number, end: number, speaker: string | null,
 *            before: string, text: string, after: string}} Hit
 */
/**
 * The part of the anywidget model this view uses.
 * @typedef {{get: (name: string) => any, set: (name: string, value: any) => void,
 *            save_changes: () => void, send: (content: any) => void,
 *            on: (name: string, fn: (...args: any[]) => void) => void,
 *            off: (name: string, fn: (...args: any[]) => void) => void}} Model
 */

/**
 * Seconds as m:ss.s (a hit's start inside its file).
 * @param {number} t
 * @returns {string}
 */
function fmt(t) {
  const m = Math.floor(t / 60), s = t - m * 60;
  return `${m}:${s < 10 ? "0" : ""}${s.toFixed(1)}`;
}

/**
 * @param {{model: Model, el: HTMLElement}} ctx
 * @returns {() => void} cleanup
 */
function render({ model, el }) {
  const root = h("div", "fws");
  const bar = h("div", "fws-bar");
  const q = /** @type {HTMLInputElement} */ (h("input", "fws-query"));
  q.type = "search";
  q.placeholder = "Search the corpus (a word, prefix*, or a phrase)";
  q.value = model.get("query");
  const spk = /** @type {HTMLInputElement} */ (h("input", "fws-speaker"));
  spk.placeholder = "speaker (any)";
  spk.value = model.get("speaker");
  const status = h("span", "fws-status");
  bar.append(q, spk, status);
  const err = h("div", "fws-error");
  const list = h("div", "fws-list");
  const audio = /** @type {HTMLAudioElement} */ (h("audio", "fws-audio"));
  audio.controls = true;
  root.append(bar, err, list, audio);
  el.appendChild(root);
  /** @type {string | null} */
  let url = null;

  function submit() {
    model.set("speaker", spk.value);
    model.set("query", q.value);
    model.save_changes();
  }
  /** @param {KeyboardEvent} e */
  const onEnter = (e) => { if (e.key === "Enter") submit(); };
  q.addEventListener("keydown", onEnter);
  spk.addEventListener("keydown", onEnter);

  function draw() {
    list.textContent = "";
    const playing = model.get("playing");
    for (const hit of /** @type {Hit[]} */ (model.get("hits"))) {
      const row = h("div", "fws-hit" + (hit.i === playing ? " fws-playing" : ""));
      row.dataset.index = String(hit.i);
      row.title = "Click to play";
      row.append(h("span", "fws-file", hit.file), h("span", "fws-time", fmt(hit.start)));
      const line = h("span", "fws-line");
      if (hit.speaker) line.append(h("span", "fws-spk", hit.speaker));
      line.append(h("span", "fws-ctx", hit.before ? `…${hit.before} ` : ""),
                  h("span", "fws-match", hit.text),
                  h("span", "fws-ctx", hit.after ? ` ${hit.after}…` : ""));
      row.append(line);
      row.addEventListener("click", () => model.send({ type: "play", index: hit.i }));
      list.appendChild(row);
    }
    status.textContent = model.get("status");
    err.textContent = model.get("error");
  }

  /**
   * @param {{type: string, index?: number, mime?: string, message?: string}} msg
   * @param {(ArrayBuffer | ArrayBufferView)[]} [buffers]
   */
  function onMsg(msg, buffers) {
    if (msg.type === "audio" && buffers && buffers.length) {
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(new Blob([bytesOf(buffers[0])], { type: msg.mime }));
      audio.src = url;
      audio.dataset.index = String(msg.index);
      audio.currentTime = 0;
      audio.play().catch(() => {});
    } else if (msg.type === "audio_error") {
      err.textContent = msg.message || "";
    }
  }
  function syncQuery() {
    if (q.value !== model.get("query")) q.value = model.get("query");
  }
  /** @type {[string, (...args: any[]) => void][]} */
  const listeners = [
    ["msg:custom", onMsg],
    ["change:hits", draw],
    ["change:playing", draw],
    ["change:status", draw],
    ["change:error", draw],
    ["change:query", syncQuery],
  ];
  for (const [name, fn] of listeners) model.on(name, fn);
  draw();
  return () => {
    for (const [name, fn] of listeners) model.off(name, fn);
    if (url) URL.revokeObjectURL(url);
  };
}

export default { render };
