"""Sans-I/O streaming transcription protocol: frames out, events in, one merged transcript.

No sockets here. Feed it audio (`send_audio`), markers (`trace`), the end (`finish`) and every
text frame the server sends (`receive_text`); it returns the frames to write and the events to
deliver, and holds the merged state (`transcript`). The runners (`_stream_async`,
`_stream_thread`, sharing the session in `_stream_runners`) do the I/O.

Length (over 500 lines): the protocol state machine is one class whose methods share its
state (segments by id, both merge rules, the reconnect time axis, client-side speaker cuts);
framing, merge helpers, events and metrics already live in their own modules.

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

Merged state: the rules (finality, order, replace by id, time offsets per connection, resume
and seam de-duplication) are stated and applied in `_stream_merge`; latency bookkeeping is
`_stream_metrics`; frame sizes and marker JSON are `_stream_framing`; the event and frame
types are `_stream_events` (every event type and `normalize_word` can still be imported
from here, as before the split).
"""

from __future__ import annotations

import bisect
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fw_asr_widgets._wire import normalize_word as normalize_word  # re-exported
from fw_asr_widgets.api._stream_events import (
    Checkpoint,
    ErrorEvent,
    Frame,
    ReconnectPlan,
    SegmentFinal,
    SegmentUpdated,
    StateCleared,
    StreamEvent,
)
from fw_asr_widgets.api._stream_events import Closed as Closed  # re-exported
from fw_asr_widgets.api._stream_events import Reconnecting as Reconnecting  # re-exported
from fw_asr_widgets.api._stream_framing import (
    BYTES_PER_SAMPLE,
    DEFAULT_CHUNK_MS,
    SAMPLE_RATE,
    checkpoint_json,
    chunk_bytes,
    clear_json,
    frame_sizes,
    min_frame_bytes,
    new_id,
    trace_json,
)
from fw_asr_widgets.api._stream_merge import (
    SegState,
    dedupe_seam,
    final_prefix,
    order_key,
    public_id,
    read_segment,
    seam_tail,
    seg_end,
)
from fw_asr_widgets.api._stream_metrics import StreamMetrics
from fw_asr_widgets.transcript import Segment, Transcript

if TYPE_CHECKING:
    from fw_asr_widgets.api._stream_speakers import ClientSpeakers

FINAL_TRACE_ID = "final"

log = logging.getLogger("fw_asr_widgets.streaming")


class StreamProtocol:
    """The streaming session's state machine; see the module docstring for the rules.

    Thread safety: none; the thread runner serialises calls with a lock.
    """

    def __init__(
        self,
        *,
        chunk_ms: float = DEFAULT_CHUNK_MS,
        sample_rate: int = SAMPLE_RATE,
        speakers: bool = False,
    ):
        self.sample_rate = sample_rate
        # Client-side speaker labels for segments the server sends without (`_stream_speakers`).
        self._speakers: ClientSpeakers | None = None
        if speakers:
            from fw_asr_widgets.api._stream_speakers import ClientSpeakers

            self._speakers = ClientSpeakers()
        self._labelled: dict[tuple[int, str], tuple[Segment, list[Segment]]] = {}
        self._pieces: dict[str, list[Segment]] = {}  # public id -> its later speakers' pieces
        self.chunk_bytes = chunk_bytes(chunk_ms, sample_rate)  # framing: `_stream_framing`
        self.chunk_samples = self.chunk_bytes // BYTES_PER_SAMPLE
        self.min_bytes = min_frame_bytes(self.chunk_bytes)
        self._buf = bytearray()
        self._produced = 0  # samples turned into frames
        self._written = 0  # samples handed to a socket
        self._hist = bytearray()  # audio from _hist_start to _produced
        self._hist_start = 0
        self._seq = 0
        self.generation = 0
        self._offsets: list[int] = [0]  # start sample of each connection
        self._seams: dict[int, tuple[float, tuple[str, ...]]] = {}
        self._segs: dict[tuple[int, str], SegState] = {}
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
        self._metrics = StreamMetrics(sample_rate)

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
        return frame_sizes(total, self.chunk_bytes, self.min_bytes)

    def _audio_frame(self, data: bytes, now: float) -> Frame:
        self._produced += len(data) // BYTES_PER_SAMPLE
        self._hist += data
        if self._speakers is not None:
            self._speakers.feed(data)
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
        self._seq += 1
        return Frame(trace_json(trace_id), pos, "trace", self._seq, trace_id, now)

    def _checkpoint_frame(self, checkpoint_id: str, pos: int, now: float) -> Frame:
        self._seq += 1
        data = checkpoint_json(checkpoint_id)
        return Frame(data, pos, "checkpoint", self._seq, checkpoint_id, now)

    def _marker_frame(self, kind: str, mid: str, pos: int, now: float) -> Frame:
        if kind == "checkpoint":
            return self._checkpoint_frame(mid, pos, now)
        return self._trace_frame(mid, pos, now)

    def trace(self, trace_id: str | None = None, now: float | None = None) -> Frame:
        """A trace marker after all audio sent so far (the partial chunk is not flushed)."""
        if self._finish_called:
            raise RuntimeError("the stream is finishing; no more traces can be sent")
        trace_id = trace_id or new_id()
        if trace_id == FINAL_TRACE_ID:
            raise ValueError('trace_id "final" is reserved: call finish()')
        self._markers[("trace", trace_id)] = self._produced
        return self._trace_frame(trace_id, self._produced, time.monotonic() if now is None else now)

    def clear(self, reset_id: str | None = None, now: float | None = None) -> Frame:
        """A `stt.state.clear` event (the server starts a fresh context)."""
        self._seq += 1
        now = time.monotonic() if now is None else now
        return Frame(
            clear_json(reset_id or new_id()), self._produced, "clear", self._seq, None, now
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
            self._metrics.record_write(frame, self.generation, now)

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
            if self._speakers is not None:
                self._label_new_finals(listed)
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
                    for piece in self._pieces.get(pid, ()):
                        events += [SegmentUpdated(piece), SegmentFinal(piece)]
                self._metrics.record_update(new, st.final if st else False, self.generation, now)
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
                if self._speakers is not None:
                    self._speakers.close()
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

    def _state_by_public(self, pid: str) -> SegState | None:
        key = self._pid_key.get(pid)
        return None if key is None else self._segs.get(key)

    def _trim_history(self, sample: int) -> None:
        cut = sample - self._hist_start
        if cut > 0:
            del self._hist[: cut * BYTES_PER_SAMPLE]
            self._hist_start = sample

    def _public_states(self) -> Iterable[tuple[str, SegState]]:
        for key in self._order:
            st = self._segs[key]
            yield public_id(*key), st

    def _apply_segment(self, d: Mapping[str, Any], index: int) -> str | None:
        gen = self.generation
        st = read_segment(d, index, gen, self._offsets[gen] / self.sample_rate)
        key = (gen, st.sid)
        old = self._segs.get(key)
        if old is not None and old.seg == st.seg and old.final == st.final:
            return None
        if old is None:
            self._pid_key[st.seg.id] = key
            bisect.insort(self._order, key, key=order_key)
        self._segs[key] = st
        return st.seg.id

    def _label_new_finals(self, listed: list[str]) -> None:
        """Give the segments that just became final their client-side speaker labels.

        A final segment listed again as it was (the full state message) keeps its labels."""
        assert self._speakers is not None
        for pid in dict.fromkeys(listed):
            st = self._state_by_public(pid)
            if st is None:
                continue
            if not st.final:
                self._speakers.warm(st.seg)
                continue
            key = (st.gen, st.sid)
            done = self._labelled.get(key)
            if done is None or done[0] != st.seg:
                done = (st.seg, self._speakers.label(st.seg))
                self._labelled[key] = done
            st.seg = done[1][0]
            self._pieces[st.seg.id] = done[1][1:]

    def _rebuild(self) -> None:
        view: dict[str, Segment] = {}
        by_gen: dict[int, list[Segment]] = {}
        for key in self._order:
            by_gen.setdefault(key[0], []).append(self._segs[key].seg)
        for gen, segs in by_gen.items():
            if gen in self._seams:
                segs = dedupe_seam(segs, *self._seams[gen])
            for s in segs:
                if s.words or s.text:  # a withdrawn (empty) segment is not shown
                    view[s.id] = s
                    for piece in self._pieces.get(s.id, ()):  # cut at a speaker change
                        view[piece.id] = piece
        self._view = view
        self._transcript = None

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
        if st is None:  # a piece cut off a final segment at a speaker change
            return any(p.id == segment_id for ps in self._pieces.values() for p in ps)
        return bool(st.final)

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
                cut = max(cut, seg_end(st.seg))
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
                final_prefix(st)
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
            self._pid_key.pop(public_id(*k), None)
        self._rebuild()
        self.generation = gen + 1
        self._offsets.append(plan.start_sample)
        self._seams[self.generation] = (plan.offset, seam_tail(self._view.values()))
        self._metrics.new_connection()
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
    def metrics_rows(self, level: str = "segment") -> list[dict[str, Any]]:
        """Latency rows: `chunk` (send time), `segment` or `word` (audio → partial/final)."""
        return self._metrics.rows(level)
