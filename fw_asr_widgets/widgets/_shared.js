// @ts-check
// Helpers shared by the widgets' ES modules. anywidget loads each widget's `_esm` as one
// module text, so a module imports this file with the exact line
//   import * as shared from "./_shared.js";
// and `fw_asr_widgets.widgets._base.bundle` replaces that line by this file's source (wrapped
// as a `shared` object) when the widget class is defined. Only `export function` and
// `export const` declarations at the start of a line are exported.

/**
 * A new element with an optional class and text (typed by its tag: "input" gives an
 * HTMLInputElement).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [cls]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * Seconds as m:ss or h:mm:ss.
 * @param {number} t
 * @returns {string}
 */
export function fmtTime(t) {
  t = Math.max(0, Math.floor(t || 0));
  const hh = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
  const ss = String(s).padStart(2, "0");
  return hh ? `${hh}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Index of the last element of sorted `arr` (first `n` items) that is <= x, or -1.
 * @param {ArrayLike<number>} arr
 * @param {number} n
 * @param {number} x
 * @returns {number}
 */
export function lastLE(arr, n, x) {
  let lo = 0, hi = n - 1, ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= x) { ans = mid; lo = mid + 1; } else { hi = mid - 1; }
  }
  return ans;
}

/**
 * The bytes of a message buffer (ArrayBuffer or a typed-array view; never shared memory).
 * @param {ArrayBuffer | ArrayBufferView} buf
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function bytesOf(buf) {
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  return new Uint8Array(/** @type {ArrayBuffer} */ (buf.buffer), buf.byteOffset, buf.byteLength);
}

/**
 * Colour of speaker `i` (order of first appearance; -1: no speaker) from the synced palette
 * (`palette`, `no_speaker_color` traits; one palette in fw_asr_widgets/_palette.py).
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
