"""How audio and markers become WebSocket frames (sans-I/O): frame sizes and marker JSON.

Audio goes out as PCM16 LE, 16 kHz, mono binary frames of `chunk_ms` (default 100 ms = 3200
bytes); markers are small JSON text frames (see "Wire protocol" in `_stream_protocol`).

Decisions: audio is never held back for framing once there is enough for a frame: a rest of
at least the spec's 50 ms minimum goes out as its own frame, a shorter rest rides on the last
full frame of the same call. So a producer whose blocks do not line up with `chunk_ms` (a
resampler's output, a 48 kHz microphone) never waits a block. Frames are between `min_bytes`
and `chunk_bytes + min_bytes` long; only `finish()` sends a shorter one (the flushed rest).
"""

from __future__ import annotations

import json
import uuid

from fw_asr_widgets import _wire

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2
MIN_FRAME_SAMPLES = 800
"""50 ms at 16 kHz: the shortest audio frame the spec recommends."""
DEFAULT_CHUNK_MS = 100.0


def chunk_bytes(chunk_ms: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Bytes in one full audio frame of `chunk_ms` (10 to 1000 ms)."""
    if not 10 <= chunk_ms <= 1000:
        raise ValueError(f"chunk_ms must be between 10 and 1000 ms, not {chunk_ms}")
    return int(round(chunk_ms * sample_rate / 1000)) * BYTES_PER_SAMPLE


def min_frame_bytes(chunk: int) -> int:
    """The shortest frame sent on its own (50 ms, or a whole chunk when chunks are shorter)."""
    return min(chunk, MIN_FRAME_SAMPLES * BYTES_PER_SAMPLE)


def frame_sizes(total: int, chunk: int, minimum: int) -> list[int]:
    """Sizes of the frames `total` buffered bytes make now (what stays buffered is the rest)."""
    full, rest = divmod(total, chunk)
    sizes = [chunk] * full
    if rest >= minimum:
        sizes.append(rest)
    elif rest and sizes:
        sizes[-1] += rest
    return sizes


def new_id() -> str:
    """A short random marker id."""
    return uuid.uuid4().hex[:12]


def trace_json(trace_id: str) -> str:
    """A `stt.input.trace` marker."""
    msg = {"event_id": uuid.uuid4().hex, "object": _wire.STREAM_TRACE, "trace_id": trace_id}
    return json.dumps(msg)


def checkpoint_json(checkpoint_id: str) -> str:
    """A `{"checkpoint_id": ...}` flush request."""
    return json.dumps({"checkpoint_id": checkpoint_id})


def clear_json(reset_id: str) -> str:
    """A `stt.state.clear` event."""
    msg = {"event_id": uuid.uuid4().hex, "object": _wire.STREAM_CLEAR, "reset_id": reset_id}
    return json.dumps(msg)
