"""Streaming faults against the real embedded engine (see tests/api/test_stream_faults.py for
cuts, server error messages, protocol errors and auth): a network stall longer than the
server's idle timeout, a consumer that never reads its events, and a server error message
after some final words.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from fw_asr_widgets.api import _stream_runners
from fw_asr_widgets.api._config import ClientConfig
from fw_asr_widgets.api._stream_protocol import (
    Checkpoint,
    Closed,
    ErrorEvent,
    Reconnecting,
    SegmentFinal,
)
from fw_asr_widgets.api.errors import StreamError
from fw_asr_widgets.api.streaming import open_sync_stream
from fw_asr_widgets.audio import decode, float_to_pcm16
from fw_asr_widgets.local import streaming as engine_streaming
from tests.api.test_stream_faults import (
    assert_no_new_repeats,
    client_threads,
    norm_words,
    scripted,
    seg,
    state,
)
from tests.conftest import JFK_REFERENCE


@pytest.fixture(scope="module")
def jfk(data_dir: Path) -> np.ndarray:
    return decode(data_dir / "jfk.wav")


def no_client_threads(seconds: float = 10.0) -> bool:
    """True once the stream's threads have ended (they exit just after `finish` returns)."""
    for t in client_threads():
        t.join(seconds)
    return client_threads() == []


def quietest_cut(audio: np.ndarray, lo: float, hi: float) -> int:
    """The sample index of the quietest 100 ms between `lo` and `hi` seconds (a pause)."""
    win = 1600
    starts = range(int(lo * 16000), int(hi * 16000) - win, 160)
    best = min(starts, key=lambda i: float(np.mean(audio[i : i + win] ** 2)))
    return best + win // 2


def test_stall_longer_than_the_idle_timeout_keeps_and_resumes(
    local_server: Any, jfk: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_streaming, "IDLE_TIMEOUT", 1.0)
    cut = quietest_cut(jfk, 3.0, 7.0)
    events: list[Any] = []
    config = ClientConfig.resolve(base_url=local_server.url)
    s = open_sync_stream(config, on_event=events.append, backoff=(0.05,))
    s.start()
    s.send(float_to_pcm16(jfk[:cut]))
    s.trace("half")
    for ev in s.events(timeout=60):
        if ev == Checkpoint("half"):
            break
    first = s.transcript.text
    assert "fellow" in norm_words(first) and "country" not in norm_words(first)
    threading.Event().wait(3.0)  # the network stalls: the server closes the idle session
    assert s.transcript.text == first  # the transcript so far is kept
    assert not any(isinstance(e, Reconnecting) for e in events)  # no eager reconnect
    s.send(float_to_pcm16(jfk[cut:]))
    tr = s.finish(timeout=120)
    assert s.reconnects == 1 and s.state == "done"
    assert any(isinstance(e, Reconnecting) and "idle" in e.reason for e in events), events
    assert jiwer.wer(" ".join(norm_words(JFK_REFERENCE)), " ".join(norm_words(tr.text))) < 0.2
    assert_no_new_repeats(tr.text)
    s.close()
    assert no_client_threads()


def test_a_consumer_that_never_reads_events(
    local_server: Any, jfk: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stream_runners, "MAX_BUFFERED_EVENTS", 4)
    config = ClientConfig.resolve(base_url=local_server.url)
    s = open_sync_stream(config)
    s.start()
    for i in range(0, len(jfk), 1600):  # 100 ms chunks, no event read in between
        s.send(float_to_pcm16(jfk[i : i + 1600]))
    tr = s.finish(timeout=120)
    left = s.poll()
    assert len(left) <= 4  # the buffer is bounded: the oldest events were dropped
    assert isinstance(left[-1], Closed)
    assert any(isinstance(e, SegmentFinal | Checkpoint) for e in left)
    assert jiwer.wer(" ".join(norm_words(JFK_REFERENCE)), " ".join(norm_words(tr.text))) < 0.2
    assert s.transcript.text == tr.text
    s.close()
    assert no_client_threads()


def test_server_error_keeps_the_transcript_so_far_and_says_why() -> None:
    async def handler(ws: Any, n: int) -> None:
        await ws.recv()
        await ws.send(state([seg("0", [("ask", 0.0, 0.3, True), ("not", 0.3, 0.6, True)])]))
        await ws.send(json.dumps({"error": {"type": "overloaded", "message": "GPU out of memory"}}))
        await asyncio.sleep(1)

    events: list[Any] = []
    with scripted(handler) as srv:
        s = open_sync_stream(srv.config, on_event=events.append)
        s.start()
        s.send(np.zeros(3200, dtype=np.int16))
        with pytest.raises(StreamError, match=r"overloaded\): GPU out of memory"):
            s.finish(timeout=30)
    assert s.state == "failed"
    assert s.transcript.text == "ask not"  # what was final before the error is kept
    assert any(isinstance(e, ErrorEvent) and e.message == "GPU out of memory" for e in events)
    s.close()
    assert no_client_threads()
