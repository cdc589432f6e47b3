"""An ipywebrtc recording goes straight to `transcribe()` (duck-typed: no widget import)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.audio import decode
from tests.conftest import JFK_REFERENCE


def _webm_opus(wav: Path, out: Path) -> bytes:
    """Encode a WAV as WebM/Opus, which is what ipywebrtc's AudioRecorder records."""
    pcm = (decode(wav, sample_rate=48_000) * 32767).astype(np.int16)
    with av.open(str(out), "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        for i in range(0, pcm.size, 960):
            frame = av.AudioFrame.from_ndarray(pcm[None, i : i + 960], format="s16", layout="mono")
            frame.sample_rate = 48_000
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.read_bytes()


def test_audio_recorder_recording_is_transcribed(
    tmp_path: Path, data_dir: Path, local_server: object
) -> None:
    ipywebrtc = pytest.importorskip("ipywebrtc")
    webm = _webm_opus(data_dir / "jfk.wav", tmp_path / "rec.webm")
    recorder = ipywebrtc.AudioRecorder(audio=ipywebrtc.Audio(value=webm, format="webm"))
    with fw.Client(base_url=local_server.url) as client:  # type: ignore[attr-defined]
        from_recorder = client.transcribe(recorder)
        from_audio_widget = client.transcribe(recorder.audio)
    assert isinstance(from_recorder, fw.Transcript)
    assert from_recorder.wer(JFK_REFERENCE) <= 0.15
    assert from_audio_widget.text == from_recorder.text
    with pytest.raises(fw.AudioDecodeError, match="empty"):
        fw.Client(base_url=local_server.url).transcribe(ipywebrtc.AudioRecorder())  # type: ignore[attr-defined]


def test_other_objects_are_refused_plainly() -> None:
    with pytest.raises(TypeError, match="ipywebrtc recording, not int"):
        fw.Client(base_url="http://127.0.0.1:9").transcribe(42)  # type: ignore[arg-type]
