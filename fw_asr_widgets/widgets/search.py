"""`CorpusSearch`: search a transcribed corpus and play each hit from its file.

    corpus = fw.open_corpus("calls.transcripts/")
    fw.CorpusSearch(corpus, "refund")        # or corpus.search_widget("refund")

Decisions:
- The query box, the speaker filter and the hit rows are synced state (text only: file
  name, times, speaker, words, context). Audio never is: clicking a hit asks the kernel,
  which decodes `pad` seconds around the hit from the file on disk, encodes it as a small
  16 kHz WAV and sends it as a binary buffer of one custom message
  (``audio {index, start, end, mime}`` + 1 buffer). The browser plays it from a blob URL.
- Hits are capped at `limit` rows (the count of all hits is shown); the search itself runs
  in DuckDB (`Corpus.search`), so typing a new query costs well under a second on 1M words.
- Snippets are decoded in a worker thread so the kernel keeps answering; a newer click
  wins over an older one still decoding.
"""

from __future__ import annotations

import io
import os
import threading
import wave
from typing import Any

import anywidget
import numpy as np
import traitlets

from fw_asr_widgets.widgets._base import asset, bundle, friendly_error

SNIPPET_RATE = 16_000


def snippet_wav(path: str, start: float, end: float, pad: float = 0.5) -> tuple[bytes, float]:
    """Decode `[start - pad, end + pad]` of `path` as 16 kHz mono WAV; return it and its start."""
    from fw_asr_widgets.audio import float_to_pcm16, iter_decode

    t0 = max(0.0, start - pad)
    t1 = max(t0 + 0.05, end + pad)
    a, b = int(t0 * SNIPPET_RATE), int(t1 * SNIPPET_RATE)
    parts, pos = [], 0
    for block in iter_decode(path, sample_rate=SNIPPET_RATE, chunk_seconds=30.0):
        lo, hi = max(a - pos, 0), min(b - pos, len(block))
        if hi > lo:
            parts.append(block[lo:hi])
        pos += len(block)
        if pos >= b:
            break
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SNIPPET_RATE)
        w.writeframes(float_to_pcm16(samples))
    return buf.getvalue(), t0


class CorpusSearch(anywidget.AnyWidget):
    """Search box + hit list over a `Corpus`; click a hit to hear it (`pad` s around it)."""

    _esm = bundle("search.js")
    _css = asset("search.css")

    query = traitlets.Unicode("").tag(sync=True)
    speaker = traitlets.Unicode("").tag(sync=True)
    hits = traitlets.List(traitlets.Dict()).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    playing = traitlets.Int(-1).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        corpus: Any,
        query: str = "",
        *,
        speaker: str | None = None,
        limit: int = 200,
        context: int = 8,
        pad: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.corpus = corpus
        self.limit = limit
        self.context = context
        self.pad = pad
        self._paths: list[str] = []
        self._lock = threading.Lock()
        self._click = 0
        self.sent: list[tuple[int, int]] = []
        """(hit index, bytes) of every snippet sent (for inspection; never synced)."""
        self.on_msg(self._on_msg)
        self.observe(self._on_query, names=["query", "speaker"])
        self.speaker = speaker or ""
        self.query = query
        if query:
            self._search()

    def _on_query(self, _change: Any) -> None:
        self._search()

    def _search(self) -> None:
        q = self.query.strip()
        self.error = ""
        if not q:
            self.hits, self.total, self._paths = [], 0, []
            self.status = ""
            return
        try:
            df = self.corpus.search(q, speaker=self.speaker or None, context=self.context)
        except Exception as exc:  # a bad query is shown, the widget stays usable
            self.error = friendly_error(exc)
            return
        top = df.head(self.limit)
        self._paths = [str(p) for p in top["path"]]
        rows = []
        for i, r in enumerate(top.itertuples(index=False)):
            rows.append(
                {
                    "i": i,
                    "file": os.path.basename(str(r.path)),
                    "start": float(r.start),
                    "end": float(r.end),
                    "speaker": None if r.speaker is None or r.speaker != r.speaker else r.speaker,
                    "text": str(r.text),
                    "before": str(r.before),
                    "after": str(r.after),
                }
            )
        self.playing = -1
        self.total = len(df)
        self.hits = rows
        shown = f" (showing {len(rows)})" if len(rows) < len(df) else ""
        self.status = f"{len(df)} hits{shown}"

    def _on_msg(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "play":
            return
        try:
            index = int(content.get("index", -1))
        except (TypeError, ValueError):
            return
        if not 0 <= index < len(self.hits):
            return
        with self._lock:
            self._click += 1
            click = self._click
        threading.Thread(target=self._play, args=(index, click), daemon=True).start()

    def _play(self, index: int, click: int) -> None:
        hit = self.hits[index]
        try:
            data, t0 = snippet_wav(self._paths[index], hit["start"], hit["end"], self.pad)
        except Exception as exc:
            self.send({"type": "audio_error", "index": index, "message": friendly_error(exc)})
            return
        if click != self._click:
            return  # a newer click is being served
        self.playing = index
        self.sent.append((index, len(data)))
        self.send(
            {
                "type": "audio",
                "index": index,
                "start": t0,
                "hit_start": hit["start"],
                "mime": "audio/wav",
            },
            buffers=[data],
        )
