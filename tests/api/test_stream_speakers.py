"""Speaker labels on streams: labels the embedded engine sends (`diarize=true`) reach the
transcript, and the client labels a label-less server's segments itself (`speakers=True`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fw_asr_widgets.api._config import ClientConfig
from fw_asr_widgets.api._stream_protocol import StreamProtocol
from fw_asr_widgets.api.streaming import open_sync_stream, sync_stream_file
from fw_asr_widgets.errors import ConfigurationError
from fw_asr_widgets.transcript import Transcript
from tests.api.test_streaming import config, recorded  # noqa: F401


def _purity(tr: Transcript, data_dir: Path) -> tuple[dict[str, tuple[float, str]], float]:
    """Each label's main reference speaker (by word time) and the share of time they hold."""
    ref = []
    for line in (data_dir / "two_speakers.rttm").read_text().splitlines():
        f = line.split()
        ref.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    by: dict[tuple[str, str], float] = {}
    total = 0.0
    for w in tr.words:
        assert w.start is not None and w.end is not None
        who = {spk for s, e, spk in ref if s <= (w.start + w.end) / 2 <= e}
        if len(who) != 1 or w.speaker is None:
            continue
        total += w.end - w.start
        key = (next(iter(who)), w.speaker)
        by[key] = by.get(key, 0.0) + w.end - w.start
    main = {h: max((v, r) for (r, hh), v in by.items() if hh == h) for _, h in by}
    return main, sum(v for v, _ in main.values()) / max(total, 1e-9)


@pytest.mark.slow
def test_client_labels_a_server_that_sends_none(
    config: ClientConfig,  # noqa: F811
    recorded: list[dict[str, Any]],  # noqa: F811
    data_dir: Path,
) -> None:
    """The engine without diarize sends no labels; with speakers=True the client labels
    every word from the audio it sent, telling the two voices apart."""
    tr = sync_stream_file(config, data_dir / "two_speakers.wav", speed=2.0, speakers=True)
    assert "speaker_id" not in json.dumps(recorded)  # nothing came over the wire
    assert len(tr.words) > 40
    assert all(w.speaker is not None for w in tr.words)
    for seg in tr.segments:  # one speaker per segment: cut at speaker changes
        assert {w.speaker for w in seg.words} == {seg.speaker} != {None}
    final = next(m for m in reversed(recorded[:-1]) if m.get("segments"))
    # Cutting loses nothing: the server's words, in order; pieces are "<id>.<k>".
    assert [w.word for w in tr.words] == [w["word"] for s in final["segments"] for w in s["words"]]
    server_ids = {str(s["id"]) for s in final["segments"]}
    assert {s.id.split(".")[0] for s in tr.segments} == server_ids
    main, purity = _purity(tr, data_dir)
    print(f"client-side labels -> (seconds, reference speaker): {main}; purity {purity:.2f}")
    assert len({r for _, r in main.values()}) == 2
    assert purity >= 0.8
    assert set(main) <= set(tr.speakers)
    assert tr.to_pandas()["speaker"].notna().all()


def test_labels_from_the_wire_reach_the_transcript(
    config: ClientConfig,  # noqa: F811
    recorded: list[dict[str, Any]],  # noqa: F811
    data_dir: Path,
) -> None:
    tr = sync_stream_file(
        config, data_dir / "two_speakers.wav", speed=None, query={"diarize": "true"}
    )
    final = next(m for m in reversed(recorded[:-1]) if m.get("segments"))
    wire = {str(s["id"]): s["speaker_id"] for s in final["segments"]}
    assert wire and all(v.startswith("SPEAKER_") for v in wire.values())
    assert {s.id: s.speaker for s in tr.segments} == wire
    words = [w["speaker_id"] for s in final["segments"] for w in s["words"]]
    assert [w.speaker for w in tr.words] == words


def test_client_labels_without_the_local_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
    config: ClientConfig,  # noqa: F811
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"local extra .*fw-asr-widgets\[local\]"):
        StreamProtocol(speakers=True)
    with pytest.raises(ConfigurationError, match="local extra"):
        open_sync_stream(config, speakers=True)
    StreamProtocol()  # without labels nothing needs the extra


def _segment_message(words: list[tuple[float, float]], final: bool) -> str:
    ws = [
        {"word": f" w{i}", "start": s, "end": e, "is_final": final}
        for i, (s, e) in enumerate(words)
    ]
    text = "".join(w["word"] for w in ws)
    return json.dumps({"segments": [{"id": 0, "text": text, "words": ws, "is_final": final}]})


def test_partial_segments_are_embedded_before_they_are_final(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    """The costly embedding happens on a worker thread while a segment is partial; when it
    turns final, labelling finds its windows embedded, and the idle worker thread ends."""
    import threading
    import time

    from fw_asr_widgets.api import _stream_speakers
    from fw_asr_widgets.audio import decode, float_to_pcm16
    from fw_asr_widgets.local import speakers

    monkeypatch.setattr(_stream_speakers, "IDLE", 0.3)
    threads: list[str] = []  # the thread of each embedding call
    embed_spans = speakers.embed_spans

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return embed_spans(*args, **kwargs)

    monkeypatch.setattr(speakers, "embed_spans", recording)
    p = StreamProtocol(speakers=True)
    p.send_audio(float_to_pcm16(decode(data_dir / "two_speakers.wav")[: 16_000 * 12]))
    words = [(7.0 + 0.5 * i, 7.4 + 0.5 * i) for i in range(8)]  # Diane, 7-11 s
    assert p._speakers is not None
    live = p._speakers._live
    p.receive_text(_segment_message(words, final=False))
    deadline = time.monotonic() + 60
    while len(live._ahead) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live._ahead) >= 4  # windows under the partial words, embedded off this thread
    assert live._embedded == 0  # ... but not clustered: partial words may still change
    assert all(w.speaker is None for w in p.transcript.words)  # no label before final
    ahead = len(live._ahead)
    p.receive_text(_segment_message(words, final=True))
    assert threads and set(threads) == {"fw-asr-speaker-embed"}  # none on this thread
    assert live._embedded == ahead and not live._ahead  # the cached windows, now clustered
    assert {w.speaker for w in p.transcript.words} == {"SPEAKER_00"}
    deadline = time.monotonic() + 30
    while any(t.name == "fw-asr-speaker-embed" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the idle worker thread did not end"
        time.sleep(0.05)
