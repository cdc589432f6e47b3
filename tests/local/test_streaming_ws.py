"""The streaming session over a real loopback WebSocket (uvicorn + websockets client)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fw_asr_widgets.audio import decode, float_to_pcm16
from fw_asr_widgets.local import models, streaming
from tests._logs import Records, attached
from tests.conftest import JFK_REFERENCE

CHUNK = 3200  # 100 ms of PCM16 at 16 kHz


@pytest.fixture(scope="module")
def errors() -> Iterator[Records]:
    """ERROR records from the server and the engine (any thread)."""
    with attached(Records(logging.ERROR), "uvicorn.error", "fw_asr_widgets", "starlette") as h:
        yield h


@pytest.fixture(scope="module")
def ws_url(errors: Records) -> Iterator[str]:
    """A minimal app whose route accepts and hands the socket to `serve_stream`."""
    model = models.load()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await streaming.serve_stream(websocket, model=model, params=dict(websocket.query_params))

    app = Starlette(routes=[WebSocketRoute("/v1/audio/transcriptions/streaming", endpoint)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/v1/audio/transcriptions/streaming"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def jfk_pcm(data_dir: Path) -> bytes:
    return float_to_pcm16(decode(data_dir / "jfk.wav"))


def _norm(text: str) -> str:
    return jiwer.RemovePunctuation()(jiwer.ToLowerCase()(text)).strip()


def _trace(trace_id: str) -> str:
    return json.dumps(
        {"event_id": f"e-{trace_id}", "object": "stt.input.trace", "trace_id": trace_id}
    )


class Session:
    """Test client: a receiver thread records every message with its arrival time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.t0 = time.monotonic()
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.closed: ConnectionClosed | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                msg = json.loads(self.ws.recv())
                self.messages.append((time.monotonic() - self.t0, msg))
                if msg.get("trace_id") == "final":
                    self.done.set()
        except ConnectionClosed as exc:
            self.closed = exc
        finally:
            self.done.set()

    def stream(
        self, pcm: bytes, speed: float | None, trace_at: dict[int, str] | None = None
    ) -> None:
        """Send `pcm` in 100 ms chunks at `speed`x real time (None: at once)."""
        for n, i in enumerate(range(0, len(pcm), CHUNK)):
            if speed is not None:
                delay = self.t0 + (i / 32000) / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self.ws.send(pcm[i : i + CHUNK])
            if trace_at and n in trace_at:
                self.ws.send(_trace(trace_at[n]))

    def finish(self, timeout: float = 60) -> dict[str, Any]:
        """Send the final trace, wait for its echo; return the final state message."""
        self.ws.send(_trace("final"))
        assert self.done.wait(timeout), "no final echo"
        msgs = [m for _, m in self.messages]
        assert msgs[-1].get("trace_id") == "final"
        return msgs[-2]

    def updates(self) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if "segments" in m]


def _merge(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    state: dict[int, dict[str, Any]] = {}
    for msg in messages:
        for seg in msg["segments"]:
            state[seg["id"]] = seg
    return [state[k] for k in sorted(state) if state[k]["words"]]


def _check_final(session: Session, final: dict[str, Any]) -> float:
    assert final["task"] == "transcribe"
    assert final["language"] == "en"
    assert final["segments"], "empty final transcript"
    for seg in final["segments"]:
        assert isinstance(seg["id"], int)
        assert all(w["is_final"] is True for w in seg["words"])
    assert [w["is_final"] for w in final["words"]] == [True] * len(final["words"])
    # The client-side merge of every update before the final state message equals it.
    before = [m for m in session.updates() if m is not final]
    assert _merge(before) == final["segments"]
    error = jiwer.wer(_norm(JFK_REFERENCE), _norm(final["text"]))
    return error


def _stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(streaming.THREAD_PREFIX)]


def test_stream_jfk_4x_with_mid_trace(ws_url: str, jfk_pcm: bytes, errors: Records) -> None:
    with connect(ws_url + "?model=whisper-v3&language=en", max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm, speed=4.0, trace_at={50: "mid-5s"})
        final = session.finish()
    error = _check_final(session, final)
    print(f"4x: WER {error:.3f}: {final['text']!r}")
    assert error <= 0.2
    msgs = [m for _, m in session.messages]
    echoes = [m["trace_id"] for m in msgs if "trace_id" in m]
    assert echoes == ["mid-5s", "final"]
    mid = next(m for m in msgs if m.get("trace_id") == "mid-5s")
    assert mid == {"event_id": "e-mid-5s", "object": "stt.output.trace", "trace_id": "mid-5s"}
    # The echo follows an update covering the audio before it.
    assert any("segments" in m for m in msgs[: msgs.index(mid)])
    # Partial words were sent before they were final.
    assert any(not w["is_final"] for m in session.updates() for w in m["words"])
    assert not errors.records


@pytest.mark.slow
def test_stream_jfk_realtime_latency(ws_url: str, jfk_pcm: bytes) -> None:
    """1x real time: WER, and the commit latency (printed, not asserted)."""
    with connect(ws_url + "?timestamp_granularities=word,segment", max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm, speed=1.0)
        final = session.finish()
    error = _check_final(session, final)
    first_final: dict[tuple[str, float], float] = {}
    for t, msg in session.messages:
        for w in msg.get("words", []):
            if w["is_final"]:
                first_final.setdefault((w["word"], w["start"]), t - w["end"])
    lat = list(first_final.values())
    print(
        f"1x: WER {error:.3f}; commit latency mean {np.mean(lat):.2f} s, "
        f"max {np.max(lat):.2f} s over {len(lat)} words; {len(session.messages)} messages"
    )
    assert error <= 0.2


def test_garbage_text_frames_get_errors_and_session_continues(ws_url: str, jfk_pcm: bytes) -> None:
    with connect(ws_url, max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: 32000 * 3], speed=None)
        ws.send("this is not json")
        ws.send(json.dumps({"object": "stt.something.else"}))
        ws.send(json.dumps([1, 2]))
        ws.send(json.dumps({"object": "stt.input.trace"}))  # no trace_id
        session.stream(jfk_pcm[32000 * 3 :], speed=None)
        final = session.finish()
    errs = [m["error"] for _, m in session.messages if "error" in m]
    assert len(errs) == 4
    assert all(e["object"] == "error" and e["type"] == "invalid_request_error" for e in errs)
    assert "JSON" in errs[0]["message"] and "stt.something.else" in errs[1]["message"]
    assert jiwer.wer(_norm(JFK_REFERENCE), _norm(final["text"])) <= 0.2


def test_odd_sized_frames_and_clear(ws_url: str, jfk_pcm: bytes) -> None:
    """Frames split mid-sample are reassembled; a clear finalizes and opens new segments."""
    half = 32000 * 5 + 1  # odd: the clear comes after half a sample
    with connect(ws_url, max_size=None) as ws:
        session = Session(ws)
        for i in range(0, half, 1001):
            ws.send(jfk_pcm[i : min(i + 1001, half)])
        ws.send(json.dumps({"event_id": "c", "object": "stt.state.clear", "reset_id": "r1"}))
        for i in range(half, len(jfk_pcm), 1001):
            ws.send(jfk_pcm[i : i + 1001])
        final = session.finish()
    msgs = [m for _, m in session.messages]
    reset = [i for i, m in enumerate(msgs) if m.get("reset_id") == "r1"]
    assert len(reset) == 1
    assert msgs[reset[0]] == {"event_id": "c", "object": "stt.state.cleared", "reset_id": "r1"}
    before_ids = {s["id"] for m in msgs[: reset[0] + 1] for s in m.get("segments", [])}
    after_ids = {s["id"] for m in msgs[reset[0] + 1 :] for s in m.get("segments", [])}
    assert before_ids and after_ids
    # Segments before the clear are final and never revised afterwards.
    assert min(int(i) for i in after_ids - before_ids) > max(int(i) for i in before_ids)
    assert {s["id"] for s in final["segments"]} >= before_ids
    # The update sent before the acknowledgement finalised everything heard.
    assert msgs[reset[0] - 1]["words"] and all(w["is_final"] for w in msgs[reset[0] - 1]["words"])
    # Split mid-word at 5 s, so allow a little more error than the whole stream.
    assert jiwer.wer(_norm(JFK_REFERENCE), _norm(final["text"])) <= 0.3


def test_disconnect_mid_stream_leaves_no_thread(
    ws_url: str, jfk_pcm: bytes, errors: Records
) -> None:
    before = {t.ident for t in threading.enumerate()}
    with connect(ws_url, max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: 32000 * 3], speed=None)
        deadline = time.monotonic() + 30
        while not session.updates():  # a decode ran: the session's worker thread exists
            assert time.monotonic() < deadline, "no update"
            time.sleep(0.05)
        session.stream(jfk_pcm[32000 * 3 : 32000 * 5], speed=None)
        ws.socket.shutdown(socket.SHUT_RDWR)  # abrupt: no close frame
    deadline = time.monotonic() + 15
    while _stream_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _stream_threads() == []
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    # tqdm's process-wide monitor thread appears when this test is the first to load a model.
    assert [t.name for t in leaked if t is not session.thread and t.name != "tqdm_monitor"] == []
    assert not errors.records
    # The server keeps serving.
    with connect(ws_url, max_size=None) as ws2:
        s2 = Session(ws2)
        s2.stream(jfk_pcm[: 32000 * 2], speed=None)
        assert s2.finish()["segments"]


def test_idle_timeout_closes_with_reason(
    ws_url: str, jfk_pcm: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "IDLE_TIMEOUT", 1.0)
    with connect(ws_url, max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: 32000 * 2], speed=None)
        assert session.done.wait(30)
    assert session.closed is not None and session.closed.rcvd is not None
    assert session.closed.rcvd.code == 1000
    assert "idle timeout" in session.closed.rcvd.reason
    # The audio sent before going idle was finalized and sent.
    last = session.updates()[-1]
    assert last["text"] and all(w["is_final"] for w in last["words"])


def test_response_format_json_sends_text_only(ws_url: str, jfk_pcm: bytes) -> None:
    with connect(ws_url + "?response_format=json", max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm, speed=None)
        session.ws.send(_trace("final"))
        assert session.done.wait(60)
    msgs = [m for _, m in session.messages]
    assert msgs[-1] == {"event_id": "e-final", "object": "stt.output.trace", "trace_id": "final"}
    assert all(set(m) == {"text"} for m in msgs[:-1])
    assert jiwer.wer(_norm(JFK_REFERENCE), _norm(msgs[-2]["text"])) <= 0.2


def test_through_the_embedded_server(local_server: Any, jfk_pcm: bytes) -> None:
    """The real server's route hands the socket to `serve_stream`."""
    url = local_server.url.replace("http://", "ws://") + "/v1/audio/transcriptions/streaming"
    with connect(url + "?model=fireworks-asr-large&language=en", max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm, speed=None)
        final = session.finish()
    error = _check_final(session, final)
    assert error <= 0.2


def _wait_for(session: Session, pred: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, m in list(session.messages):
            if pred(m):
                return m
        time.sleep(0.02)
    raise AssertionError("no such message")


def test_checkpoint_mid_stream_finalises_and_the_session_goes_on(
    ws_url: str, jfk_pcm: bytes
) -> None:
    """`{"checkpoint_id": X}` flushes: its answer is the full, final state carrying X."""
    with connect(ws_url, max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: 32000 * 5], speed=None)
        ws.send(json.dumps({"checkpoint_id": 7}))
        answer = _wait_for(session, lambda m: m.get("checkpoint_id") == 7)
        assert answer["segments"] and answer["text"]
        assert all(isinstance(s["id"], int) for s in answer["segments"])
        assert all(w["is_final"] for w in answer["words"])
        # No timestamp_granularities asked for: no times on words or segments.
        assert all("start" not in w and "end" not in w for w in answer["words"])
        assert all("start" not in s and "end" not in s for s in answer["segments"])
        assert {"word", "probability", "is_final", "language", "hallucination_score"} <= set(
            answer["words"][0]
        )
        before = {s["id"] for s in answer["segments"]}
        session.stream(jfk_pcm[32000 * 5 :], speed=None)
        final = session.finish()
    assert {s["id"] for s in final["segments"]} >= before
    assert max(s["id"] for s in final["segments"]) > max(before)
    assert jiwer.wer(_norm(JFK_REFERENCE), _norm(final["text"])) <= 0.3


def test_times_only_as_timestamp_granularities_asks(ws_url: str, jfk_pcm: bytes) -> None:
    with connect(ws_url + "?timestamp_granularities=word", max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: 32000 * 4], speed=None)
        final = session.finish()
    assert final["words"] and all({"start", "end"} <= set(w) for w in final["words"])
    assert all("start" not in s for s in final["segments"])


def test_trace_without_new_audio_is_answered_from_the_last_decode(
    ws_url: str, jfk_pcm: bytes
) -> None:
    with connect(ws_url, max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: 32000 * 3], speed=None)
        ws.send(_trace("a"))
        _wait_for(session, lambda m: m.get("trace_id") == "a")
        ws.send(_trace("b"))
        _wait_for(session, lambda m: m.get("trace_id") == "b")
        session.finish()
    msgs = [m for _, m in session.messages]
    ia = msgs.index(next(m for m in msgs if m.get("trace_id") == "a"))
    ib = msgs.index(next(m for m in msgs if m.get("trace_id") == "b"))
    assert ib == ia + 1  # no decode in between: nothing new to say
    assert msgs[ib] == {"event_id": "e-b", "object": "stt.output.trace", "trace_id": "b"}


def test_many_traces_share_decodes(ws_url: str, jfk_pcm: bytes) -> None:
    """A trace after every 100 ms chunk, sent at once: every trace is echoed in order, after
    the update covering it, and far fewer decodes run than traces were sent."""
    n = 60
    with connect(ws_url, max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: CHUNK * n], speed=None, trace_at={i: f"t{i}" for i in range(n)})
        _wait_for(session, lambda m: m.get("trace_id") == f"t{n - 1}")
        session.finish()
    msgs = [m for _, m in session.messages]
    echoes = [m["trace_id"] for m in msgs if m.get("object") == "stt.output.trace"]
    assert echoes == [f"t{i}" for i in range(n)] + ["final"]
    last_echo = max(i for i, m in enumerate(msgs) if m.get("trace_id") == f"t{n - 1}")
    updates = [m for m in msgs[:last_echo] if "segments" in m]
    assert updates and len(updates) < n // 3


def test_text_timeout_closes_the_open_segment_without_a_trace(ws_url: str, jfk_pcm: bytes) -> None:
    """text_timeout_seconds=1: when the frames stop for 1 s, the open segment is finalised."""
    with connect(ws_url + "?text_timeout_seconds=1", max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm[: 32000 * 4], speed=None)
        last = _wait_for(
            session,
            lambda m: m.get("words") and all(w["is_final"] for w in m["segments"][-1]["words"]),
            timeout=60,
        )
        assert "trace_id" not in last and "checkpoint_id" not in last
        text = " ".join(w["word"] for w in last["words"])
        final = session.finish()
    assert text and _norm(text).split()[0] == "and"
    assert final["segments"]


def test_hallucination_score_means_what_it_means_in_file_responses(
    ws_url: str, jfk_pcm: bytes
) -> None:
    """Streaming words carry `_quality.hallucination_score`, as file responses do: on clear
    speech, Whisper's no-speech estimate (low), never the guard's 1.0."""
    with connect(ws_url + "?language=en", max_size=None) as ws:
        session = Session(ws)
        session.stream(jfk_pcm, speed=None)
        final = session.finish()
    scores = [w["hallucination_score"] for w in final["words"]]
    assert scores and all(0.0 <= s < 0.5 for s in scores), scores


def test_the_hallucination_guard_flags_streamed_words_as_it_flags_file_words(
    ws_url: str, shared_data: Path
) -> None:
    """French forced to English, said four times: tiny.en writes one invented phrase again and
    again; the guard's verdict (1.0) reaches the streamed words, as it does file responses'
    (`tests/local/test_language_guard.py`)."""
    fr = decode(shared_data / "french.aiff")
    with connect(ws_url + "?language=en", max_size=None) as ws:
        session = Session(ws)
        session.stream(float_to_pcm16(np.concatenate([fr] * 4)), speed=None)
        final = session.finish()
    flagged = [w["hallucination_score"] == 1.0 for w in final["words"]]
    assert flagged and sum(flagged) >= len(flagged) / 2, final["text"][:300]
