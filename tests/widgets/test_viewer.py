"""TranscriptViewer and Timeline without a browser: bounded state, messages, renames, exports."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd
import pytest

from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets import _media as media_mod
from fw_asr_widgets.widgets.timeline import Timeline
from fw_asr_widgets.widgets.viewer import (
    SYNC_SEGMENT_LIMIT,
    TranscriptViewer,
    encode_audio,
)


def stm_transcript(data_dir: Path) -> Transcript:
    """The reference two-speaker transcript (STM), words timed evenly inside each turn."""
    segs = []
    for i, line in enumerate((data_dir / "two_speakers.stm").read_text().splitlines()):
        _f, _c, spk, a, b, *text = line.split()
        start, end = float(a), float(b)
        step = (end - start) / len(text)
        words = [
            {
                "word": " " + w,
                "start": start + k * step,
                "end": start + (k + 1) * step,
                "speaker_id": spk,
            }
            for k, w in enumerate(text)
        ]
        segs.append(
            {
                "id": i,
                "start": start,
                "end": end,
                "text": " ".join(text),
                "speaker_id": spk,
                "words": words,
            }
        )
    return Transcript.from_response(
        {"text": "", "duration": 30.0, "segments": segs}, source="two_speakers.wav"
    )


def synthetic(n: int) -> Transcript:
    segs = [
        {
            "id": i,
            "start": i * 1.08,
            "end": i * 1.08 + 1.0,
            "speaker_id": f"SPEAKER_0{i % 3}",
            "text": f"segment {i} says something fairly ordinary",
            "words": [{"word": f" w{i}", "start": i * 1.08, "end": i * 1.08 + 0.4}],
        }
        for i in range(n)
    ]
    return Transcript.from_response({"text": "", "segments": segs})


class Wire:
    def __init__(self, w: Any) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []
        w.send = lambda content, buffers=None: self.sent.append((content, list(buffers or [])))

    def of(self, kind: str) -> list[tuple[dict[str, Any], list[bytes]]]:
        return [m for m in self.sent if m[0].get("type") == kind]

    def wait_for(self, kind: str, timeout: float = 30) -> tuple[dict[str, Any], list[bytes]]:
        deadline = time.monotonic() + timeout
        while not self.of(kind):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind!r} message; got {[m[0] for m in self.sent]}")
            time.sleep(0.02)
        return self.of(kind)[-1]


def state_json(w: Any) -> str:
    """The widget state as saved into a notebook, minus the ES module / CSS source text."""
    return json.dumps({k: v for k, v in w.get_state().items() if k not in ("_esm", "_css")})


def test_ten_thousand_segments_go_by_message_and_state_stays_small() -> None:
    tr = synthetic(10_000)
    v = TranscriptViewer(tr)
    assert v.segments_by_message and v.segments == [] and v.n_segments == 10_000
    assert len(state_json(v)) < 2_000  # documented: O(speakers), not O(segments)
    wire = Wire(v)
    v._on_msg(v, {"type": "ready"}, [])
    seg_msg = wire.of("segments")[-1][0]
    assert seg_msg["revision"] == v.revision and len(seg_msg["rows"]) == 10_000
    assert seg_msg["rows"][-1] == [10_798.92, 10_799.92, 0, tr.segments[-1].text, 0]
    words = wire.of("words")[-1][0]
    assert len(words["seg"]) == 10_000 and words["seg"][-1] == 9_999
    assert words["text"][5] == " w5" and words["start"][5] == 5.4
    assert len(json.dumps(seg_msg)) < 1_000_000  # ~80 bytes per segment
    tl = Timeline(tr)
    assert tl.spans_by_message and tl.spans == [] and len(state_json(tl)) < 2_000


def test_small_transcripts_sync_compact_rows(data_dir: Path) -> None:
    tr = stm_transcript(data_dir)
    v = TranscriptViewer(tr)
    assert not v.segments_by_message
    assert v.speakers == ["Diane", "Sheila"]
    assert v.segments[0] == [6.68, 7.16, 0, "Hello?", 0]
    assert v.segments[1][2] == 1
    assert v.duration == 30.0
    at_limit = TranscriptViewer(synthetic(SYNC_SEGMENT_LIMIT))
    assert not at_limit.segments_by_message
    assert len(state_json(at_limit)) < 250_000  # documented bound for synced rows
    assert TranscriptViewer(synthetic(SYNC_SEGMENT_LIMIT + 1)).segments_by_message


def test_audio_goes_by_message_after_ready_never_in_state(data_dir: Path) -> None:
    path = data_dir / "two_speakers.wav"
    v = TranscriptViewer(stm_transcript(data_dir), audio=path)
    wire = Wire(v)
    v._on_msg(v, {"type": "ready"}, [])
    msg, bufs = wire.wait_for("audio")
    assert msg["mime"] == "audio/wav" and msg["revision"] == v.revision
    assert bufs[0] == path.read_bytes()  # a playable WAV goes as it is
    state = state_json(v)
    assert "RIFF" not in state and len(state) < 10_000
    assert v.has_audio and v.error == ""


def test_audio_encoding_array_aiff_and_long_audio(data_dir: Path, monkeypatch: Any) -> None:
    sr = 16_000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)).astype(np.float32)
    data, mime = encode_audio(tone, sr)
    assert mime == "audio/wav" and data[:4] == b"RIFF" and len(data) == 44 + 2 * tone.size
    # stereo int16 → mono PCM16 WAV at the same level
    pair = (np.stack([tone, tone], axis=1) * 32767).astype(np.int16)
    data, mime = encode_audio(pair, sr)
    pcm = np.frombuffer(data[44:], dtype="<i2")
    assert mime == "audio/wav" and pcm.size == tone.size
    assert abs(int(np.abs(pcm).max()) - int(0.3 * 32767)) < 50
    # AIFF is not playable in browsers: transcoded to Opus/WebM, same duration
    data, mime = encode_audio(data_dir / "french.aiff")
    assert mime == "audio/webm"
    src = av.open(str(data_dir / "french.aiff"))
    want = float(src.duration) / 1e6
    src.close()
    got = av.open(io.BytesIO(data))
    frames = sum(f.samples for f in got.decode(audio=0)) / 48_000
    got.close()
    assert abs(frames - want) < 0.1
    # over the pass-through size, arrays and playable files are transcoded too
    monkeypatch.setattr(media_mod, "AUDIO_PASSTHROUGH_BYTES", 10_000)
    data, mime = encode_audio(tone, sr)
    assert mime == "audio/webm" and len(data) < 2 * tone.size
    data, mime = encode_audio(data_dir / "jfk.wav")
    assert mime == "audio/webm" and len(data) < (data_dir / "jfk.wav").stat().st_size / 5
    # stereo int16 at 44.1 kHz: channels mixed, ints scaled, resampled for Opus; same duration
    t = np.arange(3 * 44_100) / 44_100
    stereo = (np.stack([np.sin(2 * np.pi * 300 * t)] * 2, axis=1) * 12_000).astype(np.int16)
    data, mime = encode_audio(stereo, 44_100)
    got = av.open(io.BytesIO(data))
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in got.decode(audio=0)])
    got.close()
    assert mime == "audio/webm" and abs(pcm.size / 48_000 - 3.0) < 0.05
    assert 0.2 < float(np.abs(pcm).max()) < 0.6  # 12000/32768 ≈ 0.37, not clipped


def test_ipywebrtc_recording_plays_as_recorded(data_dir: Path) -> None:
    # ipywebrtc: an AudioRecorder (or its Audio widget) holding one WebM/Opus recording
    ipywebrtc = pytest.importorskip("ipywebrtc")
    webm = media_mod._opus_webm(data_dir / "jfk.wav")
    rec = ipywebrtc.AudioRecorder(audio=ipywebrtc.Audio(value=webm, format="webm"))
    assert encode_audio(rec) == (webm, "audio/webm")  # playable: sent as recorded
    assert encode_audio(rec.audio) == (webm, "audio/webm")
    with pytest.raises(ValueError, match="empty"):
        encode_audio(ipywebrtc.AudioRecorder())


def test_bad_audio_arguments(data_dir: Path, tmp_path: Path) -> None:
    tr = stm_transcript(data_dir)
    with pytest.raises(FileNotFoundError):
        TranscriptViewer(tr, audio=tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="sample_rate"):
        TranscriptViewer(tr, audio=np.zeros(100, dtype=np.float32))
    with pytest.raises(TypeError):
        TranscriptViewer(tr, audio=12345)
    with pytest.raises(TypeError):
        TranscriptViewer("not a transcript")  # type: ignore[arg-type]
    # undecodable audio: reported in the page, not raised into the kernel
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"\x01\x02" * 5000)
    v = TranscriptViewer(tr, audio=junk)
    wire = Wire(v)
    v._on_msg(v, {"type": "ready"}, [])
    msg, _ = wire.wait_for("audio_error")
    assert "junk.wav" in msg["message"]
    deadline = time.monotonic() + 10
    while "audio error" not in v.error and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "audio error" in v.error


def test_rename_from_the_page_flows_back(data_dir: Path) -> None:
    v = TranscriptViewer(stm_transcript(data_dir))
    # what the front end sends when a speaker chip is edited
    v.set_state({"speaker_names": {"Diane": "Diane (NJ)", "Sheila": "Sheila (TX)"}})
    tr = v.transcript
    assert tr.speakers == ["Diane (NJ)", "Sheila (TX)"]
    assert {w.speaker for w in tr.words} == {"Diane (NJ)", "Sheila (TX)"}
    df = v.to_pandas()
    assert set(df["speaker"]) == {"Diane (NJ)", "Sheila (TX)"}
    assert "Sheila (TX)" in v.export("srt") and "Diane (NJ)" in v.export("vtt")
    # an empty or identical name means "no rename"
    v.set_state({"speaker_names": {"Diane": "Diane"}})
    assert v.transcript.speakers == ["Diane", "Sheila"]


def test_exports_by_message_and_directly(data_dir: Path) -> None:
    v = TranscriptViewer(stm_transcript(data_dir), speaker_names={"Sheila": "S"})
    srt = v.export("srt")
    blocks = [b for b in srt.strip().split("\n\n") if b.strip()]
    assert len(blocks) >= 13
    assert blocks[0].splitlines()[1] == "00:00:06,680 --> 00:00:07,160"
    assert "Hello?" in blocks[0]
    vtt = v.export("vtt")
    assert vtt.startswith("WEBVTT") and "00:00:06.680 --> 00:00:07.160" in vtt
    df = pd.read_csv(io.StringIO(v.export("csv")))
    assert len(df) == 13 and df["start"].iloc[0] == 6.68 and set(df["speaker"]) == {"Diane", "S"}
    assert v.export("txt").splitlines()[1] == "[00:00:07] S: Hello?"
    with pytest.raises(ValueError, match="export format"):
        v.export("docx")
    wire = Wire(v)
    v._on_msg(v, {"type": "export", "format": "srt"}, [])
    msg, bufs = wire.of("export")[-1]
    assert msg["filename"] == "two_speakers.srt" and msg["mime"] == "application/x-subrip"
    assert bufs[0].decode() == srt
    v._on_msg(v, {"type": "export", "format": "exe"}, [])
    assert wire.of("export_error")


def test_timeline_links_to_viewer_and_merges_spans(data_dir: Path) -> None:
    tr = stm_transcript(data_dir)
    v = TranscriptViewer(tr)
    tl = Timeline(tr, viewer=v)
    # Diane 8.436–8.876 and 8.916–9.798 are merged (gap 0.04 s)
    assert [8.436, 9.798, 0] in tl.spans
    assert tl.speakers == ["Diane", "Sheila"]
    tl.set_state({"current_time": 12.5})  # a click in the timeline's page
    assert v.current_time == 12.5
    v.seek(20.0)
    assert tl.current_time == 20.0
    v.set_state({"speaker_names": {"Diane": "D"}})
    assert tl.speaker_names == {"Diane": "D"}
    tl.unlink()
    v.seek(3.0)
    assert tl.current_time == 20.0
    with pytest.raises(ValueError):
        v.seek(-1)
    with pytest.raises(TypeError):
        tl.link("viewer")  # type: ignore[arg-type]


def test_set_transcript_bumps_revision_and_pushes_data(data_dir: Path) -> None:
    v = TranscriptViewer()
    assert v.n_segments == 0 and v.segments == []
    wire = Wire(v)
    rev = v.revision
    big = synthetic(SYNC_SEGMENT_LIMIT + 5)
    v.set_transcript(big)
    assert v.revision == rev + 1
    assert wire.of("segments")[-1][0]["revision"] == v.revision
    v.set_transcript(stm_transcript(data_dir))
    assert not v.segments_by_message and len(v.segments) == 13
    assert wire.of("words")[-1][0]["revision"] == v.revision


def test_audio_of_a_replaced_transcript_is_not_sent_as_current(data_dir: Path) -> None:
    tr = stm_transcript(data_dir)
    v = TranscriptViewer()
    wire = Wire(v)
    v.set_transcript(tr, audio=data_dir / "french.aiff")  # transcoded in a thread
    v.set_transcript(tr)  # replaced at once, no audio
    time.sleep(1.0)
    v.set_transcript(tr, audio=data_dir / "jfk.wav")
    msg, bufs = wire.wait_for("audio")
    deadline = time.monotonic() + 10
    while not any(m[0]["revision"] == v.revision for m in wire.of("audio")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    current = [m for m in wire.of("audio") if m[0]["revision"] == v.revision]
    assert len(current) == 1 and current[0][1][0] == (data_dir / "jfk.wav").read_bytes()
    assert all(m[0]["revision"] != v.revision - 1 for m in wire.of("audio"))
