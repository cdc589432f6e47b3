"""The streaming client against a scripted loopback WebSocket server that speaks the documented
Fireworks shapes, one dialect at a time (docs/fireworks-audio-api.md, "Streaming").

The server is a small synthetic recogniser: the test audio encodes its own stream position
(sample i holds i // 16), so each session knows which part of the stream it hears, "hears" the
words of a fixed script whose audio it received, finalises words `LAG` s behind the audio, and
reports times from ITS OWN session start (timestamps restart at zero after a reconnect, as the
reference says). A dialect picks: numeric or string segment ids, trace echoes as
`stt.output.trace` or in the older transcript envelope, full-state or changed-only messages,
how the end of audio is answered (checkpoint echo, checkpoint refused with an error frame and
the trace finalising, checkpoint echo only, checkpoint echo then close), and whether the first
connection drops mid-stream (close 1011 or a TCP abort).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from fw_asr_widgets.api import _stream_runners
from fw_asr_widgets.api.errors import APITimeoutError, StreamError
from fw_asr_widgets.api.streaming import (
    Checkpoint,
    Closed,
    ErrorEvent,
    SegmentFinal,
    StateCleared,
    open_async_stream,
    open_sync_stream,
)
from fw_asr_widgets.transcript import Transcript
from tests.api.test_stream_faults import ScriptedServer, client_threads, scripted

RATE = 16_000
DURATION = 6.0
LAG = 0.6
DROP_AT = 3.2
WORDS = [(f"w{i}", round(0.3 + 0.45 * i, 2), round(0.6 + 0.45 * i, 2)) for i in range(12)]
"""(word, start, end) in stream seconds, on a 50 ms grid; the last ends at 5.55 s."""


def position_audio(seconds: float = DURATION) -> bytes:
    """PCM16 whose sample i holds i // 16: any chunk tells where in the stream it is."""
    return (np.arange(int(seconds * RATE)) // 16).astype("<i2").tobytes()


@dataclass(frozen=True)
class Dialect:
    name: str
    numeric_ids: bool = True
    echo: str = "output_trace"  # "output_trace" | "envelope"
    messages: str = "changed"  # "changed" | "full"
    end: str = "checkpoint"  # "checkpoint" | "refuse" | "checkpoint_only" | "checkpoint_close"
    drop: str | None = None  # None | "1011" | "abort"
    seg_len: int = 3


DIALECTS = [
    Dialect("reference", seg_len=1),
    Dialect("reference-full-drop", messages="full", drop="1011"),
    Dialect("old-envelope-refuses-checkpoint", numeric_ids=False, echo="envelope", end="refuse"),
    Dialect(
        "old-full-refuses-checkpoint-abort",
        numeric_ids=False,
        echo="envelope",
        messages="full",
        end="refuse",
        drop="abort",
        seg_len=1,
    ),
    Dialect("numeric-envelope-drop", echo="envelope", drop="1011", seg_len=2),
    Dialect("checkpoint-echo-only", messages="full", end="checkpoint_only"),
    Dialect("checkpoint-then-close-drop", end="checkpoint_close", drop="abort"),
    Dialect("string-ids-output-trace", numeric_ids=False, messages="full", drop="1011", seg_len=1),
]


@dataclass
class Session:
    """One connection's view: where its audio starts in the stream and what it sent."""

    start: float | None = None
    nbytes: int = 0
    finalised: bool = False
    sent: dict[Any, dict[str, Any]] = field(default_factory=dict)
    reported_starts: list[float] = field(default_factory=list)


class FakeFireworks:
    """The scripted server for one `Dialect` (`handle` is the ScriptedServer handler)."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.sessions: list[Session] = []
        self.paths: list[str] = []
        self.texts: list[list[dict[str, Any]]] = []
        self.answer_end = True  # False: ignore checkpoints and traces (a silent server)

    def now(self, s: Session) -> float:
        assert s.start is not None
        return s.start + s.nbytes / (2 * RATE)

    def segments(self, s: Session) -> list[dict[str, Any]]:
        if s.start is None:
            return []
        now = self.now(s)
        heard = [w for w in WORDS if w[1] >= s.start - 1e-6 and w[2] <= now + 1e-6]
        segs = []
        for k in range(0, len(heard), self.d.seg_len):
            group = heard[k : k + self.d.seg_len]
            words = [
                {
                    "word": text,
                    "start": round(a - s.start, 3),  # this session's own time axis
                    "end": round(b - s.start, 3),
                    "probability": 0.9,
                    "is_final": s.finalised or b <= now - LAG,
                    "language": "en",
                    "hallucination_score": 0.0,
                }
                for text, a, b in group
            ]
            sid = k // self.d.seg_len
            segs.append(
                {
                    "id": sid if self.d.numeric_ids else str(sid),
                    "text": " ".join(w["word"] for w in words),
                    "start": words[0]["start"],
                    "end": words[-1]["end"],
                    "words": words,
                }
            )
        return segs

    def update(self, s: Session, **extra: Any) -> str | None:
        """The next transcript message (None when nothing changed and nothing is to echo)."""
        segs = self.segments(s)
        changed = [g for g in segs if s.sent.get(g["id"]) != g]
        for g in changed:
            s.sent[g["id"]] = g
            s.reported_starts.append(g["start"])
        if not changed and not extra:
            return None
        listed = segs if self.d.messages == "full" else changed
        msg = {
            "task": "transcribe",
            "language": "en",
            "text": " ".join(g["text"] for g in segs),
            "segments": listed,
            "words": [w for g in listed for w in g["words"]],
            **extra,
        }
        return json.dumps(msg)

    def echo(self, trace_id: str) -> str:
        if self.d.echo == "output_trace":
            return json.dumps(
                {"event_id": uuid.uuid4().hex, "object": "stt.output.trace", "trace_id": trace_id}
            )
        return json.dumps(
            {"task": "transcribe", "language": "en", "text": "", "segments": [], "words": []}
            | {"trace_id": trace_id}
        )

    async def handle(self, ws: Any, n: int) -> None:
        s = Session()
        self.sessions.append(s)
        self.paths.append(ws.request.path)
        self.texts.append([])
        closing: asyncio.Task[None] | None = None
        try:
            async for msg in ws:
                if closing is not None:
                    continue  # read on, so the client's close frame is not stuck behind its audio
                if isinstance(msg, bytes):
                    if s.start is None:
                        s.start = int(np.frombuffer(msg[:2], "<i2")[0]) * 16 / RATE
                    s.nbytes += len(msg)
                    out = self.update(s)
                    if out:
                        await ws.send(out)
                    if n == 0 and self.d.drop and self.now(s) >= DROP_AT:
                        if self.d.drop == "abort":  # no close frame; unsent bytes are lost
                            ws.transport.abort()
                            return
                        closing = asyncio.create_task(ws.close(code=1011, reason="internal error"))
                    continue
                event = json.loads(msg)
                self.texts[n].append(event)
                if not self.answer_end:
                    continue
                if "checkpoint_id" in event:
                    if self.d.end == "refuse":
                        await ws.send(json.dumps({"error": {
                            "object": "error", "type": "invalid_request_error",
                            "message": "unknown event object None",
                        }}))  # fmt: skip
                        continue
                    s.finalised = True
                    await ws.send(self.update(s, checkpoint_id=event["checkpoint_id"]) or "")
                    if self.d.end == "checkpoint_close":
                        await ws.close(code=1000)
                        return
                elif event.get("object") == "stt.input.trace":
                    if self.d.end == "checkpoint_only":
                        continue
                    if event["trace_id"] == "final" and self.d.end == "refuse":
                        s.finalised = True
                        out = self.update(s)
                        if out:
                            await ws.send(out)
                    await ws.send(self.echo(event["trace_id"]))
                elif event.get("object") == "stt.state.clear":
                    if self.d.echo == "output_trace":
                        cleared = {"event_id": uuid.uuid4().hex, "object": "stt.state.cleared"}
                        await ws.send(json.dumps(cleared | {"reset_id": event["reset_id"]}))
                    else:
                        await ws.send(self.update(s, reset_id=event["reset_id"]) or "")
        except ConnectionClosed:  # our own close 1011 ends the loop this way
            pass
        if closing is not None:
            await closing


def run_stream(srv: ScriptedServer, runner: str, audio: bytes, events: list[Any]) -> Any:
    """Send half the audio, a trace and a clear, the rest, then finish; return the stream."""
    half = len(audio) // 2
    opts: dict[str, Any] = {"language": "en", "backoff": (0.01,), "on_event": events.append}
    if runner == "sync":
        with open_sync_stream(srv.config, **opts) as s:
            s.send(audio[:half])
            s.trace("mid")
            s.clear("r1")
            s.send(audio[half:])
        return s

    async def main() -> Any:
        async with open_async_stream(srv.config, **opts) as a:
            await a.send(audio[:half])
            await a.trace("mid")
            await a.clear("r1")
            await a.send(audio[half:])
        return a

    return asyncio.run(main())


def assert_one_time_axis(tr: Transcript) -> None:
    """Every word, in order, once, final, at its stream time (not its session's time)."""
    assert [w.word for w in tr.words] == [w[0] for w in WORDS], tr.text
    assert all(w.is_final for w in tr.words)
    assert [w.start for w in tr.words] == pytest.approx([w[1] for w in WORDS], abs=2e-3)
    assert [w.end for w in tr.words] == pytest.approx([w[2] for w in WORDS], abs=2e-3)
    starts = [s.start for s in tr.segments]
    assert starts == sorted(starts)


@pytest.mark.parametrize("runner", ["sync", "async"])
@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.name for d in DIALECTS])
def test_client_against_a_scripted_dialect(
    dialect: Dialect, runner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stream_runners, "FINAL_TRACE_GRACE", 0.3)
    fake = FakeFireworks(dialect)
    events: list[Any] = []
    with scripted(fake.handle) as srv:
        s = run_stream(srv, runner, position_audio(), events)
        connections = srv.count
    tr = s.transcript
    assert_one_time_axis(tr)
    assert s.state == "done" and isinstance(events[-1], Closed)
    assert any(isinstance(e, SegmentFinal) for e in events)
    assert not any(isinstance(e, ErrorEvent) for e in events)
    # ids: numeric order within each connection ("10" after "9"), "<n>:<id>" after a reconnect
    first = [seg.id for seg in tr.segments if ":" not in seg.id]
    assert first == [str(k) for k in range(len(first))]
    if dialect.drop != "abort":  # an abort may lose the ack; a clear is not replayed
        assert StateCleared("r1") in events
    assert (Checkpoint("mid") in events) == (dialect.end != "checkpoint_only")
    if dialect.end in ("checkpoint", "refuse"):
        assert Checkpoint("final") in events
    if dialect.end != "refuse":
        assert Checkpoint("final", "checkpoint") in events
    else:
        assert s.protocol.refused_checkpoints  # the error frame did not end the stream
    # the query asks for word and segment times, on every connection
    for path in fake.paths:
        assert "timestamp_granularities=word,segment" in path
        assert "response_format=verbose_json" in path and "model=" in path
    # the end of audio: the checkpoint, then the trace
    last = fake.texts[-1]
    assert {"checkpoint_id": "final"} in last
    ends = [e for e in last if e.get("checkpoint_id") == "final" or e.get("trace_id") == "final"]
    assert ends[0] == {"checkpoint_id": "final"}
    if dialect.end != "checkpoint_close":  # that server closes before reading the trace
        assert ends[-1].get("trace_id") == "final"
    if dialect.drop:
        assert connections == 2 and s.reconnects == 1
        later = fake.sessions[1]
        assert later.start is not None
        if dialect.drop == "1011":  # (an abort may lose the final words: then all is re-sent)
            # the second session heard the stream from well after its start, yet reported
            # times from 0; the transcript still has the stream's times (above)
            assert later.start > 1.0 and min(later.reported_starts) < later.start
        assert any(seg.id.startswith("1:") for seg in tr.segments)
    else:
        assert connections == 1 and s.reconnects == 0
    assert client_threads() == []


def test_a_server_that_answers_no_end_of_audio_times_out_and_keeps_the_transcript() -> None:
    fake = FakeFireworks(Dialect("silent"))
    fake.answer_end = False
    with scripted(fake.handle) as srv:
        s = open_sync_stream(srv.config)
        s.start()
        s.send(position_audio())
        with pytest.raises(APITimeoutError, match="did not finish"):
            s.finish(timeout=1.5)
    assert s.state == "closed"
    # what arrived is kept: every word heard, the last LAG s of them not final
    assert [w.word for w in s.transcript.words] == [w[0] for w in WORDS]
    assert s.transcript.words[0].is_final and not s.transcript.words[-1].is_final
    assert client_threads() == []


def test_an_error_other_than_a_refused_checkpoint_still_fails_the_stream() -> None:
    async def handler(ws: Any, n: int) -> None:
        async for msg in ws:
            if isinstance(msg, str) and "checkpoint_id" in msg:
                err = {"type": "server_error", "message": "decoder crashed"}
                await ws.send(json.dumps({"error": err}))

    with scripted(handler) as srv:
        s = open_sync_stream(srv.config)
        s.start()
        s.send(np.zeros(3200, dtype=np.int16))
        with pytest.raises(StreamError, match=r"server_error\): decoder crashed"):
            s.finish(timeout=10)
    assert s.state == "failed" and s.protocol.refused_checkpoints == []
    assert client_threads() == []
