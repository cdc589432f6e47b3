"""The streaming client against the embedded engine over real loopback WebSocket."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from fw_asr_widgets.api._config import ClientConfig
from fw_asr_widgets.api._stream_protocol import StreamProtocol
from fw_asr_widgets.api._stream_runners import THREAD_PREFIX
from fw_asr_widgets.api.errors import StreamError
from fw_asr_widgets.api.streaming import (
    Checkpoint,
    Closed,
    SegmentFinal,
    SegmentUpdated,
    async_stream_file,
    open_async_stream,
    open_sync_stream,
    stream_url,
    sync_stream_file,
    to_pcm16,
)
from fw_asr_widgets.audio import decode, float_to_pcm16, pcm16_to_float, resample
from fw_asr_widgets.transcript import Transcript
from tests.conftest import JFK_REFERENCE


def norm(text: str) -> str:
    return jiwer.RemovePunctuation()(jiwer.ToLowerCase()(text)).strip()


def wer(text: str) -> float:
    return jiwer.wer(norm(JFK_REFERENCE), norm(text))


def client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


@pytest.fixture()
def config(local_server: Any) -> ClientConfig:
    return ClientConfig.resolve(base_url=local_server.url)


@pytest.fixture()
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every server text frame the client's protocol receives, parsed."""
    seen: list[dict[str, Any]] = []
    real = StreamProtocol.receive_text

    def spy(self: StreamProtocol, text: str, now: float | None = None) -> Any:
        seen.append(json.loads(text))
        return real(self, text, now)

    monkeypatch.setattr(StreamProtocol, "receive_text", spy)
    return seen


def assert_matches_final_state(tr: Transcript, messages: list[dict[str, Any]]) -> None:
    """The merged transcript equals the server's final state message, segment for segment."""
    assert messages[-1].get("trace_id") == "final"
    final = next(m for m in reversed(messages[:-1]) if m.get("segments"))
    assert all(w["is_final"] for s in final["segments"] for w in s["words"])
    server = Transcript.from_response(final)
    assert [s.id for s in tr.segments] == [s.id for s in server.segments]
    for mine, theirs in zip(tr.segments, server.segments, strict=True):
        assert mine.text == theirs.text
        assert (mine.start, mine.end) == (theirs.start, theirs.end)
        assert [(w.word, w.start, w.end, w.is_final) for w in mine.words] == [
            (w.word, w.start, w.end, w.is_final) for w in theirs.words
        ]
    assert norm(tr.text) == norm(final["text"])


# ----------------------------------------------------------------------------- end to end
def test_async_stream_file_at_4x(
    config: ClientConfig, data_dir: Path, recorded: list[dict[str, Any]]
) -> None:
    tr = asyncio.run(async_stream_file(config, data_dir / "jfk.wav", speed=4.0, language="en"))
    assert wer(tr.text) <= 0.2, tr.text
    assert tr.source and tr.source.endswith("jfk.wav")
    assert tr.words and all(w.is_final for w in tr.words)
    assert_matches_final_state(tr, recorded)


@pytest.mark.slow
def test_sync_stream_file_at_real_time(
    config: ClientConfig, data_dir: Path, recorded: list[dict[str, Any]]
) -> None:
    tr = sync_stream_file(config, data_dir / "jfk.wav", speed=1.0)
    assert wer(tr.text) <= 0.2, tr.text
    assert_matches_final_state(tr, recorded)
    # partial updates arrived before the end: the stream was really live
    assert sum(1 for m in recorded if m.get("segments")) >= 3
    assert client_threads() == []


def test_async_stream_events_metrics_and_backpressure(config: ClientConfig, data_dir: Path) -> None:
    audio = decode(data_dir / "jfk.wav")

    async def main() -> tuple[list[Any], Any, list[int]]:
        events: list[Any] = []
        depths: list[int] = []
        async with open_async_stream(config, language="en", queue_size=3, pace=8.0) as s:

            async def consume() -> None:
                async for ev in s:
                    events.append(ev)

            consumer = asyncio.create_task(consume())
            for i in range(0, audio.size, 4000):  # 250 ms float32 blocks
                await s.send(audio[i : i + 4000])
                depths.append(s.queue_depth)
            tid = await s.trace("half")
        await consumer
        return events, s, [*depths, len(tid)]

    events, s, depths = asyncio.run(main())
    assert max(depths[:-1]) <= 3  # the producer waited instead of overfilling the queue
    assert s.protocol.samples_written == audio.size  # nothing dropped
    kinds = [type(e) for e in events]
    assert SegmentUpdated in kinds and SegmentFinal in kinds
    assert Checkpoint("half") in events and Checkpoint("final") in events
    assert isinstance(events[-1], Closed) and events[-1].code == 1000
    assert s.state == "done"
    assert wer(s.transcript.text) <= 0.2
    chunks = s.metrics("chunk")
    # Each 250 ms block leaves as two 100 ms frames and its 50 ms rest (never held back).
    assert audio.size % 4000 == 0
    assert len(chunks) == 3 * (audio.size // 4000)
    assert chunks["bytes"].between(1600, 4800).all()
    assert (chunks["send_s"] >= 0).all() and chunks["bytes"].sum() == audio.size * 2
    segs = s.metrics()
    assert list(segs.columns) == ["id", "text", "audio_end_s", "first_partial_s", "final_s"]
    assert segs["final_s"].notna().any() and segs["first_partial_s"].notna().all()
    words = s.metrics("word")
    assert len(words) >= len(s.transcript.words)
    with pytest.raises(ValueError):
        s.metrics("nope")


def test_sync_stream_send_from_another_thread_numpy_48k(
    config: ClientConfig, data_dir: Path
) -> None:
    audio16 = decode(data_dir / "jfk.wav")
    audio48 = resample(audio16, 16_000, 48_000)
    got: list[Any] = []
    s = open_sync_stream(config, language="en", on_event=got.append)
    assert s.state == "new"
    with pytest.raises(StreamError, match="not started"):
        s.send(b"\x00\x00")
    with pytest.raises(StreamError, match="not started"):
        s.finish()
    s.start()
    assert len(client_threads()) == 2  # session + sender

    def producer() -> None:
        for i in range(0, audio48.size, 4800):  # 100 ms at 48 kHz, like a browser microphone
            s.send(audio48[i : i + 4800], sample_rate=48_000)

    t = threading.Thread(target=producer)
    t.start()
    seen = []
    for ev in s.events(timeout=60):  # main thread reads while the runner streams
        seen.append(ev)
        if isinstance(ev, SegmentUpdated):
            break
    t.join()
    tr = s.finish(timeout=120)
    assert wer(tr.text) <= 0.2, tr.text
    assert s.transcript == tr
    assert isinstance(got[-1], Closed) and any(isinstance(e, SegmentFinal) for e in got)
    rest = list(s)  # the iterator ends at Closed
    assert isinstance(rest[-1], Closed)
    assert client_threads() == []
    with pytest.raises(StreamError, match="done"):
        s.send(b"\x00\x00")
    assert "done" in repr(s)


def test_sync_stream_close_stops_threads_without_final_pass(config: ClientConfig) -> None:
    with pytest.raises(RuntimeError, match="boom"), open_sync_stream(config) as s:
        s.send(np.zeros(16000, dtype=np.int16))
        raise RuntimeError("boom")
    assert s.state == "closed"
    assert client_threads() == []
    assert isinstance(s.poll()[-1], Closed)


def test_sync_send_timeout_raises_instead_of_dropping(config: ClientConfig) -> None:
    s = open_sync_stream(config, queue_size=1, pace=0.05, send_timeout=0.3)
    s.start()
    try:
        # The sender holds frame 2 for 2 s (pacing); 2 more frames fit the empty queue...
        s.send(np.zeros(3200, dtype=np.int16))
        s.send(np.zeros(3200, dtype=np.int16))
        depth = s.queue_depth
        with pytest.raises(StreamError, match="stayed full"):
            s.send(np.zeros(3200, dtype=np.int16))  # ...these do not
        assert s.queue_depth == depth == 2
        assert s.protocol.samples_sent == 2 * 3200  # the refused audio was not taken
    finally:
        s.close()
    assert client_threads() == []


# ----------------------------------------------------------------------------- helpers
def test_to_pcm16_conversions() -> None:
    x = np.array([0.0, 0.5, -1.0, 2.0], dtype=np.float32)
    assert to_pcm16(x) == float_to_pcm16(x)
    i16 = np.array([1, -2, 300], dtype=np.int16)
    assert to_pcm16(i16) == i16.astype("<i2").tobytes()
    assert to_pcm16(i16.tobytes()) == i16.tobytes()
    tone = np.sin(np.arange(4800) / 48000 * 2 * np.pi * 440).astype(np.float32) * 0.5
    out = pcm16_to_float(to_pcm16(tone, sample_rate=48_000))
    assert out.size == 1600 and 0.45 < np.abs(out).max() < 0.55
    stereo = np.stack([tone, tone], axis=1)
    assert len(to_pcm16(stereo, sample_rate=48_000)) == 3200
    assert len(to_pcm16(np.array([np.nan, 0.1], dtype=np.float32))) == 4
    with pytest.raises(ValueError, match="even"):
        to_pcm16(b"\x00")
    with pytest.raises(TypeError):
        to_pcm16([0.1, 0.2])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_pcm16(np.array(["a"]))
    with pytest.raises(ValueError):
        to_pcm16(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        to_pcm16(x, sample_rate=0)


def test_stream_url_and_headers_hold_no_key_in_the_url() -> None:
    cfg = ClientConfig.resolve(api_key="sekrit-123", base_url="https://example.test/v1")
    url = stream_url(cfg, model="whisper-v3", language="en", temperature=0)
    assert url == (
        "wss://example.test/v1/audio/transcriptions/streaming?model=whisper-v3&language=en"
        "&temperature=0&response_format=verbose_json&timestamp_granularities=word,segment"
    )
    s = open_sync_stream(cfg, language="en")
    assert "sekrit" not in repr(s) and "sekrit" not in s.url
    assert "sekrit" not in repr(s._options)
    default = ClientConfig.resolve(api_key="k")
    assert stream_url(default, model="whisper-v3-turbo").startswith(
        "wss://audio-streaming-turbo.us-virginia-1.direct.fireworks.ai/v1/audio/"
    )


def test_ctrl_c_breaks_out_of_waiting_for_events(config: ClientConfig, data_dir: Path) -> None:
    """`for ev in stream:` with nothing coming is interruptible (Ctrl-C, notebook stop)."""
    import _thread

    with open_sync_stream(config, language="en") as stream:
        stream.poll()  # whatever arrived on connect
        interrupt = threading.Timer(0.5, _thread.interrupt_main)  # as Windows kernels do
        # Were the wait not interruptible, closing the stream ends the loop: DID NOT RAISE.
        fallback = threading.Timer(10.0, stream.close)
        interrupt.start()
        fallback.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                for _ in stream:
                    pass
        finally:
            interrupt.cancel()
            fallback.cancel()
        # The stream is still usable after the interrupt: audio in, transcript out.
        stream.send(decode(data_dir / "jfk.wav"))
        assert wer(stream.finish(timeout=120).text) <= 0.25


def test_streaming_models_route_to_their_documented_hosts() -> None:
    """The hosts table of docs/fireworks-audio-api.md: v2 has its own host; overrides win."""
    from fw_asr_widgets.api._config import DEFAULT_STREAMING_MODEL

    cfg = ClientConfig.resolve(api_key="k")
    path = "/v1/audio/transcriptions/streaming?model="
    assert stream_url(cfg, model="fireworks-asr-v2").startswith(
        "wss://audio-streaming-v2.api.fireworks.ai" + path + "fireworks-asr-v2&"
    )
    assert stream_url(cfg, model="fireworks-asr-large").startswith(
        "wss://audio-streaming.api.fireworks.ai" + path
    )
    assert DEFAULT_STREAMING_MODEL == "fireworks-asr-large"
    assert stream_url(cfg).startswith("wss://audio-streaming.api.fireworks.ai" + path)
    assert open_sync_stream(cfg).url == stream_url(cfg)
    # a per-model override (a dedicated v2 endpoint) leaves the other models alone
    dedicated = ClientConfig.resolve(
        api_key="k", hosts={"fireworks-asr-v2": "https://my-v2.example.test/v1"}
    )
    assert stream_url(dedicated, model="fireworks-asr-v2").startswith(
        "wss://my-v2.example.test" + path
    )
    assert stream_url(dedicated, model="fireworks-asr-large").startswith(
        "wss://audio-streaming.api.fireworks.ai" + path
    )
    # ... and beats a base_url, which covers every other model
    both = ClientConfig.resolve(
        api_key="k", base_url="http://proxy.test", hosts={"fireworks-asr-v2": "wss://v2.test"}
    )
    assert stream_url(both, model="fireworks-asr-v2").startswith("wss://v2.test" + path)
    assert stream_url(both, model="fireworks-asr-large").startswith("ws://proxy.test" + path)
    assert both.http_base("whisper-v3") == "http://proxy.test"
    assert ClientConfig.resolve(hosts={"whisper-v3": "wss://h.test"}).http_base("whisper-v3") == (
        "https://h.test"
    )
    # a stream's own base_url beats everything, for that stream only
    s = open_sync_stream(both, model="fireworks-asr-v2", base_url="https://one.test/v1")
    assert s.url.startswith("wss://one.test" + path + "fireworks-asr-v2&")
    with pytest.raises(ValueError, match="base_url"):
        ClientConfig.resolve(hosts={"fireworks-asr-v2": "audio-streaming-v2"})
