"""Recorder message handling without a browser: chunks injected through the widget's handler.

The page's messages are replayed with `recorder._handle_custom_msg(content, buffers)`, exactly
as ipywidgets delivers them; audio goes through the real streaming client to the embedded
engine over loopback.
"""

from __future__ import annotations

import json
import re
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from fw_asr_widgets.api.client import Client
from fw_asr_widgets.widgets import Recorder
from fw_asr_widgets.widgets.recorder import ACK_EVERY, MAX_SEGMENTS, level_of
from tests.conftest import JFK_REFERENCE

KEY = "sk-test-secret"
CHUNK = 3200  # 100 ms of 16 kHz PCM16


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower())).strip()


@pytest.fixture(scope="module")
def jfk_pcm(data_dir: Path) -> bytes:
    with wave.open(str(data_dir / "jfk.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[Any]:
    from fw_asr_widgets.local import serve

    handle = serve(api_key=KEY)
    try:
        yield handle
    finally:
        handle.close()


class Captured:
    """A Recorder whose messages to the page are recorded instead of sent over a comm."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.sent: list[dict[str, Any]] = []
        recorder.send = self._send  # type: ignore[method-assign]

    def _send(self, content: dict[str, Any], buffers: Any = None) -> None:
        assert buffers is None, "the recorder never sends audio back"
        self.sent.append(content)

    def acks(self) -> list[int]:
        return [m["seq"] for m in self.sent if m["type"] == "ack"]

    def msg(self, content: dict[str, Any], buffers: list[Any] | None = None) -> None:
        self.recorder._handle_custom_msg(content, buffers or [])

    def start(self, session: str = "s1") -> None:
        self.msg({"type": "start", "session": session, "device_rate": 48000, "chunk_ms": 100})

    def audio(self, seq: int, data: bytes, session: str = "s1") -> None:
        self.msg(
            {"type": "audio", "session": session, "seq": seq, "sample_rate": 16000},
            [memoryview(data)],
        )

    def stop(self, last_seq: int, session: str = "s1") -> None:
        self.msg({"type": "stop", "session": session, "last_seq": last_seq})


def _chunks(pcm: bytes) -> list[bytes]:
    return [pcm[i : i + CHUNK] for i in range(0, len(pcm), CHUNK)]


def _stream_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith(("fw-recorder", "fw-asr-client-stream")) and t.is_alive()
    ]


def test_jfk_chunks_are_acknowledged_and_transcribed(local_server: Any, jfk_pcm: bytes) -> None:
    rec = Captured(Recorder(client=Client(base_url=local_server.url)))
    r = rec.recorder
    assert not r.recording
    rec.start()
    assert r.recording
    chunks = _chunks(jfk_pcm)
    for seq, c in enumerate(chunks):
        rec.audio(seq, c)
    last = len(chunks) - 1
    rec.stop(last)
    tr = r.wait(120)
    r.close()

    # Cumulative acknowledgements every ACK_EVERY chunks, and the last one at stop.
    acks = rec.acks()
    assert acks[: len(chunks) // ACK_EVERY] == [
        i * ACK_EVERY - 1 for i in range(1, len(chunks) // ACK_EVERY + 1)
    ]
    assert acks[-1] == last
    assert acks == sorted(acks)

    err = jiwer.wer(_norm(JFK_REFERENCE), _norm(tr.text))
    assert err <= 0.25, tr.text
    assert r.transcript is tr
    assert r.error == "", r.error
    assert r.status.startswith("Done: "), r.status
    assert not r.recording
    assert r.gaps == []

    # Everything recorded is kept in Python, bit-exact, as float32 at 16 kHz.
    audio = r.audio
    assert audio.dtype == np.float32 and r.sample_rate == 16000
    expected = np.frombuffer(jfk_pcm, dtype="<i2").astype(np.float32) / 32768.0
    np.testing.assert_array_equal(audio, expected)
    assert r.elapsed == pytest.approx(len(expected) / 16000, abs=0.01)

    # Traits: small dicts, all final after Stop, partial text empty.
    assert r.segments and all(
        set(s) == {"id", "start", "end", "text", "final", "speaker", "color"} for s in r.segments
    )
    assert all(s["final"] for s in r.segments)
    assert r.partial_text == ""
    assert _norm(" ".join(s["text"] for s in r.segments)) == _norm(tr.text)
    df = r.to_pandas()
    assert len(df) == len(tr.segments) and "text" in df.columns
    assert _stream_threads() == []


def test_gap_duplicate_and_late_chunks(keyed_server: Any, jfk_pcm: bytes) -> None:
    client = Client(api_key=KEY, base_url=keyed_server.url)
    rec = Captured(Recorder(client=client))
    r = rec.recorder
    chunks = _chunks(jfk_pcm)[:30]
    rec.start()
    for seq in range(10):
        rec.audio(seq, chunks[seq])
    for seq in (13, 14, 15):  # 10, 11, 12 lost in transit
        rec.audio(seq, chunks[seq])
    assert r.gaps == [(10, 13)]
    assert "3 audio chunks lost" in r.status and "#10–#12" in r.status
    rec.audio(5, chunks[5])  # duplicate: ignored
    rec.audio(16, chunks[16])
    assert r.audio.size == 14 * 1600
    rec.stop(last_seq=18)  # 17 and 18 never arrived
    assert r.gaps == [(10, 13), (17, 19)]
    rec.audio(17, chunks[17])  # after Stop: dropped
    r.wait(120)
    assert r.audio.size == 14 * 1600
    assert "5 chunks were lost" in r.status, r.status
    assert r.error == ""
    assert rec.acks()[-1] == 16
    r.close()
    assert _stream_threads() == []


def test_state_holds_no_audio_and_no_key(keyed_server: Any, jfk_pcm: bytes) -> None:
    client = Client(api_key=KEY, base_url=keyed_server.url)
    rec = Captured(Recorder(client=client))
    r = rec.recorder
    rec.start()
    chunks = _chunks(jfk_pcm)[:40]
    for seq, c in enumerate(chunks):
        rec.audio(seq, c)
    rec.stop(len(chunks) - 1)
    r.wait(120)
    assert r.transcript.text.strip()

    state = r.get_state()
    for name, value in state.items():
        assert not isinstance(value, bytes | bytearray | memoryview), name
    text = json.dumps(state, default=repr)
    assert KEY not in text
    data = {k: v for k, v in state.items() if k not in ("_esm", "_css")}  # front-end source
    assert len(json.dumps(data, default=repr)) < 5_000  # 4 s of audio would be 128 kB
    assert KEY not in repr(r) and KEY not in r.status
    assert all(KEY not in json.dumps(m) for m in rec.sent)
    r.close()


def test_wrong_key_is_reported_in_status(keyed_server: Any, jfk_pcm: bytes) -> None:
    rec = Captured(Recorder(client=Client(api_key="sk-wrong-key", base_url=keyed_server.url)))
    r = rec.recorder
    rec.start()
    rec.audio(0, _chunks(jfk_pcm)[0])
    r.wait(60)
    assert not r.recording
    assert "API key" in r.error, r.error
    assert "sk-wrong-key" not in r.error and "sk-wrong-key" not in r.status
    r.close()
    assert _stream_threads() == []


def test_bad_messages_never_raise() -> None:
    # No stream is opened here: none of these messages start one.
    rec = Captured(Recorder(client=Client(base_url="http://127.0.0.1:9")))
    r = rec.recorder
    rec.audio(0, b"\0" * CHUNK)  # audio before Start: ignored
    assert r.audio.size == 0 and r.error == ""
    rec.msg({"type": "nonsense"})
    rec.recorder._handle_custom_msg("not a dict", [])
    rec.msg({"type": "client_error", "kind": "denied", "message": "Microphone access was denied."})
    assert r.error == "Microphone access was denied." and not r.recording
    assert r.status == r.error


def test_bad_chunks_and_second_session(local_server: Any) -> None:
    rec = Captured(Recorder(client=Client(base_url=local_server.url)))
    r = rec.recorder
    rec.start("a")
    rec.msg({"type": "audio", "session": "a", "seq": -1, "sample_rate": 16000}, [b"\0\0"])
    assert "bad sequence number" in r.error
    rec.msg({"type": "audio", "session": "a", "seq": 0, "sample_rate": 48000}, [b"\0\0"])
    assert "48000 Hz" in r.error
    rec.audio(0, b"\0" * 3, session="a")
    assert "not 16-bit PCM" in r.error
    rec.msg({"type": "audio", "session": "a", "seq": 0, "sample_rate": 16000})
    assert "without its audio buffer" in r.error
    assert r.audio.size == 0

    rec.start("b")  # another tab presses Start while "a" records
    assert rec.sent[-1]["type"] == "busy"
    rec.audio(0, b"\1\0" * 1600, session="b")
    assert rec.sent[-1]["type"] == "busy" and r.audio.size == 0
    rec.audio(0, b"\1\0" * 1600, session="a")
    assert r.audio.size == 1600 and r.gaps == []

    r.stop()  # from Python: tells the page to stop, finishes the take
    assert {"type": "stop"} in rec.sent
    r.wait(60)
    r.close()
    assert _stream_threads() == []


def test_start_takes_over_a_take_whose_page_went_away(
    local_server: Any, jfk_pcm: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page reloaded mid-take: its audio stops; a Start from the new page ends that take."""
    from fw_asr_widgets.widgets import recorder as recorder_mod

    rec = Captured(Recorder(client=Client(base_url=local_server.url)))
    r = rec.recorder
    chunks = _chunks(jfk_pcm)
    rec.start("old")
    for seq, c in enumerate(chunks[:40]):  # 4 s, then the page is gone (no stop message)
        rec.audio(seq, c, session="old")
    old_take = r._take

    rec.start("new")  # audio was fresh: still refused
    assert rec.sent[-1]["type"] == "busy" and r._take is old_take

    monkeypatch.setattr(recorder_mod, "STALE_SECONDS", 0.0)
    rec.start("new")  # nothing from "old" since: it is ended, kept, and "new" records
    assert r._take is not old_take and r.recording
    assert "previous take" in r.status
    for seq, c in enumerate(chunks[40:]):
        rec.audio(seq, c, session="new")
    rec.audio(40, chunks[0], session="old")  # a straggler from the old page is refused
    assert rec.sent[-1]["type"] == "busy"
    rec.stop(len(chunks) - 41, session="new")
    tr = r.wait(120)
    assert old_take.done.wait(120)
    for _ in range(100):  # the old take is archived once its final transcript is in
        if r.takes:
            break
        time.sleep(0.05)
    r.close()
    assert len(r.takes) == 1 and "americans" in r.takes[0].text.lower()
    assert r.audio.size == sum(len(c) for c in chunks[40:]) // 2
    assert "country" in tr.text.lower()
    assert _stream_threads() == []


def test_level_scale() -> None:
    assert level_of(np.zeros(1600, dtype=np.int16)) == 0.0
    full = np.full(1600, 32767, dtype=np.int16)
    assert level_of(full) == pytest.approx(1.0, abs=1e-3)
    quiet = (full // 100).astype(np.int16)  # -40 dBFS
    assert level_of(quiet) == pytest.approx(1 / 3, abs=0.01)
    assert MAX_SEGMENTS == 200


def test_connection_lost_is_reported(jfk_pcm: bytes) -> None:
    from fw_asr_widgets.local import serve

    server = serve()
    try:
        rec = Captured(Recorder(client=Client(base_url=server.url), max_reconnects=1))
        r = rec.recorder
        chunks = _chunks(jfk_pcm)
        rec.start()
        for seq in range(20):
            rec.audio(seq, chunks[seq])
        deadline = time.monotonic() + 30
        while not r.status.startswith("Recording"):  # connected and streaming
            assert time.monotonic() < deadline, r.status
            time.sleep(0.05)
    finally:
        server.close()
    for seq in range(20, 60):
        rec.audio(seq, chunks[seq])
    rec.stop(59)
    r.wait(60)
    assert not r.recording
    assert "Could not reach the transcription server" in r.error, r.error
    assert r.status.startswith("Recording failed") and "recorder.audio" in r.status
    assert r.audio.size >= 20 * 1600  # what arrived before the failure is kept
    r.close()
    assert _stream_threads() == []
