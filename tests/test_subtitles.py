"""One subtitle writer (`_subtitles`) and one word key (`_wire.normalize_word`) for the whole
package: the engine's SRT/WebVTT equal `Transcript.to_srt`/`to_vtt` of the same response."""

from __future__ import annotations

import pytest

import fw_asr_widgets as fw
from fw_asr_widgets import _subtitles, _wire

LONG = (
    "And so my fellow Americans ask not what your country can do for you ask what you can do "
    "for your country"
)


def _response() -> dict:
    words = LONG.split()
    step = 6.0 / len(words)
    ws = [
        {"word": w, "start": round(i * step, 3), "end": round((i + 1) * step, 3)}
        for i, w in enumerate(words)
    ]
    return {
        "task": "transcribe",
        "language": "en",
        "duration": 8.0,
        "text": LONG + " Thanks & bye.",
        "words": ws,
        "segments": [
            {"id": 0, "start": 0.0, "end": 6.0, "text": " " + LONG, "words": ws},
            {"id": 1, "start": 6.5, "end": 8.0, "text": " Thanks & bye.", "speaker_id": "B"},
        ],
    }


def test_engine_subtitles_equal_the_transcript_ones() -> None:
    engine = pytest.importorskip("fw_asr_widgets.local.engine")
    resp = _response()
    tr = fw.Transcript.from_response(resp)
    srt = engine.to_srt(resp)
    assert srt == tr.to_srt()
    assert engine.to_vtt(resp) == tr.to_vtt()
    # the long segment is wrapped at 42 characters and split into cues timed from its words
    cues = srt.split("\n\n")
    assert len(cues) == 3
    assert all(len(line) <= 42 for cue in cues for line in cue.splitlines()[2:])
    assert cues[1].splitlines()[1].startswith("00:00:0") and not cues[1].startswith("2\n00:00:00,")
    assert cues[2].endswith("[B] Thanks & bye.\n")
    assert "<v B>Thanks &amp; bye." in engine.to_vtt(resp)


def test_clock_rounds_to_the_millisecond_and_never_goes_negative() -> None:
    assert _subtitles.clock(_subtitles.ms(3661.0005), ",") == "01:01:01,000"
    assert _subtitles.clock(_subtitles.ms(-0.2), ".") == "00:00:00.000"
    assert _subtitles.clock(_subtitles.ms(59.9996), ",") == "00:01:00,000"


def test_one_word_key() -> None:
    assert _wire.normalize_word(" You,") == "you"
    assert _wire.normalize_word("Don't!") == "don't"
    assert _wire.normalize_word("Übermäßig.") == "übermäßig"
    agreement = pytest.importorskip("fw_asr_widgets.local._agreement")
    assert agreement.normalize(" You,") == "you"
    assert agreement.normalize("...") == "..."  # punctuation only: matches itself
