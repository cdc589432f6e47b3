"""Live transcription over WebSocket for the embedded engine (local agreement on Whisper).

`serve_stream(websocket, model=..., params=...)` runs one session on an already accepted
WebSocket (the server route `/v1/audio/transcriptions/streaming` authenticates, validates the
query parameters and accepts first). It returns when the client has gone or after it closed the
socket itself; a client disconnect never raises.

Protocol
--------
Client -> server:

- Binary frame: audio, PCM 16-bit signed little-endian, 16 kHz, mono, any length (50-400 ms
  chunks at real-time pace are expected). A trailing odd byte is kept until the next frame
  completes the sample.
- Text frame, JSON object:
  - `{"event_id": "e1", "object": "stt.input.trace", "trace_id": "t1"}`: once every audio
    frame sent before it has gone through a decode, the server sends any resulting update and
    then the echo (below). `trace_id == "final"` ends the utterance: a final decode of the
    remaining audio commits every word, the server sends the usual update (the segments that
    changed), then the full state message (every segment of the session, every word
    `is_final: true`; merging the updates alone gives the same state), then the echo. The
    client then closes.
    After "final" the session stays usable with a fresh context, as after a clear.
  - `{"event_id": "e2", "object": "stt.state.clear", "reset_id": "r1"}`: finalize what was
    heard (decode, commit everything), drop the audio buffer and start a fresh context (no
    prompt carry-over; new segments get new ids, earlier ones stay as they are). The update
    message that follows carries `"reset_id": "r1"` (sent even when nothing changed).

Server -> client, JSON text frames, `verbose_json` shape:

- Update: `{"task": "transcribe", "language": "en", "text": "<full text so far>",
  "segments": [{"id": "0", "text": "And so my fellow", "start": 0.32, "end": 1.9,
  "words": [{"word": "And", "start": 0.32, "end": 0.6, "probability": 0.91, "is_final": true},
  ..., {"word": "fellow", ..., "is_final": false}]}], "words": [<the listed segments' words>]}`.
  Segment ids are strings "0", "1", ... in time order. Each listed segment replaces the
  client's entry with that id; unlisted ids keep their last content. Only segments that changed
  since the previous message are listed: segments that just became final, then the open
  segment (committed words followed by partial `is_final: false` words). A listed segment may
  be empty (`"words": []`, `"text": ""`) when its partial words were withdrawn. A segment
  listed with words that are all `is_final: true` is final: it is never listed again, except
  in the full state message (the open segment always ends with at least one partial word;
  segments close at decoder segment ends and at pauses, when nothing partial is left).
  Times are seconds from the start of this session's audio.
  `"text"` is always the whole transcript (committed and partial).
- Trace echo: `{"task": ..., "language": ..., "text": "<full text>", "segments": [],
  "words": [], "trace_id": "t1"}`, sent after the update(s) covering the traced audio.
- Error (the session continues): `{"error": {"object": "error", "type":
  "invalid_request_error", "message": "..."}}` for a text frame that is not a JSON object, has
  an unknown `object`, or a trace without a string `trace_id`.
- With `response_format=json` every message is reduced to `{"text": ...}` (plus `trace_id` /
  `reset_id`); errors keep their shape.
- Idle timeout: with no frame for `IDLE_TIMEOUT` seconds (30), the server finalizes, sends the
  last update and closes with code 1000, reason `"idle timeout: no frame for 30 s"`.
  An internal failure closes with 1011, reason `"internal error"`.

Engine: every `STEP_SECONDS` (1 s) of new audio, and on traces, the whole buffer is decoded
(beam 1, word timestamps, `condition_on_previous_text=False`, prompt = user prompt + committed
text already trimmed off the buffer) in one worker thread per session; decodes never overlap
and when decoding falls behind, steps are merged so the stream keeps real time. Local agreement
(`_agreement.LocalAgreement`) commits the common word prefix of consecutive decodes. Past
`TRIM_SECONDS` (15 s) the buffer is cut at the end of the last finished segment (past
`FORCE_TRIM_SECONDS`, at the last committed word, or, with nothing committed in it, before the
first partial word or to the last second). Silero VAD (`VAD_FILTER`) runs on every decode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fw_asr_widgets.local._agreement import HypWord, LocalAgreement

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from starlette.websockets import WebSocket

__all__ = [
    "FORCE_TRIM_SECONDS",
    "IDLE_TIMEOUT",
    "STEP_SECONDS",
    "TRIM_SECONDS",
    "StreamEngine",
    "serve_stream",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
IDLE_TIMEOUT = 30.0  # seconds without any frame before the server closes (code 1000)
STEP_SECONDS = 1.0  # new audio between decodes
MAX_STEP_SECONDS = 5.0  # decode even if more audio is queued (a client sending faster than 1x)
TRIM_SECONDS = 15.0  # trim the buffer at a finished segment end once it is longer than this
FORCE_TRIM_SECONDS = 25.0  # no finished segment: trim at the last committed word
# Silero VAD on each decode. Measured on jfk with 6 s of silence/noise around it: without VAD
# tiny.en emits runs of "." over silence (WER 14 %, decodes 2x slower); with it WER 4.5 %.
VAD_FILTER = True
PROMPT_CHARS = 200  # committed-text tail passed as the decoding prompt
THREAD_PREFIX = "fw-asr-stream"
_WORDLIKE = re.compile(r"\w")
_QUEUE_SIZE = 256  # frames buffered between the socket and the engine (backpressure)


@dataclass(frozen=True)
class Snapshot:
    """What one decode sees: the buffered audio, its start time and the prompt."""

    audio: np.ndarray
    offset: float
    end_sample: int
    prompt: str | None


class StreamEngine:
    """Audio buffer + Whisper decodes + local agreement for one stream (no I/O, no asyncio).

    `add_audio()` and `apply()` run on the caller's thread; `transcribe()` may run in a worker
    thread on a `snapshot()` (it touches no state). `step()` does all three.
    """

    def __init__(
        self,
        model: WhisperModel,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        vad_filter: bool | None = None,
    ) -> None:
        self.model = model
        if language is None and not getattr(model, "is_multilingual", False):
            language = "en"
        self.language = language
        self.user_prompt = (prompt or "").strip()
        self.temperature = temperature
        self.vad_filter = VAD_FILTER if vad_filter is None else vad_filter
        self.agreement = LocalAgreement(language=language or "en")
        self._pcm = bytearray()  # PCM16 of the buffer (whole samples)
        self._carry = b""  # odd trailing byte
        self._offset_samples = 0  # absolute sample index of the buffer start
        self._decoded_upto = 0  # absolute sample index covered by the last decode
        self.decodes = 0
        self.trims = 0

    # -- audio ---------------------------------------------------------------------------

    def add_audio(self, data: bytes) -> None:
        """Append PCM16 LE bytes (an odd trailing byte waits for the next call)."""
        data = self._carry + bytes(data)
        whole = len(data) - len(data) % 2
        self._carry = data[whole:]
        self._pcm += data[:whole]

    @property
    def received_samples(self) -> int:
        """Absolute sample count received so far (whole samples)."""
        return self._offset_samples + len(self._pcm) // 2

    @property
    def unprocessed(self) -> float:
        """Seconds of audio received since the last decode."""
        return (self.received_samples - self._decoded_upto) / SAMPLE_RATE

    @property
    def buffer_seconds(self) -> float:
        """Length of the audio buffer in seconds."""
        return len(self._pcm) / 2 / SAMPLE_RATE

    def reset_buffer(self) -> None:
        """Drop all buffered audio (everything in it has been committed)."""
        self._offset_samples = self.received_samples
        self._decoded_upto = self._offset_samples
        self._pcm = bytearray()

    # -- decoding ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The buffer as float32 plus the prompt, for one decode."""
        audio = np.frombuffer(bytes(self._pcm), dtype="<i2").astype(np.float32) / 32768.0
        offset = self._offset_samples / SAMPLE_RATE
        tail = self.agreement.context_text(offset)[-PROMPT_CHARS:]
        if len(tail) == PROMPT_CHARS and " " in tail:
            tail = tail.split(" ", 1)[1]
        prompt = " ".join(p for p in (self.user_prompt, tail) if p) or None
        return Snapshot(audio, offset, self.received_samples, prompt)

    def transcribe(self, snap: Snapshot) -> tuple[list[HypWord], str | None]:
        """Decode a snapshot into hypothesis words with absolute times (thread-safe)."""
        if snap.audio.size < SAMPLE_RATE // 10:
            return [], None
        segments, info = self.model.transcribe(
            snap.audio,
            language=self.language,
            task="transcribe",
            beam_size=1,
            best_of=1,
            temperature=self.temperature,
            word_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=snap.prompt,
            vad_filter=self.vad_filter,
        )
        segs = [list(s.words or []) for s in segments]
        segs = [s for s in segs if s]
        words: list[HypWord] = []
        for i, seg in enumerate(segs):
            for j, w in enumerate(seg):
                if not _WORDLIKE.search(w.word):
                    continue  # lone punctuation (tiny.en emits "." over noise)
                words.append(
                    HypWord(
                        word=w.word.strip(),
                        start=snap.offset + float(w.start),
                        end=snap.offset + float(w.end),
                        probability=float(w.probability),
                        segment_end=(j == len(seg) - 1 and i < len(segs) - 1),
                    )
                )
        return words, info.language

    def apply(
        self, snap: Snapshot, words: Sequence[HypWord], language: str | None, *, final: bool
    ) -> None:
        """Feed a decode result to the agreement, then trim or reset the buffer."""
        self.decodes += 1
        self._decoded_upto = max(self._decoded_upto, snap.end_sample)
        if language and self.language is None:
            self.agreement.language = language
        self.agreement.insert(words, final=final)
        if final:
            return
        if self.buffer_seconds > TRIM_SECONDS:
            cut = self.agreement.last_closed_end
            offset = self._offset_samples / SAMPLE_RATE
            if (cut is None or cut <= offset) and self.buffer_seconds > FORCE_TRIM_SECONDS:
                cut = self.agreement.last_committed_end
                if cut <= offset:  # nothing committed in the buffer: silence or noise
                    pending = self.agreement.pending
                    end = self.received_samples / SAMPLE_RATE
                    cut = pending[0].start - 0.5 if pending else end - 1.0
            if cut is not None and cut > offset:
                self._trim_to(cut)

    def _trim_to(self, seconds: float) -> None:
        drop = min(int(seconds * SAMPLE_RATE) - self._offset_samples, len(self._pcm) // 2)
        if drop <= 0:
            return
        del self._pcm[: drop * 2]
        self._offset_samples += drop
        self.trims += 1

    def step(self, *, final: bool = False) -> None:
        """Decode the buffer now (on this thread) and apply the result."""
        snap = self.snapshot()
        words, lang = self.transcribe(snap)
        self.apply(snap, words, lang, final=final)

    def finalize(self) -> None:
        """Commit everything heard so far (decoding unprocessed audio first), fresh buffer."""
        if self.unprocessed > 0:
            self.step(final=True)
        else:
            self.agreement.commit_pending()
        self.reset_buffer()


# -- the WebSocket session ----------------------------------------------------------------


class _Closed(Exception):
    """The client went away (or the socket can no longer be written)."""


def _error(message: str) -> dict[str, Any]:
    return {"error": {"object": "error", "type": "invalid_request_error", "message": message}}


def _parse_text(text: str) -> tuple[str, Any]:
    """A text frame -> ("trace", id) | ("clear", reset_id) | ("error", message)."""
    try:
        event = json.loads(text)
    except ValueError:
        return "error", "text frames must be JSON events; send audio as binary frames"
    if not isinstance(event, dict):
        return "error", "a JSON event must be an object"
    kind = event.get("object")
    if kind == "stt.input.trace":
        trace_id = event.get("trace_id")
        if not isinstance(trace_id, str) or not trace_id:
            return "error", "stt.input.trace needs a non-empty string trace_id"
        return "trace", trace_id
    if kind == "stt.state.clear":
        reset_id = event.get("reset_id")
        return "clear", reset_id if isinstance(reset_id, str) else None
    return "error", (
        f"unknown event object {kind!r}; expected 'stt.input.trace' or 'stt.state.clear'"
    )


class _Session:
    def __init__(self, websocket: WebSocket, engine: StreamEngine, *, text_only: bool) -> None:
        self.ws = websocket
        self.engine = engine
        self.text_only = text_only
        self.gone = False  # the client disconnected: stop decoding queued audio
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(_QUEUE_SIZE)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_PREFIX)

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
            obj = {k: v for k, v in obj.items() if k in ("text", "trace_id", "reset_id")}
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
        words, lang = await loop.run_in_executor(self.executor, self.engine.transcribe, snap)
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

    async def _send_update(self, **extra: Any) -> None:
        msg = self.engine.agreement.message()
        if msg is None and extra:
            msg = self.engine.agreement.envelope([])
        if msg is not None:
            await self._send({**msg, **extra})

    async def _process(self) -> None:
        engine, agreement = self.engine, self.engine.agreement
        while True:
            kind, value = await self.queue.get()
            if kind == "audio":
                engine.add_audio(value)
                due = engine.unprocessed >= STEP_SECONDS
                if due and (self.queue.empty() or engine.unprocessed >= MAX_STEP_SECONDS):
                    await self._decode()
                    await self._send_update()
            elif kind == "trace":
                if value == "final":
                    await self._finalize()
                    agreement.clear()
                    await self._send_update()
                    await self._send(agreement.message(full=True) or agreement.envelope([]))
                else:
                    if engine.unprocessed > 0:
                        await self._decode()
                    await self._send_update()
                await self._send({**agreement.envelope([]), "trace_id": value})
            elif kind == "clear":
                await self._finalize()
                agreement.clear()
                await self._send_update(reset_id=value)
            elif kind == "error":
                await self._send(_error(value))
            elif kind == "idle":
                await self._finalize()
                await self._send_update()
                with contextlib.suppress(Exception):
                    await self.ws.close(code=1000, reason=f"idle timeout: no frame for {value:g} s")
                return
            else:  # closed
                return


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default


async def serve_stream(
    websocket: WebSocket, *, model: WhisperModel, params: Mapping[str, str]
) -> None:
    """Run one live-transcription session on an accepted WebSocket (protocol: module doc).

    `params` are the query parameters (`language`, `prompt`, `temperature`,
    `response_format`; `model` and `timestamp_granularities` are validated by the route and
    otherwise ignored: `verbose_json` messages always carry words).
    """
    engine = StreamEngine(
        model,
        language=params.get("language") or None,
        prompt=params.get("prompt") or None,
        temperature=_float(params.get("temperature"), 0.0),
    )
    text_only = (params.get("response_format") or "verbose_json") == "json"
    await _Session(websocket, engine, text_only=text_only).run()
