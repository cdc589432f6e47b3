"""Sans-I/O streaming transcription protocol: frames out, events in, one merged transcript.

No sockets here. Feed it audio (`send_audio`), markers (`trace`), the end (`finish`) and every
text frame the server sends (`receive_text`); it returns the frames to write and the events to
deliver, and holds the merged state (`transcript`). The runners in `_stream_runners` do the I/O.

Wire protocol (Fireworks `/v1/audio/transcriptions/streaming`, see docs/fireworks-audio-api.md,
"Streaming"):

- binary frames: PCM16 LE, 16 kHz, mono, `chunk_ms` long (default 100 ms = 3200 bytes); a
  partial chunk is buffered until it fills or `finish()` flushes it;
- text frames: `{"event_id", "object": "stt.input.trace", "trace_id"}` markers, echoed by the
  server once everything before them is processed; `{"checkpoint_id": X}` asks the server to
  flush and finalise everything before it and is answered by a message carrying
  `"checkpoint_id": X`; `{"event_id", "object": "stt.state.clear", "reset_id"}` clears the
  server's context (answered `{"object": "stt.state.cleared", "reset_id"}`);
- server messages (verbose_json): `{"segments": [{"id": 0, "text", "start", "end", "words":
  [{"word", "start", "end", "probability", "is_final", ...}]}], "language"?}`; segment ids are
  numbers per the reference (strings, as an earlier guess of the protocol had them, are read
  too); every listed segment replaces the entry with its id, unlisted ids keep their last state;
  trace echoes come as `{"object": "stt.output.trace", "trace_id"}` or, from older servers, as
  a transcript message with a `trace_id` field (both read); errors are `{"error": {"type",
  "message"}}`.

End of audio (decision): `finish(checkpoint=True)`, which the runners use, sends
`{"checkpoint_id": "final"}` and then the trace `"final"`. The checkpoint is the end-of-audio
message of the reference page's example, the cookbook notebook and Node client and the LiveKit
plugin, and the only one documented to finalise; the trace after it is what the cookbook's
Python script ends with, and its echo (either shape) says that everything, the checkpoint
included, was processed, so it ends the stream. A server that only knows traces answers the
checkpoint with an `invalid_request_error` frame: that one error, arriving while the final
checkpoint is unanswered, is not fatal (it is kept in `refused_checkpoints`) and the trace
ends the stream; any other error still is. A server that echoes the checkpoint but not the
trace is handled by the runners (they stop waiting shortly after the checkpoint echo, or at a
clean close). `finish()` without `checkpoint` sends the trace alone.

Merged state (decisions):

- A segment is final when it has words and all are `is_final` (or the segment itself carries
  `"is_final": true`).
- Order: connection by connection (each connection covers later audio than the previous one),
  and by id within a connection in numeric order (numbers or digit strings: "9" before "10";
  other strings after them), which is the spec's "id order".
- Replace by id only. LiveKit's extra rule (drop local ids above the highest id in a message)
  is not applied: with messages that list only the segments that changed, a message revising
  an older segment alone would delete the newer ones, and a server whose messages satisfy both
  rules (as the reference asks) gives the same state without it. A server withdraws a segment
  by listing it empty (`"words": []`, `"text": ""`), which both rules read the same way.
- Timestamps restart at zero in each streaming session (each connection): times from
  connection n get that connection's offset added (the stream position of its first audio
  sample), so the transcript keeps one time axis across reconnects.
- Resume after a dropped connection (`begin_reconnect`): a new server session starts at t=0 with
  ids from "0" again, so segments are keyed by (connection number, server id); their public id
  is the server id on the first connection and `"<n>:<id>"` on connection n. Every time from
  connection n gets the connection's offset added. The kept transcript is the old connections'
  final segments up to the first non-final one; of that one, its final word prefix is kept as a
  final segment. Everything after is dropped, and the audio from the end of the last kept word
  (`reconnect_plan()`) is sent again on the new connection, so no speech is lost.
- De-duplication at the seam: word times are only good to ~0.3 s, so the re-sent audio may start
  inside the last kept word. On connection n the leading words that repeat the tail of the kept
  transcript (longest match of up to 8 words, normalised, starting within 2 s of the seam) are
  dropped, so nothing is transcribed twice.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fw_asr_widgets import _wire
from fw_asr_widgets._wire import normalize_word  # the key used to spot repeated words at a seam
from fw_asr_widgets.transcript import Segment, Transcript, Word

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2
MIN_FRAME_SAMPLES = 800
"""50 ms at 16 kHz: the shortest audio frame the spec recommends."""
DEFAULT_CHUNK_MS = 100.0
FINAL_TRACE_ID = "final"
SEAM_WINDOW_S = 2.0
"""Only words starting within this many seconds after a seam are checked for repeats."""
SEAM_MAX_WORDS = 8

log = logging.getLogger("fw_asr_widgets.streaming")


# ----------------------------------------------------------------------------------- events
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


@dataclass
class _SegState:
    gen: int
    sid: str
    seg: Segment  # times already offset, public id set
    final: bool
    final_words: int  # length of the leading run of is_final words


@dataclass
class _Latency:
    first_seen: float
    first_audio_end: float
    gen: int
    text: str = ""
    final_at: float | None = None
    final_audio_end: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _id_key(sid: str) -> tuple[int, int, str]:
    """Numeric ids (and digit strings: "9" < "10") first in numeric order, other ids after."""
    try:
        return (0, int(sid), "")
    except ValueError:
        return (1, 0, sid)


def _wire_id(value: Any) -> Any:
    """A segment id as sent: numbers (3 or 3.0) and strings ("3") all become "3"."""
    if isinstance(value, bool):
        raise ValueError(f"a segment id must be a number or a string, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _join_words(words: Iterable[Word]) -> str:
    ws = [w.word for w in words]
    if any(w[:1].isspace() for w in ws):
        return "".join(ws).strip()
    return " ".join(w.strip() for w in ws).strip()


def _shift(seg: Segment, offset: float, public_id: str) -> Segment:
    if offset == 0.0:
        return replace(seg, id=public_id)
    words = tuple(
        replace(
            w,
            start=None if w.start is None else w.start + offset,
            end=None if w.end is None else w.end + offset,
        )
        for w in seg.words
    )
    return replace(seg, id=public_id, start=seg.start + offset, end=seg.end + offset, words=words)


class StreamProtocol:
    """The streaming session's state machine; see the module docstring for the rules.

    Thread safety: none; the thread runner serialises calls with a lock.
    """

    def __init__(self, *, chunk_ms: float = DEFAULT_CHUNK_MS, sample_rate: int = SAMPLE_RATE):
        if not 10 <= chunk_ms <= 1000:
            raise ValueError(f"chunk_ms must be between 10 and 1000 ms, not {chunk_ms}")
        self.sample_rate = sample_rate
        self.chunk_samples = int(round(chunk_ms * sample_rate / 1000))
        self.chunk_bytes = self.chunk_samples * BYTES_PER_SAMPLE
        # Audio is never held back for framing once there is enough for a frame: a rest of at
        # least the spec's 50 ms minimum goes out as its own frame, a shorter rest rides on
        # the last full frame of the same call. So a producer whose blocks do not line up
        # with `chunk_ms` (a resampler's output, a 48 kHz microphone) never waits a block.
        # Frames are between `min_bytes` and `chunk_bytes + min_bytes` long.
        self.min_bytes = min(self.chunk_bytes, MIN_FRAME_SAMPLES * BYTES_PER_SAMPLE)
        self._buf = bytearray()
        self._produced = 0  # samples turned into frames
        self._written = 0  # samples handed to a socket
        self._hist = bytearray()  # audio from _hist_start to _produced
        self._hist_start = 0
        self._seq = 0
        self.generation = 0
        self._offsets: list[int] = [0]  # start sample of each connection
        self._seams: dict[int, tuple[float, tuple[str, ...]]] = {}
        self._segs: dict[tuple[int, str], _SegState] = {}
        self._order: list[tuple[int, str]] = []
        self._view: dict[str, Segment] = {}
        self._pid_key: dict[str, tuple[int, str]] = {}
        self._was_final: dict[str, bool] = {}
        self._transcript: Transcript | None = Transcript(text="")
        self._language: str | None = None
        # pending markers, in sending order: (kind, id) -> position; kind "trace"/"checkpoint"
        self._markers: dict[tuple[str, str], int] = {}
        self._markers_written: set[tuple[str, str]] = set()
        self._finish_called = False
        self.finished = False  # the final trace echo arrived
        self.checkpoint_finished = False  # the final checkpoint echo arrived
        self.refused_checkpoints: list[str] = []  # errors that answered a checkpoint
        # metrics
        self._write_ends: list[list[int]] = [[]]
        self._write_times: list[list[float]] = [[]]
        self._chunks: list[tuple[int, int, int, int, float, float]] = []
        self._seg_lat: dict[str, _Latency] = {}
        self._word_lat: dict[tuple[str, int], _Latency] = {}

    # ------------------------------------------------------------------------- outgoing
    @property
    def samples_sent(self) -> int:
        """Samples turned into frames so far (the partial chunk buffer not included)."""
        return self._produced

    @property
    def samples_written(self) -> int:
        """Samples the runner reported written to a socket (`mark_written`)."""
        return self._written

    @property
    def finish_called(self) -> bool:
        return self._finish_called

    def frames_for(self, nbytes: int) -> int:
        """How many frames `send_audio` of `nbytes` bytes will return now."""
        return len(self._frame_sizes(len(self._buf) + nbytes))

    def _frame_sizes(self, total: int) -> list[int]:
        full, rest = divmod(total, self.chunk_bytes)
        sizes = [self.chunk_bytes] * full
        if rest >= self.min_bytes:
            sizes.append(rest)
        elif rest and sizes:
            sizes[-1] += rest
        return sizes

    def _audio_frame(self, data: bytes, now: float) -> Frame:
        self._produced += len(data) // BYTES_PER_SAMPLE
        self._hist += data
        self._seq += 1
        return Frame(data, self._produced, "audio", self._seq, None, now)

    def send_audio(
        self, pcm: bytes | bytearray | memoryview, now: float | None = None
    ) -> list[Frame]:
        """Buffer PCM16 LE 16 kHz mono bytes; return the frames to send now: full chunks, the
        rest as a frame of its own if it is 50 ms or more, else riding on the last chunk."""
        if self._finish_called:
            raise RuntimeError("the stream is finishing; no more audio can be sent")
        data = bytes(pcm)
        if len(data) % BYTES_PER_SAMPLE:
            raise ValueError("PCM16 audio must have an even number of bytes")
        now = time.monotonic() if now is None else now
        self._buf += data
        frames: list[Frame] = []
        pos = 0
        for size in self._frame_sizes(len(self._buf)):
            frames.append(self._audio_frame(bytes(self._buf[pos : pos + size]), now))
            pos += size
        del self._buf[:pos]
        return frames

    def _trace_frame(self, trace_id: str, pos: int, now: float) -> Frame:
        msg = {"event_id": uuid.uuid4().hex, "object": _wire.STREAM_TRACE, "trace_id": trace_id}
        self._seq += 1
        return Frame(json.dumps(msg), pos, "trace", self._seq, trace_id, now)

    def _checkpoint_frame(self, checkpoint_id: str, pos: int, now: float) -> Frame:
        self._seq += 1
        data = json.dumps({"checkpoint_id": checkpoint_id})
        return Frame(data, pos, "checkpoint", self._seq, checkpoint_id, now)

    def _marker_frame(self, kind: str, mid: str, pos: int, now: float) -> Frame:
        if kind == "checkpoint":
            return self._checkpoint_frame(mid, pos, now)
        return self._trace_frame(mid, pos, now)

    def trace(self, trace_id: str | None = None, now: float | None = None) -> Frame:
        """A trace marker after all audio sent so far (the partial chunk is not flushed)."""
        if self._finish_called:
            raise RuntimeError("the stream is finishing; no more traces can be sent")
        trace_id = trace_id or uuid.uuid4().hex[:12]
        if trace_id == FINAL_TRACE_ID:
            raise ValueError('trace_id "final" is reserved: call finish()')
        self._markers[("trace", trace_id)] = self._produced
        return self._trace_frame(trace_id, self._produced, time.monotonic() if now is None else now)

    def clear(self, reset_id: str | None = None, now: float | None = None) -> Frame:
        """A `stt.state.clear` event (the server starts a fresh context)."""
        msg = {
            "event_id": uuid.uuid4().hex,
            "object": _wire.STREAM_CLEAR,
            "reset_id": reset_id or uuid.uuid4().hex[:12],
        }
        self._seq += 1
        return Frame(
            json.dumps(msg),
            self._produced,
            "clear",
            self._seq,
            None,
            time.monotonic() if now is None else now,
        )

    def finish(self, now: float | None = None, *, checkpoint: bool = False) -> list[Frame]:
        """Flush the partial chunk and return it with the end-of-audio message(s): the final
        trace marker, preceded by `{"checkpoint_id": "final"}` when `checkpoint` is true (what
        the streams send; see "End of audio" in the module docstring)."""
        if self._finish_called:
            return []
        now = time.monotonic() if now is None else now
        frames: list[Frame] = []
        if self._buf:
            frames.append(self._audio_frame(bytes(self._buf), now))
            self._buf.clear()
        self._finish_called = True
        if checkpoint:
            self._markers[("checkpoint", FINAL_TRACE_ID)] = self._produced
            frames.append(self._checkpoint_frame(FINAL_TRACE_ID, self._produced, now))
        self._markers[("trace", FINAL_TRACE_ID)] = self._produced
        frames.append(self._trace_frame(FINAL_TRACE_ID, self._produced, now))
        return frames

    def mark_written(self, frame: Frame, now: float | None = None) -> None:
        """The runner wrote `frame` to the current socket (records progress and metrics)."""
        now = time.monotonic() if now is None else now
        if frame.kind in ("trace", "checkpoint") and frame.trace_id is not None:
            self._markers_written.add((frame.kind, frame.trace_id))
        if frame.kind == "audio":
            self._written = max(self._written, frame.end_sample)
            self._write_ends[self.generation].append(frame.end_sample)
            self._write_times[self.generation].append(now)
            self._chunks.append(
                (
                    frame.seq,
                    self.generation,
                    frame.end_sample,
                    len(frame.data),
                    frame.created,
                    now,
                )
            )

    # ------------------------------------------------------------------------- incoming
    def receive_text(self, text: str, now: float | None = None) -> list[StreamEvent]:
        """Apply one server text frame; return the events it causes."""
        now = time.monotonic() if now is None else now
        try:
            msg = json.loads(text)
        except ValueError:
            return [ErrorEvent("invalid_message", f"the server sent non-JSON text: {text[:200]!r}")]
        if not isinstance(msg, dict):
            return [ErrorEvent("invalid_message", "the server sent a JSON value, not an object")]
        err = msg.get("error")
        if err:
            if isinstance(err, Mapping):
                etype = str(err.get("type") or "error")
                message = str(err.get("message") or err)
                if etype == "invalid_request_error" and self._refuse_checkpoint(message):
                    return []
                return [ErrorEvent(etype, message)]
            return [ErrorEvent("error", str(err))]
        events: list[StreamEvent] = []
        if msg.get("language"):
            self._language = str(msg["language"])
        segs = msg.get("segments") or []
        if not isinstance(segs, list):
            return [ErrorEvent("invalid_message", "'segments' is not a list")]
        listed: list[str] = []
        changed = False
        for i, d in enumerate(segs):
            if not isinstance(d, Mapping):
                return [ErrorEvent("invalid_message", "a segment is not an object")]
            try:
                pid = self._apply_segment(d, i)
            except (TypeError, ValueError) as exc:
                return [ErrorEvent("invalid_message", f"bad segment: {exc}")]
            if pid is not None:
                changed = True
                listed.append(pid)
        if changed:
            before = self._view
            self._rebuild()
            for pid in dict.fromkeys(listed):
                st = self._state_by_public(pid)
                new = self._view.get(pid)
                if new is None:  # withdrawn: its partial words are gone
                    if st is None or pid not in before:
                        continue
                    new = replace(st.seg, text="", words=())
                was_final = self._was_final.get(pid, False)
                became_final = st is not None and st.final and not was_final
                if before.get(pid) == new and not became_final:
                    continue
                events.append(SegmentUpdated(new))
                if became_final:
                    events.append(SegmentFinal(new))
                self._record_latency(new, st.final if st else False, now)
            self._was_final = {p: s.final for p, s in self._public_states()}
            self._trim_history(self.covered_sample())
        checkpoint_id = msg.get("checkpoint_id")
        if checkpoint_id is not None:
            checkpoint_id = str(checkpoint_id)
            self._markers.pop(("checkpoint", checkpoint_id), None)
            if checkpoint_id == FINAL_TRACE_ID and self._finish_called:
                self.checkpoint_finished = True
            events.append(Checkpoint(checkpoint_id, "checkpoint"))
        trace_id = msg.get("trace_id")
        if trace_id is not None:
            trace_id = str(trace_id)
            self._markers.pop(("trace", trace_id), None)
            if trace_id == FINAL_TRACE_ID:
                self.finished = True
            events.append(Checkpoint(trace_id))
        reset_id = msg.get("reset_id")
        if reset_id is not None:
            events.append(StateCleared(str(reset_id)))
        return events

    def _refuse_checkpoint(self, message: str) -> bool:
        """An `invalid_request_error` while a checkpoint waits for its answer: the server does
        not know checkpoints. Forget the oldest such checkpoint (a trace follows the final one)
        and say so; False when no checkpoint is waiting (the error is a real one)."""
        for key in self._markers:
            if key[0] == "checkpoint":
                del self._markers[key]
                self.refused_checkpoints.append(message)
                log.info(
                    "the server refused checkpoint %r (%s); the trace ends it", key[1], message
                )
                return True
        return False

    def _public_id(self, gen: int, sid: str) -> str:
        return sid if gen == 0 else f"{gen}:{sid}"

    def _state_by_public(self, pid: str) -> _SegState | None:
        key = self._pid_key.get(pid)
        return None if key is None else self._segs.get(key)

    def _trim_history(self, sample: int) -> None:
        cut = sample - self._hist_start
        if cut > 0:
            del self._hist[: cut * BYTES_PER_SAMPLE]
            self._hist_start = sample

    def _public_states(self) -> Iterable[tuple[str, _SegState]]:
        for key in self._order:
            st = self._segs[key]
            yield self._public_id(*key), st

    def _apply_segment(self, d: Mapping[str, Any], index: int) -> str | None:
        if "id" in d:
            wid = _wire_id(d["id"])
            if wid is not d["id"]:
                d = {**d, "id": wid}
        raw = Segment.from_dict(d, index=index)
        gen = self.generation
        key = (gen, raw.id)
        pid = self._public_id(gen, raw.id)
        words = raw.words
        run = 0
        for w in words:
            if not w.is_final:
                break
            run += 1
        final = bool(d.get("is_final")) or (bool(words) and run == len(words))
        seg = _shift(raw, self._offsets[gen] / self.sample_rate, pid)
        old = self._segs.get(key)
        if old is not None and old.seg == seg and old.final == final:
            return None
        if old is None:
            self._pid_key[pid] = key
            bisect.insort(self._order, key, key=lambda k: (k[0], _id_key(k[1])))
        self._segs[key] = _SegState(gen, raw.id, seg, final, run)
        return pid

    def _rebuild(self) -> None:
        view: dict[str, Segment] = {}
        by_gen: dict[int, list[Segment]] = {}
        for key in self._order:
            by_gen.setdefault(key[0], []).append(self._segs[key].seg)
        for gen, segs in by_gen.items():
            if gen in self._seams:
                segs = self._dedupe_seam(gen, segs)
            for s in segs:
                if s.words or s.text:  # a withdrawn (empty) segment is not shown
                    view[s.id] = s
        self._view = view
        self._transcript = None

    def _dedupe_seam(self, gen: int, segs: list[Segment]) -> list[Segment]:
        seam, tail = self._seams[gen]
        if not tail:
            return segs
        cand: list[str] = []
        for s in segs:
            for w in s.words:
                if w.start is not None and w.start > seam + SEAM_WINDOW_S:
                    break
                cand.append(normalize_word(w.word))
            else:
                continue
            break
        cand = cand[: len(tail)]
        k = 0
        for n in range(min(len(tail), len(cand)), 0, -1):
            if tuple(cand[:n]) == tail[-n:]:
                k = n
                break
        if k == 0:
            return segs
        out: list[Segment] = []
        for s in segs:
            if k <= 0 or not s.words:
                out.append(s)
                continue
            drop = min(k, len(s.words))
            k -= drop
            rest = s.words[drop:]
            if rest:
                start = rest[0].start if rest[0].start is not None else s.start
                out.append(replace(s, words=rest, text=_join_words(rest), start=start))
        return out

    # ------------------------------------------------------------------------- state
    @property
    def transcript(self) -> Transcript:
        """The merged transcript: kept segments of earlier connections, then the current ones."""
        if self._transcript is None:
            segs = list(self._view.values())
            self._transcript = Transcript.from_segments(segs, language=self._language)
        return self._transcript

    def is_final(self, segment_id: str) -> bool:
        st = self._state_by_public(segment_id)
        return bool(st and st.final)

    @property
    def pending_traces(self) -> dict[str, int]:
        """Trace ids sent or queued but not echoed yet, with their audio positions."""
        return {mid: pos for (kind, mid), pos in self._markers.items() if kind == "trace"}

    @property
    def pending_checkpoints(self) -> dict[str, int]:
        """Checkpoint ids sent or queued but not answered yet, with their audio positions."""
        return {mid: pos for (kind, mid), pos in self._markers.items() if kind == "checkpoint"}

    def covered_sample(self) -> int:
        """Audio up to this sample is covered by final words; everything after may be re-sent."""
        gen = self.generation
        cut = self._offsets[gen] / self.sample_rate
        for key in self._order:
            if key[0] != gen:
                continue
            st = self._segs[key]
            if st.final:
                cut = max(cut, _seg_end(st.seg))
                continue
            if st.final_words:
                last = st.seg.words[st.final_words - 1]
                cut = max(cut, last.end if last.end is not None else cut)
            break
        sample = int(round(cut * self.sample_rate))
        return max(self._hist_start, min(sample, self._written))

    def reconnect_plan(self) -> ReconnectPlan:
        """What a new connection must be sent first to resume without loss."""
        start = self.covered_sample()
        a = (start - self._hist_start) * BYTES_PER_SAMPLE
        b = (self._written - self._hist_start) * BYTES_PER_SAMPLE
        order = {key: i for i, key in enumerate(self._markers)}
        # Markers not written yet are still in the runner's queue and go out from there.
        keys = sorted(
            (
                k
                for k, pos in self._markers.items()
                if pos <= self._written and k in self._markers_written
            ),
            key=lambda k: (max(self._markers[k], start), order[k]),
        )
        markers = tuple((max(self._markers[k], start), k[0], k[1]) for k in keys)
        return ReconnectPlan(bytes(self._hist[a:b]), start, start / self.sample_rate, markers)

    def begin_reconnect(self, now: float | None = None) -> list[Frame]:
        """Start connection `generation + 1`: keep the final transcript, drop the rest, and
        return the frames (re-sent audio and pending traces) to write on the new socket first.

        Frames still queued in the runner (audio after `samples_written`) follow them
        unchanged: positions are global.
        """
        now = time.monotonic() if now is None else now
        plan = self.reconnect_plan()
        gen = self.generation
        # Keep: the final prefix of the current connection, cut at the last final word.
        keep_until: tuple[int, str] | None = None
        for key in self._order:
            if key[0] != gen:
                continue
            st = self._segs[key]
            if st.final:
                continue
            if st.final_words:
                words = st.seg.words[: st.final_words]
                st.seg = replace(
                    st.seg,
                    words=words,
                    text=_join_words(words),
                    end=words[-1].end if words[-1].end is not None else st.seg.end,
                )
                st.final = True
                st.final_words = len(words)
            else:
                keep_until = key
            break
        if keep_until is not None:
            idx = self._order.index(keep_until)
            drop = [k for k in self._order[idx:] if k[0] == gen]
        else:
            drop = [k for k in self._order if k[0] == gen and not self._segs[k].final]
        for k in drop:
            del self._segs[k]
            self._order.remove(k)
            self._pid_key.pop(self._public_id(*k), None)
        self._rebuild()
        kept_words = [normalize_word(w.word) for s in self._view.values() for w in s.words]
        kept_words = [w for w in kept_words if w]
        self.generation = gen + 1
        self._offsets.append(plan.start_sample)
        self._seams[self.generation] = (plan.offset, tuple(kept_words[-SEAM_MAX_WORDS:]))
        self._write_ends.append([])
        self._write_times.append([])
        self._was_final = {p: s.final for p, s in self._public_states()}
        # Nothing before the resume point can be needed again.
        self._trim_history(plan.start_sample)
        self._markers_written.clear()  # a new socket: nothing is written to it yet
        frames: list[Frame] = []
        markers = list(plan.markers)
        pos = plan.start_sample
        data = plan.audio
        cb = self.chunk_bytes
        for i in range(0, len(data), cb):
            chunk = data[i : i + cb]
            end = pos + len(chunk) // BYTES_PER_SAMPLE
            while markers and markers[0][0] <= pos:
                _, kind, mid = markers.pop(0)
                frames.append(self._marker_frame(kind, mid, pos, now))
            self._seq += 1
            frames.append(Frame(chunk, end, "audio", self._seq, None, now))
            pos = end
        for p, kind, mid in markers:
            frames.append(self._marker_frame(kind, mid, max(p, pos), now))
        return frames

    # ------------------------------------------------------------------------- metrics
    def _wall(self, gen: int, t: float) -> float | None:
        ends = self._write_ends[gen]
        i = bisect.bisect_left(ends, int(t * self.sample_rate))
        return self._write_times[gen][i] if i < len(ends) else None

    def _record_latency(self, seg: Segment, final: bool, now: float) -> None:
        gen = self.generation
        lat = self._seg_lat.get(seg.id)
        if lat is None:
            lat = self._seg_lat[seg.id] = _Latency(now, seg.end, gen)
        lat.text = seg.text
        if final and lat.final_at is None:
            lat.final_at, lat.final_audio_end = now, seg.end
        for i, w in enumerate(seg.words):
            if w.end is None:
                continue
            wl = self._word_lat.get((seg.id, i))
            if wl is None:
                wl = self._word_lat[(seg.id, i)] = _Latency(now, w.end, gen)
            wl.text = w.word.strip()
            if w.is_final and wl.final_at is None:
                wl.final_at, wl.final_audio_end = now, w.end

    def metrics_rows(self, level: str = "segment") -> list[dict[str, Any]]:
        """Latency rows: `chunk` (send time), `segment` or `word` (audio → partial/final)."""
        if level == "chunk":
            return [
                {
                    "seq": seq,
                    "connection": gen,
                    "audio_end_s": end / self.sample_rate,
                    "bytes": nbytes,
                    "send_s": written - created,
                }
                for seq, gen, end, nbytes, created, written in self._chunks
            ]
        if level not in ("segment", "word"):
            raise ValueError(f"level must be 'chunk', 'segment' or 'word', not {level!r}")
        table = self._seg_lat if level == "segment" else self._word_lat
        rows = []
        for key, lat in table.items():
            w0 = self._wall(lat.gen, lat.first_audio_end)
            row: dict[str, Any] = {"id": key if level == "segment" else key[0]}
            if level == "word":
                row["index"] = key[1]
            row["text"] = lat.text
            row["audio_end_s"] = lat.final_audio_end or lat.first_audio_end
            row["first_partial_s"] = None if w0 is None else lat.first_seen - w0
            wf = None
            if lat.final_at is not None and lat.final_audio_end is not None:
                wf = self._wall(lat.gen, lat.final_audio_end)
            row["final_s"] = None if wf is None or lat.final_at is None else lat.final_at - wf
            rows.append(row)
        return rows


def _seg_end(seg: Segment) -> float:
    ends = [w.end for w in seg.words if w.end is not None]
    return ends[-1] if ends else seg.end
