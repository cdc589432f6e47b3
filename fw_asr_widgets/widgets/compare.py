"""`compare()` / `CompareView`: transcripts of one recording side by side, word-aligned.

>>> fw.compare({"whisper-v3": a, "whisper-v3-turbo": b, "embedded": c}, audio="call.wav")
>>> fw.compare({"a": a, "b": b}, reference=Transcript.from_stm("call.stm"))
>>> fw.compare("call.wav", models=["whisper-v3", "whisper-v3-turbo"], client=client)

Rows are the segments of the pivot: the reference when given, else the first transcript.
Every other transcript is aligned to the pivot word by word (`Transcript.diff`, jiwer's
alignment) and its words are put in the row of the pivot word they align with (inserted
words in the row of the pivot word before them). Cells are ``[[text, kind, pivot_word],
...]`` with kind ``""`` (match), ``"sub"``, ``"ins"`` or ``"del"`` (a pivot word the
transcript lacks, shown struck through).

Messages: browser → kernel ``ready``; kernel → browser ``rows {rows}`` and ``audio {mime}``
+ 1 buffer (audio never in state, as in `TranscriptViewer`).

Decisions:
- WER is against the reference when there is one, else a matrix of each transcript against
  each other (row: taken as reference, column: scored), `Transcript.wer`'s normalisation.
- `Client.compare` (the API layer) runs the models and returns their transcripts; this
  module's `compare(file, models=..., client=...)` turns that into the widget, since the API
  layer may not import widgets (import-linter layers contract).
- Rows are a plain table (no virtualisation): a comparison is read segment by segment, and an
  hour of speech is ~1,000 rows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import traitlets

from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets._base import FwWidget, bundle
from fw_asr_widgets.widgets._media import encode_audio

if TYPE_CHECKING:
    from fw_asr_widgets.api.client import Client

__all__ = ["CompareView", "align_columns", "compare"]


def align_columns(
    transcripts: Mapping[str, Transcript], reference: Transcript | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and rows ``{start, end, speaker, cells: [cell per column]}``."""
    names = list(transcripts)
    if reference is not None:
        pivot, columns, others = reference, ["reference", *names], names
    else:
        pivot, columns, others = transcripts[names[0]], names, names[1:]
    segs = pivot.segments
    n = max(len(segs), 1)
    rows: list[dict[str, Any]] = [
        {
            "start": round(s.start, 3),
            "end": round(s.end, 3),
            "speaker": s.speaker or "",
            "cells": [[] for _ in columns],
        }
        for s in segs
    ] or [{"start": 0.0, "end": 0.0, "speaker": "", "cells": [[] for _ in columns]}]
    for r, s in zip(rows, segs, strict=False):
        r["cells"][0] = [[s.text, "", ""]]
    if not segs:
        rows[0]["cells"][0] = [[pivot.text, "", ""]]
    for name in others:
        col = columns.index(name)
        d = pivot.diff(transcripts[name])
        seg = 0
        for op, a_word, b_word, a_seg in zip(d.op, d.a_word, d.b_word, d.a_segment, strict=True):
            if op != "insertion" and a_seg is not None and a_seg == a_seg:  # not NA
                seg = min(max(int(a_seg), 0), n - 1)
            cell = rows[seg]["cells"][col]
            if op == "match":
                cell.append([str(b_word), "", ""])
            elif op == "substitution":
                cell.append([str(b_word), "sub", str(a_word)])
            elif op == "insertion":
                cell.append([str(b_word), "ins", ""])
            else:
                cell.append([str(a_word), "del", str(a_word)])
    return columns, rows


def wer_table(
    transcripts: Mapping[str, Transcript], reference: Transcript | None
) -> dict[str, Any]:
    """``{name: wer}`` against the reference, else ``{ref_name: {name: wer}}`` pairwise."""
    if reference is not None:
        return {k: round(t.wer(reference), 4) for k, t in transcripts.items()}
    return {
        a: {b: (0.0 if a == b else round(tb.wer(ta), 4)) for b, tb in transcripts.items()}
        for a, ta in transcripts.items()
    }


class CompareView(FwWidget):
    """Transcripts aligned in columns, differences coloured, click a row to play it."""

    _esm = bundle("compare.js")
    _css = bundle("compare.css")

    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    wer = traitlets.Dict().tag(sync=True)
    pairwise = traitlets.Bool(False).tag(sync=True)
    n_rows = traitlets.Int(0).tag(sync=True)
    has_audio = traitlets.Bool(False).tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        transcripts: Mapping[str, Transcript],
        *,
        reference: Transcript | None = None,
        audio: Any = None,
        sample_rate: int | None = None,
        height: int = 420,
        **kwargs: Any,
    ) -> None:
        if not isinstance(transcripts, Mapping) or not transcripts:
            raise TypeError("transcripts must be a non-empty dict of name -> Transcript")
        for k, t in transcripts.items():
            if not isinstance(t, Transcript):
                raise TypeError(f"transcripts[{k!r}] must be a Transcript, not {type(t).__name__}")
        if reference is not None and not isinstance(reference, Transcript):
            raise TypeError(f"reference must be a Transcript, not {type(reference).__name__}")
        if isinstance(audio, str | os.PathLike) and not Path(audio).is_file():
            raise FileNotFoundError(f"no such audio file: {os.fspath(audio)}")
        super().__init__(height=height, **kwargs)
        self.transcripts = dict(transcripts)
        self.reference = reference
        columns, rows = align_columns(self.transcripts, reference)
        self._rows = rows
        self._audio = audio
        self._sample_rate = sample_rate
        self._payload: tuple[bytes, str] | None = None
        self._lock = threading.Lock()
        self.columns = columns
        self.wer = wer_table(self.transcripts, reference)
        self.pairwise = reference is None
        self.n_rows = len(rows)
        self.has_audio = audio is not None
        first = next(iter(self.transcripts.values()))
        self.title = first.source or ""
        self.on_msg(self._on_msg)

    def diff(self, a: str, b: str) -> Any:
        """`Transcript.diff` of two columns (``"reference"`` names the reference)."""
        pick = {**self.transcripts, **({"reference": self.reference} if self.reference else {})}
        return pick[a].diff(pick[b])

    def _send_audio(self) -> None:
        with self._lock:
            if self._payload is None:
                try:
                    self._payload = encode_audio(self._audio, self._sample_rate)
                except Exception as exc:  # shown in the page
                    self.set_error(f"audio error: {exc}")
                    return
        data, mime = self._payload
        self.send({"type": "audio", "mime": mime}, [data])

    def _on_msg(self, _w: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ready":
            self.send({"type": "rows", "rows": self._rows})
            if self._audio is not None:
                threading.Thread(target=self._send_audio, daemon=True).start()


def compare(
    transcripts: Mapping[str, Transcript] | str | os.PathLike[str],
    *,
    reference: Transcript | str | os.PathLike[str] | None = None,
    audio: Any = None,
    models: Sequence[str] | None = None,
    client: Client | None = None,
    **options: Any,
) -> CompareView:
    """A `CompareView` of `transcripts` (name → Transcript); or, given an audio file and
    `models`, the transcripts `client.compare(file, models, **options)` makes (the file is
    then also the audio). `reference`: a Transcript or a reference file (.stm, .srt, ...)."""
    if isinstance(reference, str | os.PathLike):
        reference = Transcript.load(reference)
    if not isinstance(transcripts, Mapping):
        if not models:
            raise ValueError("compare(file, ...) needs models=[...] to run")
        from fw_asr_widgets.widgets._base import resolve_client

        file = transcripts
        transcripts = resolve_client(client).compare(file, models=list(models), **options)
        audio = file if audio is None else audio
    return CompareView(transcripts, reference=reference, audio=audio)
