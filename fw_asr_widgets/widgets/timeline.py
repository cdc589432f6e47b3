"""`Timeline`: who-spoke-when lanes, one per speaker, zoomable; click to seek a linked viewer.

Linking: `Timeline(tr, viewer=v)` ties the two `current_time` traits (and the speaker renames)
together with `traitlets.link`, in the kernel. A click on the timeline sets its
`current_time`; the link sets the viewer's, whose page seeks the player; while the player
runs, the viewer reports its position and the timeline's playhead follows. This works for
any number of views of either widget, and for a timeline and viewer in different cells.

Spans are compact rows ``[start, end, speaker_index]`` (neighbouring spans of one speaker
merged). Like the viewer's segments they are synced state up to `SYNC_SEGMENT_LIMIT` spans and
a ``{"type": "spans", "revision", "rows"}`` message after ``{"type": "ready"}`` above that.

Decisions:
- Speaker colours come from `fw_asr_widgets._palette` (the `palette` / `no_speaker_color`
  traits), the same as the viewer, the HTML page and the notebook repr.
- With nothing to draw (no spans, no duration) the page shows `empty_text` instead of an empty
  0:00–0:01 axis with a made-up "speech" lane.
"""

from __future__ import annotations

from typing import Any

import traitlets

from fw_asr_widgets._palette import NO_SPEAKER_COLOR, PALETTE
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets._base import FwWidget, bundle
from fw_asr_widgets.widgets.viewer import SYNC_SEGMENT_LIMIT, TranscriptViewer, speaker_table

__all__ = ["Timeline", "speaker_spans"]

MERGE_GAP = 0.3
"""Spans of one speaker closer than this (seconds) are drawn as one."""


def speaker_spans(tr: Transcript, speakers: list[str]) -> list[list[Any]]:
    """``[start, end, speaker_index]`` runs from segments (or words when only they carry
    speakers), merged across gaps under `MERGE_GAP`; index -1 when there is no speaker."""
    index = {s: i for i, s in enumerate(speakers)}
    seg_has = any(s.speaker is not None for s in tr.segments)
    if not seg_has and any(w.speaker is not None for w in tr.words):
        items = [
            (w.start, w.end if w.end is not None else w.start, w.speaker)
            for w in tr.words
            if w.start is not None
        ]
    else:
        items = [(s.start, s.end, s.speaker) for s in tr.segments]
    rows: list[list[Any]] = []
    for start, end, spk in sorted(items, key=lambda x: x[0]):
        k = index.get(str(spk), -1) if spk is not None else -1
        if rows and rows[-1][2] == k and start - rows[-1][1] < MERGE_GAP:
            rows[-1][1] = max(rows[-1][1], round(end, 3))
        else:
            rows.append([round(start, 3), round(end, 3), k])
    return rows


class Timeline(FwWidget):
    """Who-spoke-when lanes (canvas), zoom with the wheel or the buttons, drag to pan.

    >>> v = TranscriptViewer(tr, audio="meeting.wav")
    >>> Timeline(tr, viewer=v)      # clicking the timeline seeks the viewer's player
    """

    _esm = bundle("timeline.js")
    _css = bundle("timeline.css")

    # Synced traits, one a line; the viewer declares the ones both views use the same way
    # (speakers, names, revision, duration, current_time: the front ends read them by name).
    speakers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    speaker_names = traitlets.Dict(value_trait=traitlets.Unicode()).tag(sync=True)
    spans = traitlets.List().tag(sync=True)
    n_spans = traitlets.Int(0).tag(sync=True)
    spans_by_message = traitlets.Bool(False).tag(sync=True)
    revision = traitlets.Int(0).tag(sync=True)
    duration = traitlets.Float(0.0).tag(sync=True)
    current_time = traitlets.Float(0.0).tag(sync=True)
    lane_height = traitlets.Int(26).tag(sync=True)
    palette = traitlets.List(traitlets.Unicode(), default_value=list(PALETTE)).tag(sync=True)
    no_speaker_color = traitlets.Unicode(NO_SPEAKER_COLOR).tag(sync=True)
    empty_text = traitlets.Unicode("No transcript to show.").tag(sync=True)

    def __init__(
        self,
        transcript: Transcript | None = None,
        viewer: TranscriptViewer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._links: list[traitlets.link] = []
        self._rows: list[list[Any]] = []
        self.on_msg(self._on_msg)
        self.set_transcript(transcript or Transcript(text=""))
        if viewer is not None:
            self.link(viewer)

    def set_transcript(self, transcript: Transcript) -> None:
        """Show another transcript; open views update in place."""
        if not isinstance(transcript, Transcript):
            raise TypeError(f"transcript must be a Transcript, not {type(transcript).__name__}")
        speakers = speaker_table(transcript)
        rows = speaker_spans(transcript, speakers)
        self._rows = rows
        by_message = len(rows) > SYNC_SEGMENT_LIMIT
        end = max((r[1] for r in rows), default=0.0)
        with self.hold_sync():
            self.speakers = speakers
            self.spans_by_message = by_message
            self.spans = [] if by_message else rows
            self.n_spans = len(rows)
            self.duration = float(max(transcript.duration or 0.0, end))
            self.revision += 1
        if by_message:
            self._push()

    def link(self, viewer: TranscriptViewer) -> None:
        """Follow `viewer`: shared `current_time` (click to seek) and speaker renames."""
        if not isinstance(viewer, TranscriptViewer):
            raise TypeError(f"viewer must be a TranscriptViewer, not {type(viewer).__name__}")
        self.unlink()
        self._links = [
            traitlets.link((viewer, "current_time"), (self, "current_time")),
            traitlets.link((viewer, "speaker_names"), (self, "speaker_names")),
        ]

    def unlink(self) -> None:
        """Stop following a viewer."""
        for ln in self._links:
            ln.unlink()
        self._links = []

    def seek(self, seconds: float) -> None:
        """Move the playhead (and a linked viewer's player) to `seconds`."""
        if seconds != seconds or seconds < 0:  # NaN or negative
            raise ValueError(f"seek time must be a number ≥ 0, not {seconds!r}")
        self.current_time = float(seconds)

    def close(self) -> None:
        self.unlink()
        super().close()

    def _push(self) -> None:
        if self.comm is not None:
            self.send({"type": "spans", "revision": self.revision, "rows": self._rows})

    def _on_msg(self, _widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ready" and self.spans_by_message:
            self._push()
