"""Live transcription over WebSocket for the embedded engine (local agreement on Whisper).

Length (over 500 lines): most of it is this protocol description and its Decisions; the
session loop is one class (the engine, the agreement and the live labels live elsewhere).

`serve_stream(websocket, model=..., params=...)` runs one session on an already accepted
WebSocket (the server route `/v1/audio/transcriptions/streaming` authenticates, validates the
query parameters and accepts first). It returns when the client has gone or after it closed the
socket itself; a client disconnect never raises.

Protocol (the documented Fireworks shapes, docs/fireworks-audio-api.md "Streaming")
-----------------------------------------------------------------------------------
Query parameters: `language`, `prompt`, `temperature`, `response_format` (`verbose_json`
default, or `json`), `timestamp_granularities` (`word` and/or `segment`; default none: words
and segments carry no `start`/`end`), `text_timeout_seconds` (silence longer than this closes
the open segment: see below), `skip_vad` (`true` turns the Silero VAD off), `vad_kwargs` (a JSON
object of Silero options such as `{"threshold": 0.3}`; anything else is accepted and ignored),
and this engine's extension `diarize` (`true`: live speaker labels, see "Speaker labels").

Client -> server:

- Binary frame: audio, PCM 16-bit signed little-endian, 16 kHz, mono, any length (50-400 ms
  chunks at real-time pace are expected). A trailing odd byte is kept until the next frame
  completes the sample.
- Text frame, JSON object:
  - `{"event_id": "e1", "object": "stt.input.trace", "trace_id": "t1"}`: answered with
    `{"event_id": "e1", "object": "stt.output.trace", "trace_id": "t1"}` once every audio frame
    sent before it has gone through a decode, after the update(s) that decode produced.
    A trace with no new audio since the last decode is echoed at once. Otherwise it waits for
    the next decode: the next regular one (every `STEP_SECONDS` of audio), or an earlier one
    started for it when the model is idle (no decode of any session in flight) and at least
    `TRACE_STEP_SECONDS` of new audio is waiting; if the audio stops, one started after the
    time a step would have taken at real-time pace (at most `STEP_SECONDS`).
    `trace_id == "final"` (the cookbook's end of stream) finalises instead: a final decode of
    the remaining audio commits every word, the server sends the update of what changed, then
    the full state message (every segment of the session, every word `is_final: true`), then
    the echo, and starts a fresh context (as after a clear). The client then closes.
  - `{"checkpoint_id": X}` (X a string such as `"final"` or a number; the reference page's,
    the cookbook notebook's and LiveKit's end of audio): flush and finalise everything sent
    before it (final decode, every word committed, the open segment closed), then answer with
    the full state message carrying `"checkpoint_id": X`. The prompt context is kept, so more
    audio may follow; the session stays open until the client closes it.
  - `{"event_id": "e2", "object": "stt.state.clear", "reset_id": "r1"}`: finalise what was
    heard (decode, commit everything), send the update, drop the audio buffer and start a fresh
    context (no prompt carry-over; new segments get new ids, earlier ones stay as they are),
    then acknowledge with `{"event_id": "e2", "object": "stt.state.cleared", "reset_id": "r1"}`.

Server -> client, JSON text frames, `verbose_json` shape:

- Update: `{"task": "transcribe", "language": "en", "text": "<full text so far>",
  "segments": [{"id": 0, "text": "And so my fellow", "start": 0.32, "end": 1.9,
  "words": [{"word": "And", "start": 0.32, "end": 0.6, "probability": 0.91, "is_final": true,
  "language": "en", "hallucination_score": 0.02}, ..., {"word": "fellow", ...,
  "is_final": false, ...}]}], "words": [<the listed segments' words>]}` (`start`/`end` only as
  `timestamp_granularities` asks). Segment ids are numbers 0, 1, ... in time order.
  Only segments that changed since the previous message are listed. Segments that just became
  final come first in a message of their own, so that message's newest segment ends with an
  `is_final: true` word; the open segment (committed words followed by partial
  `is_final: false` words) follows in a second message. A listed segment may be empty
  (`"words": []`, `"text": ""`) when its partial words were withdrawn. A segment listed with
  words that are all `is_final: true` is final: it is never listed again, except in the full
  state message (the open segment always ends with at least one partial word; segments close
  at decoder segment ends, at pauses when nothing partial is left, and after
  `text_timeout_seconds` of silence).
  Both published merge rules give the same transcript: replace each listed segment by id
  (unlisted ids keep their content), and LiveKit's, which also drops local ids above the
  highest id in the message: every message lists the highest id sent so far.
  Times are seconds from the start of this session's audio. `"text"` is always the whole
  transcript (committed and partial).
- Error (the session continues): `{"error": {"object": "error", "type":
  "invalid_request_error", "message": "..."}}` for a text frame that is not a JSON object, has
  an unknown `object`, a trace without a string `trace_id`, or a bad `checkpoint_id`.
- With `response_format=json` every transcript message is reduced to `{"text": ...}` (plus
  `checkpoint_id`); echoes, acknowledgements and errors keep their shape.
- Idle timeout: with no frame for `IDLE_TIMEOUT` seconds (30), the server finalizes, sends the
  last update and closes with code 1000, reason `"idle timeout: no frame for 30 s"`.
  An internal failure closes with 1011, reason `"internal error"`.

`text_timeout_seconds` (LiveKit sends 1.0): when a decode finds that long a silence after the
last partial word, or no frame arrives for that long while text is open, the open segment is
finalised (its partial words committed) and sent; without it segments close as above.

Speaker labels (an extension of this engine; Fireworks' streaming API sends none)
--------------------------------------------------------------------------------
With `diarize=true` every committed word carries `"speaker_id": "SPEAKER_00"` (labels in order
of first appearance, the names offline diarization gives) and so does every segment that has a
committed word. A segment has one speaker: when a committed word's speaker differs from its
segment's, the segment is closed before that word (as at a decoder segment end) and the word
opens the next one. Partial (`is_final: false`) words carry no label. A label is decided when
its word is committed, from the audio received by then (`_live_speakers`), and sent in the
same message as the commit; it is never revised: a closed segment is never listed again, and
the open segment's label is its committed words', which do not change. So both merge rules
hold unchanged (replacing a listed segment by id brings its label along), and a client that
does not know the field reads the same text and ids and simply ignores it.
One more thing changes with `diarize=true`: a closed segment's `start`/`end` span the speech
detected around its words (Silero VAD run on the stream, at most 1 s each way, never into the
neighbouring segments; `LiveSpeakers.extent`), as file diarization widens segments to its
speaker turns. Word times stay Whisper's. Whisper's live word times start late (on the phone
call speaker91's turn starts at 21.78 s, its first word at 22.44 s), and that time was
missed speech for every labeller.

Decisions:
- Labels are opt-in (`diarize=true`, the file API's name for the same thing), not default:
  they split segments at speaker changes and cost an embedding model (CAM++: about 2% of a
  core per stream plus 30 MB), while LiveKit's plugin and the reference page's flow must get
  exactly the messages they got before. A client that asks and does not read the field loses
  nothing either (tested).
- No revision of labels: a revision would have to re-list closed segments, which the
  protocol promises never to do (LiveKit reports a final transcript per closed segment), and
  re-listing only the open segment would not help, since its committed words keep theirs.
  Labels of the first seconds are therefore decided on little evidence
  (benchmarks/live_speakers.py measures what that costs against offline diarization).
- Our own client (`fw_asr_widgets.api`) asks for `timestamp_granularities=word,segment`: the
  transcript model needs word and segment times. Without it, as the reference says, no times
  are sent.
- The checkpoint answer is the full state (every segment, all final) rather than only what the
  flush changed: a client that reads just that message still gets the whole transcript, and it
  is consistent with both merge rules. Checkpoints are rare (end of audio), so the size is fine.
- A non-final trace never forces a decode of its own while the model is busy (see above): with
  a trace every 500 ms on two real-time streams, a decode per trace made echoes fall ever
  further behind, and decoding whenever a trace waits doubled the CPU use and slowed every
  word. Waiting for the regular step alone bounds an echo at about `STEP_SECONDS` plus one
  decode, which on 2 cores and two streams in step (each waiting for the other's decode) gave
  p95 2.25 s on an idle machine (`benchmarks/trace_echo.py`). So a waiting trace may take the
  model's idle time, never its busy time: the decodes it adds are ones nothing else wanted,
  and under load (every session's steps keeping the model busy) it falls back to the regular
  step. "Idle" is "no decode in flight in this process" (`_in_flight`), even though the model
  has two CTranslate2 workers (`models.load`): the second worker is for another session's
  regular step, which a trace's extra decode must not delay. Measured on 2 cores, one engine
  and two streams with a trace every 500 ms: echo p95 2.25 s with the regular step alone and
  one worker, 2.35 s with idle-time decodes and one worker (the streams kept it busy),
  1.65 s with idle-time decodes and two workers; one stream: 1.35 s -> 1.1 s.

Engine: every `STEP_SECONDS` (1 s) of new audio the whole buffer is decoded (beam 1, word
timestamps, `condition_on_previous_text=False`, prompt = user prompt + committed text already
trimmed off the buffer) in one worker thread per session; decodes never overlap and when
decoding falls behind, steps are merged so the stream keeps real time. Local agreement
(`_agreement.LocalAgreement`) commits the common word prefix of consecutive decodes. Past
`TRIM_SECONDS` (15 s) the buffer is cut at the end of the last finished segment (past
`FORCE_TRIM_SECONDS`, at the last committed word, or, with nothing committed in it, before the
first partial word or to the last second). Silero VAD (`VAD_FILTER`) runs on every decode
unless `skip_vad`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fw_asr_widgets import _wire
from fw_asr_widgets.local._stream_engine import (
    FORCE_TRIM_SECONDS,
    SAMPLE_RATE,
    TRIM_SECONDS,
    VAD_FILTER,
    Snapshot,
    StreamEngine,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from starlette.websockets import WebSocket

__all__ = [
    "FORCE_TRIM_SECONDS",
    "IDLE_TIMEOUT",
    "SAMPLE_RATE",
    "STEP_SECONDS",
    "TRIM_SECONDS",
    "VAD_FILTER",
    "Snapshot",
    "StreamEngine",
    "serve_stream",
]

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 30.0  # seconds without any frame before the server closes (code 1000)
STEP_SECONDS = 1.0  # new audio between decodes
MAX_STEP_SECONDS = 5.0  # decode even if more audio is queued (a client sending faster than 1x)
TRACE_STEP_SECONDS = 0.25  # new audio a waiting trace needs to start a decode on an idle model
THREAD_PREFIX = "fw-asr-stream"
_QUEUE_SIZE = 256  # frames buffered between the socket and the engine (backpressure)


# -- the WebSocket session ----------------------------------------------------------------


_in_flight: dict[int, int] = {}
"""Decodes running now, per model (`id(model)`); only touched on the server's event loop."""


def _model_idle(model: object) -> bool:
    return not _in_flight.get(id(model))


class _Closed(Exception):
    """The client went away (or the socket can no longer be written)."""


def _error(message: str) -> dict[str, Any]:
    return _wire.error_body(message)


def _marker_id(value: Any) -> bool:
    """A usable trace/checkpoint id: a non-empty string or a number (echoed as given)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and bool(value))


def _parse_text(text: str) -> tuple[str, Any]:
    """A text frame -> ("trace", (event_id, trace_id)) | ("clear", (event_id, reset_id)) |
    ("checkpoint", checkpoint_id) | ("error", message)."""
    try:
        event = json.loads(text)
    except ValueError:
        return "error", "text frames must be JSON events; send audio as binary frames"
    if not isinstance(event, dict):
        return "error", "a JSON event must be an object"
    kind = event.get("object")
    event_id = event.get("event_id")
    if kind == _wire.STREAM_TRACE:
        trace_id = event.get("trace_id")
        if not _marker_id(trace_id):
            return "error", "stt.input.trace needs a non-empty string trace_id"
        return "trace", (event_id, trace_id)
    if kind == _wire.STREAM_CLEAR:
        return "clear", (event_id, event.get("reset_id"))
    if "checkpoint_id" in event:  # documented without an `object`; any other is tolerated
        checkpoint_id = event["checkpoint_id"]
        if not _marker_id(checkpoint_id):
            return "error", "checkpoint_id must be a non-empty string or a number"
        return "checkpoint", checkpoint_id
    return "error", (
        f"unknown event object {kind!r}; expected 'stt.input.trace', 'stt.state.clear' "
        "or a {'checkpoint_id': ...} message"
    )


_TEXT_ONLY_KEYS = ("text", "trace_id", "reset_id", "checkpoint_id")


class _Session:
    def __init__(
        self,
        websocket: WebSocket,
        engine: StreamEngine,
        *,
        text_only: bool,
        text_timeout: float | None = None,
    ) -> None:
        self.ws = websocket
        self.engine = engine
        self.text_only = text_only
        self.text_timeout = text_timeout
        self.gone = False  # the client disconnected: stop decoding queued audio
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(_QUEUE_SIZE)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_PREFIX)
        # Traces not yet echoed: (event_id, trace_id, samples received before the trace).
        self.waiting: list[tuple[Any, Any, int]] = []

    async def run(self) -> None:
        receiver = asyncio.create_task(self._receive())
        try:
            await self._process()
        except _Closed:
            pass
        except Exception:
            log.exception("streaming session failed")
            with contextlib.suppress(Exception):
                await self.ws.close(code=1011, reason="internal error")
        finally:
            receiver.cancel()
            with contextlib.suppress(BaseException):
                await receiver
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def _receive(self) -> None:
        from starlette.websockets import WebSocketDisconnect

        timeout = IDLE_TIMEOUT
        while True:
            try:
                msg = await asyncio.wait_for(self.ws.receive(), timeout)
            except asyncio.TimeoutError:
                await self.queue.put(("idle", timeout))
                return
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.gone = True
                await self.queue.put(("closed", None))
                return
            if msg["type"] == "websocket.disconnect":
                self.gone = True
                await self.queue.put(("closed", None))
                return
            data = msg.get("bytes")
            if data is not None:
                await self.queue.put(("audio", data))
                continue
            text = msg.get("text")
            if text is not None:
                await self.queue.put(_parse_text(text))

    async def _send(self, obj: dict[str, Any]) -> None:
        if self.text_only and "text" in obj:
            obj = {k: v for k, v in obj.items() if k in _TEXT_ONLY_KEYS}
        try:
            await self.ws.send_text(json.dumps(obj))
        except Exception as exc:
            raise _Closed from exc

    async def _decode(self, *, final: bool = False) -> None:
        if self.gone:
            raise _Closed
        snap = self.engine.snapshot()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        key = id(self.engine.model)
        _in_flight[key] = _in_flight.get(key, 0) + 1
        try:
            words, lang = await loop.run_in_executor(self.executor, self.engine.transcribe, snap)
        finally:
            _in_flight[key] -= 1
            if not _in_flight[key]:
                del _in_flight[key]
        self.engine.apply(snap, words, lang, final=final)
        log.debug(
            "decoded %.2f s buffer ending at %.2f s in %.3f s (final=%s)",
            snap.audio.size / SAMPLE_RATE,
            snap.end_sample / SAMPLE_RATE,
            time.perf_counter() - started,
            final,
        )

    async def _finalize(self) -> None:
        if self.engine.unprocessed > 0:
            await self._decode(final=True)
        else:
            self.engine.agreement.commit_pending()
        self.engine.reset_buffer()

    async def _send_updates(self) -> None:
        """Send what changed since the last message, then echo the traces now covered."""
        for msg in self.engine.agreement.messages():
            await self._send(msg)
        covered = self.engine.decoded_samples
        done = [w for w in self.waiting if w[2] <= covered]
        self.waiting = [w for w in self.waiting if w[2] > covered]
        for event_id, trace_id, _ in done:
            await self._send(
                {"event_id": event_id, "object": _wire.STREAM_TRACE_ECHO, "trace_id": trace_id}
            )

    async def _catch_up(self) -> None:
        """Nothing queued: decode if a step is due (or a trace waits and the model is idle);
        send updates and echo covered traces."""
        unprocessed = self.engine.unprocessed
        if unprocessed >= STEP_SECONDS or (
            self.waiting and unprocessed >= TRACE_STEP_SECONDS and _model_idle(self.engine.model)
        ):
            await self._decode()
        await self._send_updates()

    def _open_text(self) -> bool:
        """True while something could still be finalized (partial words or undecoded audio)."""
        return self.engine.agreement.has_open_text or self.engine.unprocessed > 0

    async def _next(self) -> tuple[str, Any] | None:
        """The next queued frame; None when a timer ran out first: a waiting trace's (the time
        a step would take to become due at real-time pace) or `text_timeout`'s."""
        timers = []
        if self.waiting:
            timers.append(max(0.05, STEP_SECONDS - self.engine.unprocessed))
        if self.text_timeout is not None and self._open_text():
            timers.append(self.text_timeout)
        if not timers:
            return await self.queue.get()
        try:
            return await asyncio.wait_for(self.queue.get(), min(timers))
        except asyncio.TimeoutError:
            return None

    async def _process(self) -> None:
        engine, agreement = self.engine, self.engine.agreement
        while True:
            if self.queue.empty():
                await self._catch_up()
            item = await self._next()
            if item is None and self.waiting:  # the audio stopped: decode for the traces
                await self._decode()
                await self._send_updates()
                continue
            if item is None:  # no frame for text_timeout_seconds: close the open segment
                await self._finalize()
                await self._send_updates()
                continue
            kind, value = item
            if kind == "audio":
                engine.add_audio(value)
                if engine.unprocessed >= MAX_STEP_SECONDS:  # the client is ahead of us
                    await self._decode()
                    await self._send_updates()
            elif kind == "trace":
                event_id, trace_id = value
                if trace_id != "final":
                    # Echoed after the decode that covers it (at once if one already did).
                    self.waiting.append((event_id, trace_id, engine.received_samples))
                    continue
                await self._finalize()
                agreement.clear()
                await self._send_updates()
                await self._send(agreement.message(full=True) or agreement.envelope([]))
                await self._send(
                    {"event_id": event_id, "object": _wire.STREAM_TRACE_ECHO, "trace_id": trace_id}
                )
            elif kind == "checkpoint":
                await self._finalize()
                if self.waiting:
                    await self._send_updates()
                full = agreement.message(full=True) or agreement.envelope([])
                await self._send({**full, "checkpoint_id": value})
            elif kind == "clear":
                event_id, reset_id = value
                await self._finalize()
                agreement.clear()
                await self._send_updates()
                await self._send(
                    {"event_id": event_id, "object": _wire.STREAM_CLEARED, "reset_id": reset_id}
                )
            elif kind == "error":
                await self._send(_error(value))
            elif kind == "idle":
                await self._finalize()
                await self._send_updates()
                with contextlib.suppress(Exception):
                    await self.ws.close(code=1000, reason=f"idle timeout: no frame for {value:g} s")
                return
            else:  # closed
                return


def _float(value: str | None, default: float | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default


def parse_bool(value: str | None) -> bool | None:
    """`true`/`false` in any case, `1`/`0` (what Python and JS clients put in a URL)."""
    if value is None or value == "":
        return None
    low = value.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def vad_parameters(raw: str | None) -> dict[str, Any] | None:
    """The Silero VAD options from `vad_kwargs` (a JSON object; unknown keys are ignored).

    Decision: anything that is not a JSON object (LiveKit's plugin URL-encodes a dict as its
    key names) is accepted and ignored, so the defaults apply.
    """
    if not raw:
        return None
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    known = {f.name for f in dataclasses.fields(_vad_options())}
    out = {
        k: v
        for k, v in obj.items()
        if k in known and isinstance(v, int | float) and not isinstance(v, bool)
    }
    return out or None


def _vad_options() -> Any:
    from faster_whisper.vad import VadOptions

    return VadOptions


async def serve_stream(
    websocket: WebSocket, *, model: WhisperModel, params: Mapping[str, str]
) -> None:
    """Run one live-transcription session on an accepted WebSocket (protocol: module doc).

    `params` are the query parameters: `language`, `prompt`, `temperature`,
    `response_format`, `timestamp_granularities` (comma-separated), `text_timeout_seconds`,
    `skip_vad`, `vad_kwargs`, `diarize` (the route validates them; `model` is only validated).
    """
    granularities = {
        g.strip() for g in (params.get("timestamp_granularities") or "").split(",") if g.strip()
    }
    try:
        skip_vad = parse_bool(params.get("skip_vad"))
    except ValueError:
        skip_vad = None
    try:
        diarize = bool(parse_bool(params.get("diarize")))
    except ValueError:
        diarize = False
    engine = StreamEngine(
        model,
        language=params.get("language") or None,
        prompt=params.get("prompt") or None,
        temperature=_float(params.get("temperature"), 0.0) or 0.0,
        vad_filter=False if skip_vad else None,
        vad_parameters=vad_parameters(params.get("vad_kwargs")),
        word_times="word" in granularities,
        segment_times="segment" in granularities,
        text_timeout=_float(params.get("text_timeout_seconds"), None),
        speakers=diarize,
    )
    text_only = (params.get("response_format") or "verbose_json") == "json"
    session = _Session(websocket, engine, text_only=text_only, text_timeout=engine.text_timeout)
    await session.run()
