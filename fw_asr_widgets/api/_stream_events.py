"""The streaming session's value types: the events it delivers and the frames it sends.

Sans-I/O and dependency-free (a `Segment` is the only payload), so the protocol, the merge,
the metrics and both runners import them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from fw_asr_widgets.transcript import Segment


# ----------------------------------------------------------------------------------- events
# One small frozen dataclass per event type (so `match`/isinstance can tell them apart); they
# look alike by design.
@dataclass(frozen=True)
class SegmentUpdated:
    """The server sent a new version of `segment` (partial or final)."""

    segment: Segment


@dataclass(frozen=True)
class SegmentFinal:
    """`segment` became final: all its words are `is_final`. Follows its `SegmentUpdated`."""

    segment: Segment


@dataclass(frozen=True)
class Checkpoint:
    """The server processed everything sent before the marker `trace_id`.

    `kind` is "trace" for a trace echo and "checkpoint" for a `checkpoint_id` echo (then every
    segment before it is final).
    """

    trace_id: str
    kind: str = "trace"


@dataclass(frozen=True)
class StateCleared:
    """The server acknowledged `stt.state.clear` with `reset_id` (a fresh context)."""

    reset_id: str


@dataclass(frozen=True)
class ErrorEvent:
    """The server (or a malformed message) reported an error; the stream ends with it."""

    type: str
    message: str


@dataclass(frozen=True)
class Reconnecting:
    """The connection dropped; the runner reconnects after `delay` s (attempt `attempt`)."""

    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True)
class Closed:
    """The stream ended (`code`/`reason` of the last WebSocket close; None if none)."""

    code: int | None
    reason: str


StreamEvent = (
    SegmentUpdated | SegmentFinal | Checkpoint | StateCleared | ErrorEvent | Reconnecting | Closed
)


# ----------------------------------------------------------------------------------- frames
@dataclass(frozen=True)
class Frame:
    """One WebSocket frame to send: `data` is bytes (audio) or str (JSON event).

    `end_sample` is the global audio position (samples since the stream start) after this
    frame; `seq` numbers frames; `created` is when the protocol made it (for metrics).
    """

    data: bytes | str
    end_sample: int
    kind: str  # "audio" | "trace" | "checkpoint" | "clear"
    seq: int = 0
    trace_id: str | None = None
    created: float = 0.0


@dataclass(frozen=True)
class ReconnectPlan:
    """What a new connection must be sent first: `audio` (PCM16) from `start_sample`, whose
    server-side time 0 is `offset` seconds into the stream; `markers` are (position, kind,
    id) of the traces and checkpoints sent but not answered yet, in sending order."""

    audio: bytes
    start_sample: int
    offset: float
    markers: tuple[tuple[int, str, str], ...] = ()


__all__ = [
    "Checkpoint",
    "Closed",
    "ErrorEvent",
    "Frame",
    "ReconnectPlan",
    "Reconnecting",
    "SegmentFinal",
    "SegmentUpdated",
    "StateCleared",
    "StreamEvent",
]
