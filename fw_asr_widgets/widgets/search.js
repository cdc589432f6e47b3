// Corpus search front end: a query box, a hit list; click a hit -> the kernel sends that
// snippet's audio as one binary message, played here from a blob URL (never synced state).

import * as shared from "./_shared.js";

const { h } = shared;

function fmt(t) {
  const m = Math.floor(t / 60), s = t - m * 60;
  return `${m}:${s < 10 ? "0" : ""}${s.toFixed(1)}`;
}

function render({ model, el }) {
  const root = h("div", "fws");
  const bar = h("div", "fws-bar");
  const q = h("input", "fws-query");
  q.type = "search";
  q.placeholder = "Search the corpus (a word, prefix*, or a phrase)";
  q.value = model.get("query");
  const spk = h("input", "fws-speaker");
  spk.placeholder = "speaker (any)";
  spk.value = model.get("speaker");
  const status = h("span", "fws-status");
  bar.append(q, spk, status);
  const err = h("div", "fws-error");
  const list = h("div", "fws-list");
  const audio = h("audio", "fws-audio");
  audio.controls = true;
  root.append(bar, err, list, audio);
  el.appendChild(root);
  let url = null;

  function submit() {
    model.set("speaker", spk.value);
    model.set("query", q.value);
    model.save_changes();
  }
  q.addEventListener("keydown", (e) => { if (e.key === "Enter") submit(); });
  spk.addEventListener("keydown", (e) => { if (e.key === "Enter") submit(); });

  function draw() {
    list.textContent = "";
    const playing = model.get("playing");
    for (const hit of model.get("hits")) {
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

  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "audio" && buffers && buffers.length) {
      if (url) URL.revokeObjectURL(url);
      const buf = buffers[0];
      url = URL.createObjectURL(new Blob([buf.buffer ? buf.buffer : buf], { type: msg.mime }));
      audio.src = url;
      audio.dataset.index = String(msg.index);
      audio.currentTime = 0;
      audio.play().catch(() => {});
    } else if (msg.type === "audio_error") {
      err.textContent = msg.message;
    }
  });
  model.on("change:hits", draw);
  model.on("change:playing", draw);
  model.on("change:status", draw);
  model.on("change:error", draw);
  model.on("change:query", () => { if (q.value !== model.get("query")) q.value = model.get("query"); });
  draw();
  return () => { if (url) URL.revokeObjectURL(url); };
}

export default { render };
