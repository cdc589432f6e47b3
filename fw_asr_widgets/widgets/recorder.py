"""`Recorder`: live microphone transcription in a notebook.

Length (over 500 lines): the widget class with its documented message protocol, take
bookkeeping (acks, backpressure, reloads) and live speaker colours; capture and resampling
are in ``recorder.js``, transcription in `fw_asr_widgets.api`.

The browser captures the microphone with an AudioWorklet (``recorder.js``), which resamples to
16 kHz PCM16 itself and sends ~100 ms chunks as binary buffers of custom messages::

    JS → Python  {"type": "start", "session": str, "device_rate": int, "chunk_ms": int}
                 {"type": "audio", "session": str, "seq": int, "sample_rate": 16000} + [pcm16]
                 {"type": "stop", "session": str, "last_seq": int}
                 {"type": "client_error", "kind": str, "message": str}
    Python → JS  {"type": "ack", "session": str, "seq": int}
                                                        every chunk up to `seq` has arrived
                 {"type": "stop"}                       stop the microphone (Python asked)
                 {"type": "busy", "message": str}       another view/tab is recording

Decisions:
- The message handler only stores the chunk, acknowledges it and queues it; a feeder thread
  opens the streaming session (`client.stream(...)`, the API layer's thread runner) and sends
  the audio, so the handler returns at once and streaming goes on between cells.
- Acknowledgements are cumulative and sent every `ACK_EVERY` chunks (and at stop); the front
  end keeps at most `WINDOW` chunks in flight and shows the rest as backlog.
- A sequence gap (chunks lost in transit) is reported on the status line and counted in
  `gaps`; the stream simply continues (no silence is inserted). Repeated or stale chunks are
  ignored. Chunks of another session (a second tab) are refused with a "busy" message,
  unless the recording take has sent no audio for `STALE_SECONDS` (its page was reloaded or
  closed mid-take): then the new Start ends that take, keeping what it recorded, and begins.
- Each Start begins a new take: `transcript` and `audio` describe the latest take; finished
  earlier takes stay in `takes`.
- Traits are updated at most ~10 times a second, from the feeder thread.
- `model_label` names what transcribes, not only what is asked for: with the embedded engine,
  "embedded engine (Whisper tiny.en)", the model its streaming route always runs (a stream
  carries no model report: the engine's messages have no model field and the handshake no
  header); elsewhere the requested model and its server.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from fw_asr_widgets._palette import NO_SPEAKER_COLOR, speaker_colors
from fw_asr_widgets.widgets._base import (
    FwWidget,
    Throttle,
    _where,
    asset,
    bundle,
    friendly_error,
    planned_model_label,
    resolve_client,
)

if TYPE_CHECKING:
    import pandas as pd

    from fw_asr_widgets.api.client import Client
    from fw_asr_widgets.transcript import Transcript

SAMPLE_RATE = 16_000
MAX_SEGMENTS = 200
"""Segments kept in the synced `segments` trait (the full transcript stays in Python)."""
ACK_EVERY = 4
"""Acknowledge every this many chunks (cumulative acks)."""
WINDOW = 20
"""Chunks the front end may have in flight without an acknowledgement (told to the JS)."""
UI_INTERVAL = 0.1
"""Minimum seconds between trait updates from the feeder (~10 Hz)."""
MAX_CHUNK_BYTES = SAMPLE_RATE * 2 * 2
"""Largest accepted audio chunk: 2 s of PCM16 (the front end sends 100 ms)."""
STALE_SECONDS = 3.0
"""A take with no audio for this long is abandoned (page gone): a Start elsewhere ends it."""

READY = "Ready. Press Start to record from your microphone."


def level_of(pcm: np.ndarray) -> float:
    """Loudness of int16 samples on a 0..1 scale: RMS in dBFS mapped from -60..0 dB."""
    if pcm.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float32) / 32768.0))))
    if rms <= 1e-6:
        return 0.0
    return max(0.0, min(1.0, (20.0 * math.log10(rms) + 60.0) / 60.0))


def _speaker_params(client: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Stream options for live speaker labels: the embedded engine labels segments itself
    (`diarize=true`); for any other server the client labels them (`speakers=True`)."""
    if _where(client)[0] == "embedded":
        return {"query": {**(params.get("query") or {}), "diarize": "true"}}
    return {"speakers": True}


@dataclass
class _Take:
    """One recording: from Start to the final transcript."""

    session: str
    params: dict[str, Any]
    queue: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    chunks: list[np.ndarray] = field(default_factory=list)
    next_seq: int = 0
    received: int = 0
    samples: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)
    stopping: bool = False
    stream: Any = None
    transcript: Transcript | None = None
    final_ids: set[str] = field(default_factory=set)
    failed: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    level: float = 0.0
    dirty: bool = False
    last_audio: float = field(default_factory=time.monotonic)


class Recorder(FwWidget):
    """Record from the browser's microphone and transcribe live.

    >>> rec = Recorder()            # no key: the embedded engine
    >>> rec                          # press Start, speak, press Stop
    >>> rec.transcript.text, rec.to_pandas(), rec.audio   # audio: float32, 16 kHz

    `client`: an `fw_asr_widgets.Client` (default `Client()`); `model`, `language` and any
    further keyword go to `client.stream(...)`. Synced state (what the page shows): `recording`,
    `status`, `error`, `level` (0..1), `elapsed` (seconds of audio received), `segments` (the
    last 200 as ``{id, start, end, text, final, speaker, color}``), `partial_text` (the not
    yet final tail). The audio and the full transcript stay in Python. `speakers=True`: live
    speaker labels (the embedded engine's `diarize=true`, else labelled by the client from the
    audio sent); a labelled row's `color` comes from `fw_asr_widgets._palette` (by order of
    first appearance; None without a label) and the page underlines each segment in its
    speaker's colour as soon as it is labelled; `transcript` carries the labels on segments
    and words.
    """

    _esm = bundle("recorder.js")
    _css = asset("recorder.css")

    recording = traitlets.Bool(False).tag(sync=True)
    level = traitlets.Float(0.0).tag(sync=True)
    elapsed = traitlets.Float(0.0).tag(sync=True)
    segments = traitlets.List(traitlets.Dict()).tag(sync=True)
    partial_text = traitlets.Unicode("").tag(sync=True)
    window = traitlets.Int(WINDOW).tag(sync=True)
    model_label = traitlets.Unicode("").tag(sync=True)
    instance_id = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        client: Client | None = None,
        model: str = "whisper-v3",
        language: str | None = "en",
        speakers: bool = False,
        **stream_params: Any,
    ) -> None:
        # `instance_id` must be in the state the comm opens with: the page's initialize() files
        # the shared controller under it before any later update arrives.
        super().__init__(instance_id=uuid.uuid4().hex)
        self.client = resolve_client(client)
        self.model = model
        self.language = language
        self.stream_params = dict(stream_params)
        self.speakers = speakers
        self.takes: list[Transcript] = []
        self._take: _Take | None = None
        self._lock = threading.RLock()
        self._ui = Throttle(UI_INTERVAL)
        self._closed = False
        self.model_label = planned_model_label(self.client, model, language, streaming=True)
        self.status = READY
        self.on_msg(self._on_msg)

    # ------------------------------------------------------------------ public API
    @property
    def transcript(self) -> Transcript:
        """The latest take's transcript: live while recording, final after Stop."""
        from fw_asr_widgets.transcript import Transcript

        take = self._take
        if take is None:
            return Transcript(text="")
        if take.transcript is not None:
            return take.transcript
        if take.stream is not None:
            with contextlib.suppress(Exception):
                return take.stream.transcript  # type: ignore[no-any-return]
        return Transcript(text="")

    @property
    def audio(self) -> np.ndarray:
        """Everything recorded in the latest take: mono float32 in [-1, 1] at 16 kHz."""
        take = self._take
        if take is None or not take.chunks:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            pcm = np.concatenate(take.chunks)
        return pcm.astype(np.float32) / 32768.0

    @property
    def sample_rate(self) -> int:
        """Sample rate of `audio` (always 16000)."""
        return SAMPLE_RATE

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """Lost chunk ranges ``(first_missing_seq, next_seq_received)`` of the latest take."""
        return list(self._take.gaps) if self._take else []

    def to_pandas(self, level: str = "segment") -> pd.DataFrame:
        """The transcript as a DataFrame (`Transcript.to_pandas`)."""
        return self.transcript.to_pandas(level)

    def stop(self) -> None:
        """Stop recording: tell the page to release the microphone and finish the transcript.

        Chunks still travelling from the page after this call are dropped. Returns at once; use
        `wait()` to block until the final transcript is in.
        """
        self._send_safe({"type": "stop"})
        take = self._take
        if take is not None:
            self._end_take(take)

    def wait(self, timeout: float | None = 60.0) -> Transcript:
        """Block until the current take's final transcript is in (after Stop); return it."""
        take = self._take
        if take is not None and not take.done.wait(timeout):
            raise TimeoutError(f"the transcript was not final after {timeout} s")
        return self.transcript

    def close(self) -> None:
        """Stop, close the stream and its thread, and close the widget."""
        self._closed = True
        take = self._take
        if take is not None:
            self._end_take(take)
            if take.thread is not None and take.thread is not threading.current_thread():
                take.thread.join(timeout=30)
        super().close()

    def __repr__(self) -> str:
        state = "recording" if self.recording else "idle"
        return f"Recorder(model={self.model!r}, language={self.language!r}, {state})"

    # ------------------------------------------------------------------ messages
    def _on_msg(self, _widget: Any, content: Any, buffers: Sequence[Any] | None) -> None:
        """Dispatch one custom message from the page (runs in the kernel's shell thread)."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "audio":
                self._on_audio(content, list(buffers or []))
            elif kind == "start":
                self._on_start(content)
            elif kind == "stop":
                self._on_stop(content)
            elif kind == "client_error":
                self._on_client_error(content)
        except Exception as exc:  # a handler must never raise into the kernel
            self.set_error(f"Internal error handling {kind!r}: {friendly_error(exc)}")

    def _on_start(self, content: dict[str, Any]) -> None:
        session = str(content.get("session") or "")
        if self._closed:
            self.set_error("This recorder was closed; create a new Recorder().")
            return
        abandoned = False
        with self._lock:
            current = self._take
            if current is not None and not current.stopping:
                if current.session == session:
                    return  # a repeated start of the running take
                if time.monotonic() - current.last_audio < STALE_SECONDS:
                    self._send_safe(
                        {
                            "type": "busy",
                            "message": "Already recording in another view; stop it there first.",
                        }
                    )
                    return
                abandoned = True  # its page went away mid-take (reload, closed tab)
            params = dict(self.stream_params)
            params["model"] = self.model
            if self.language is not None:
                params["language"] = self.language
            if self.speakers:
                params.update(_speaker_params(self.client, params))
            take = _Take(session=session, params=params)
            self._take = take
            if abandoned and current is not None:
                self._end_take(current)  # finishes its transcript; `recording` is the new take's
            # Under the lock: an earlier take's feeder ending now cannot slip a stale
            # `recording = False` in after this (see `_feed`'s finally).
            with self.batch():
                self.recording = True
                self.segments = []
                self.partial_text = ""
                self.elapsed = 0.0
                self.level = 0.0
        self._archive_previous(current)
        self.set_status(
            "The previous take had stopped sending audio (page reloaded?); it was ended and kept "
            "in recorder.takes. Connecting to the transcription engine…"
            if abandoned
            else "Connecting to the transcription engine…"
        )
        take.thread = threading.Thread(
            target=self._feed, args=(take,), name="fw-recorder-feed", daemon=True
        )
        take.thread.start()

    def _archive_previous(self, take: _Take | None) -> None:
        if take is None:
            return

        def keep() -> None:
            take.done.wait(120)
            if take.transcript is not None:
                self.takes.append(take.transcript)

        if take.done.is_set():
            keep()
        else:
            threading.Thread(target=keep, name="fw-recorder-archive", daemon=True).start()

    def _on_audio(self, content: dict[str, Any], buffers: list[Any]) -> None:
        take = self._take
        session = str(content.get("session") or "")
        if take is None or take.stopping:
            return  # late chunk after Stop: dropped (documented)
        if session and take.session and session != take.session:
            self._send_safe({"type": "busy", "message": "Another view is recording."})
            return
        seq = content.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            self.set_error(f"Ignored an audio message with a bad sequence number: {seq!r}.")
            return
        rate = content.get("sample_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            self.set_error(f"Ignored audio at {rate} Hz: the recorder expects 16000 Hz PCM16.")
            return
        if not buffers:
            self.set_error(f"Audio message {seq} arrived without its audio buffer.")
            return
        data = b"".join(bytes(b) for b in buffers)
        if len(data) % 2 or len(data) > MAX_CHUNK_BYTES:
            self.set_error(f"Ignored audio chunk {seq}: {len(data)} bytes is not 16-bit PCM.")
            return
        with self._lock:
            if seq < take.next_seq:
                return  # duplicate or stale
            if seq > take.next_seq:
                take.gaps.append((take.next_seq, seq))
                lost = seq - take.next_seq
                self.set_status(
                    f"Recording — {lost} audio chunk{'s' if lost > 1 else ''} lost in transit "
                    f"(#{take.next_seq}–#{seq - 1}); the transcript may miss a word there."
                )
            pcm = np.frombuffer(data, dtype="<i2").copy()
            take.chunks.append(pcm)
            take.next_seq = seq + 1
            take.received += 1
            take.last_audio = time.monotonic()
            take.samples += pcm.size
            take.level = level_of(pcm)
            take.dirty = True
        take.queue.put(data)
        if take.received % ACK_EVERY == 0:
            self._send_safe({"type": "ack", "session": take.session, "seq": seq})

    def _on_stop(self, content: dict[str, Any]) -> None:
        take = self._take
        if take is None or take.stopping:
            return
        session = str(content.get("session") or "")
        if session and take.session and session != take.session:
            return
        last = content.get("last_seq")
        if isinstance(last, int) and last >= take.next_seq:
            take.gaps.append((take.next_seq, last + 1))
        self._send_safe({"type": "ack", "session": take.session, "seq": take.next_seq - 1})
        self._end_take(take)

    def _on_client_error(self, content: dict[str, Any]) -> None:
        message = str(content.get("message") or "The browser could not record.")
        self.set_error(message[:500])
        take = self._take
        if take is not None and not take.stopping:
            self._end_take(take)
        else:
            with self.batch():
                self.recording = False

    # ------------------------------------------------------------------ streaming
    def _end_take(self, take: _Take) -> None:
        with self._lock:
            if take.stopping:
                return
            take.stopping = True
            if self._take is take:
                with self.batch():
                    self.recording = False
        take.queue.put(None)
        if not take.failed and take.thread is not None and take.thread.is_alive():
            self.set_status("Finishing the transcript…")

    def _on_event(self, take: _Take, event: Any) -> None:
        """Stream events (runner thread): note what changed; the feeder updates the traits."""
        name = type(event).__name__
        if name == "SegmentFinal":
            take.final_ids.add(str(event.segment.id))
        elif name == "ErrorEvent":
            take.failed = f"Transcription error ({event.type}): {event.message}"
            self.set_error(take.failed)
        elif name == "Reconnecting":
            self.set_status(
                f"Connection lost ({event.reason}); reconnecting (attempt {event.attempt})…"
            )
        take.dirty = True

    def _feed(self, take: _Take) -> None:
        """Feeder thread: open the stream, send queued audio, finish, publish the result."""
        stream = None
        try:
            stream = self.client.stream(on_event=lambda ev: self._on_event(take, ev), **take.params)
            stream.start()
            take.stream = stream
            if not take.stopping:
                self.set_status("Recording — speak now.")
            while True:
                try:
                    item = take.queue.get(timeout=UI_INTERVAL)
                except queue.Empty:
                    item = b""
                if item is None:
                    break
                if item:
                    stream.send(item)
                self._publish(take)
            take.transcript = stream.finish()
            self._publish(take, force=True)
            if not take.failed and self._take is take:
                self.set_status(self._summary(take))
        except Exception as exc:  # reported on the status line
            take.failed = friendly_error(exc)
            self.set_error(
                take.failed,
                f"Recording failed: {take.failed} The audio so far is kept in recorder.audio.",
            )
            with contextlib.suppress(Exception):
                if stream is not None:
                    take.transcript = stream.transcript
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
            with self._lock:
                take.stopping = True
                if self._take is take:
                    with self.batch():
                        self.recording = False
            take.done.set()

    def _summary(self, take: _Take) -> str:
        tr = take.transcript
        words = len(tr.text.split()) if tr is not None else 0
        secs = take.samples / SAMPLE_RATE
        msg = f"Done: {words} words from {secs:.1f} s of audio."
        if take.gaps:
            lost = sum(b - a for a, b in take.gaps)
            msg += f" {lost} chunk{'s' if lost > 1 else ''} were lost in transit."
        return msg + " Press Start to record again."

    def _publish(self, take: _Take, force: bool = False) -> None:
        """Push level, elapsed and the displayed segments into the traits (throttled)."""
        if not (take.dirty or force) or not self._ui.ready(force):
            return
        take.dirty = False
        tr = take.transcript if take.transcript is not None else None
        if tr is None and take.stream is not None:
            with contextlib.suppress(Exception):
                tr = take.stream.transcript
        rows: list[dict[str, Any]] = []
        if tr is not None:
            final_all = take.transcript is not None
            colors = speaker_colors(tr.speakers)
            for seg in tr.segments[-MAX_SEGMENTS:]:
                rows.append(
                    {
                        "id": str(seg.id),
                        "start": round(float(seg.start), 3),
                        "end": round(float(seg.end), 3),
                        "text": seg.text,
                        "final": final_all or str(seg.id) in take.final_ids,
                        "speaker": seg.speaker,
                        "color": colors.get(seg.speaker, NO_SPEAKER_COLOR) if seg.speaker else None,
                    }
                )
        partial = " ".join(r["text"].strip() for r in rows if not r["final"]).strip()
        if self._take is not take:
            return
        with self.batch():
            self.level = 0.0 if take.stopping else round(take.level, 3)
            self.elapsed = round(take.samples / SAMPLE_RATE, 2)
            if rows != self.segments:
                self.segments = rows
            self.partial_text = partial
