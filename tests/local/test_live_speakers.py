"""`LiveSpeakers` on recorded streams of the two-speaker phone call: the calls the engine made
(`data/two_speakers_live_calls.json`: audio received, the decoder's speech spans, the words
committed, in order; one stream on a busy machine, one on a quiet one) replayed on the real
audio, and the same words at other decode cadences. However the commits fall, the two voices
must be told apart: one label each, matched one-to-one to the two people, covering nearly all
the words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fw_asr_widgets.audio import decode, float_to_pcm16
from fw_asr_widgets.local._live_speakers import LiveSpeakers

CALLS = Path(__file__).with_name("data") / "two_speakers_live_calls.json"
Word = tuple[float, float]


@pytest.fixture(scope="module")
def pcm(data_dir: Path) -> bytes:
    return float_to_pcm16(decode(data_dir / "two_speakers.wav"))


@pytest.fixture(scope="module")
def streams() -> dict[str, list[list]]:
    return json.loads(CALLS.read_text())["streams"]


def _coverage(labels: dict[Word, str], data_dir: Path) -> tuple[dict[str, str], float]:
    """The best one-to-one match of labels to reference speakers (by word time, words with one
    reference speaker at their middle) and the share of that word time it gets right."""
    from scipy.optimize import linear_sum_assignment

    turns = []
    for line in (data_dir / "two_speakers.rttm").read_text().splitlines():
        f = line.split()
        turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    refs = sorted({t[2] for t in turns})
    hyps = sorted(set(labels.values()))
    time = [[0.0] * len(refs) for _ in hyps]
    for (s, e), hyp in labels.items():
        who = {spk for a, b, spk in turns if a <= (s + e) / 2 <= b}
        if len(who) == 1:
            time[hyps.index(hyp)][refs.index(who.pop())] += e - s
    rows, cols = linear_sum_assignment(time, maximize=True)
    right = sum(time[r][c] for r, c in zip(rows, cols, strict=True))
    return {hyps[r]: refs[c] for r, c in zip(rows, cols, strict=True)}, right / sum(map(sum, time))


def _replay(pcm: bytes, events: list[list]) -> tuple[LiveSpeakers, dict[Word, str]]:
    live, fed, labels = LiveSpeakers(), 0, {}
    for ev in events:
        upto = int(round(ev[1] * 16_000)) * 2
        if upto > fed:
            live.add_pcm16(pcm[fed:upto])
            fed = upto
        if ev[0] == "prepare":
            live.prepare([(a, b) for a, b in ev[2]], ev[3])
        else:
            label = live.label(ev[2], ev[3])
            assert label is not None
            labels[(ev[2], ev[3])] = label
    return live, labels


def _steps(pcm: bytes, words: list[Word], step: float, lag: float) -> tuple[LiveSpeakers, dict]:
    """Decodes every `step` s (speech: the words ended by then), each word committed `lag` s
    after it ends; everything left is committed at the end."""
    live, fed, done, labels = LiveSpeakers(), 0, 0, {}
    end = len(pcm) / 32_000
    t = 0.0
    while t < end:
        t = min(t + step, end)
        live.add_pcm16(pcm[fed : int(t * 16_000) * 2])
        fed = int(t * 16_000) * 2
        live.prepare([w for w in words if w[1] <= t], t)
        while done < len(words) and (t >= end or words[done][1] <= t - lag):
            labels[words[done]] = live.label(*words[done])
            done += 1
    return live, labels


def _check(live: LiveSpeakers, labels: dict[Word, str], data_dir: Path) -> None:
    match, right = _coverage(labels, data_dir)
    print(f"labels {live.speakers}, matched {match}: {right:.0%} of the word time")
    assert sorted(match.values()) == ["speaker90", "speaker91"]  # each voice has a label
    assert right >= 0.88
    assert len(live.speakers) == 2  # one label per voice, however the commits fall


@pytest.mark.parametrize("stream", ["busy", "quiet"])
def test_recorded_streams_tell_the_two_voices_apart(
    pcm: bytes, streams: dict[str, list[list]], data_dir: Path, stream: str
) -> None:
    events = streams[stream]
    live, labels = _replay(pcm, events)
    assert len(labels) == sum(ev[0] == "label" for ev in events)
    _check(live, labels, data_dir)


@pytest.mark.parametrize(("step", "lag"), [(1.0, 2.0), (2.0, 2.0), (0.5, 1.0)])
def test_other_decode_cadences_tell_the_two_voices_apart(
    pcm: bytes, streams: dict[str, list[list]], data_dir: Path, step: float, lag: float
) -> None:
    words = sorted({(ev[2], ev[3]) for ev in streams["busy"] if ev[0] == "label"})
    live, labels = _steps(pcm, words, step, lag)
    assert set(labels) == set(words)
    _check(live, labels, data_dir)


def test_speech_detection_runs_incrementally_and_widens_to_the_onset(
    pcm: bytes, data_dir: Path
) -> None:
    """Silero over the stream in uneven pieces gives the probabilities of one pass over the
    whole file; `extent` widens a word span to the detected speech around it, within bounds."""
    import numpy as np
    from faster_whisper.vad import get_vad_model

    from fw_asr_widgets.local import _live_speakers as mod

    live = LiveSpeakers()
    fed = 0
    for size in [3_000, 17_001, 1_024, 64_000] * 40:
        live.add_pcm16(pcm[fed : fed + size])
        fed += size
        live.detect_speech()
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    whole = np.asarray(get_vad_model()(audio[: audio.size // 512 * 512])).reshape(-1)
    assert len(live._probs) == whole.size
    assert np.abs(np.array(live._probs) - whole).max() < 0.01
    # Passes from several threads at once (prepare and embed_ahead) run one at a time.
    import threading

    other = LiveSpeakers()
    other.add_pcm16(pcm)
    threads = [threading.Thread(target=other.detect_speech) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(other._probs) == whole.size
    # speaker91 starts at 21.78 s (reference); Whisper's live words start at 22.42 s.
    start, end = live.extent(22.42, 28.3)
    assert 21.7 <= start <= 21.9 and end >= 28.3
    assert live.extent(22.42, 28.3, lo=22.0)[0] >= 22.0  # never past the previous segment
    assert live.extent(22.42, 22.9, hi=23.0)[1] <= 23.0
    # speaker90's last live word ends at 21.78 s or 21.84 s, though her speech ended at 21.50 s:
    # the segment must not be widened into speaker91's onset (21.79 s).
    assert live.extent(19.0, 21.78)[1] == 21.78
    assert live.extent(19.0, 21.84)[1] == 21.84
    assert live.extent(19.0, 21.3)[1] >= 21.45  # her own speech still widens it
    # Never narrowed, and at most MAX_WIDEN either way; silence (0-6 s) widens nothing.
    a, b = live.extent(10.0, 11.0)
    assert 10.0 - mod.MAX_WIDEN <= a <= 10.0 and 11.0 <= b <= 11.0 + mod.MAX_WIDEN
    assert live.extent(2.0, 2.5) == (2.0, 2.5)


@pytest.mark.slow
@pytest.mark.parametrize("step", [0.7, 1.5, 2.0])
def test_the_engine_decoding_every_few_seconds_keeps_two_labels(
    pcm: bytes, data_dir: Path, step: float
) -> None:
    """The streaming engine with labels, decoding every `step` s of the call (as on a slow
    machine). The stream's first seconds (both voices' "Hello?") form a small cluster of their
    own; it must not take over the first voice's id when the clustering splits it off, which
    would give that voice a second label from then on, nor keep the id the second voice's first
    words were shown with when that voice forms its own cluster (decoding every 0.7 s)."""
    from fw_asr_widgets.local import models
    from fw_asr_widgets.local.streaming import StreamEngine

    eng = StreamEngine(models.load(), language="en", speakers=True)
    n = int(step * 16_000) * 2
    for i in range(0, len(pcm), n):
        eng.add_audio(pcm[i : i + n])
        eng.step()
    eng.finalize()
    msg = eng.agreement.message(full=True)
    assert msg is not None
    labels = {(w["start"], w["end"]): w["speaker_id"] for s in msg["segments"] for w in s["words"]}
    match, right = _coverage(labels, data_dir)
    print(f"labels {sorted(set(labels.values()))}, matched {match}: {right:.0%} of the word time")
    assert sorted(match.values()) == ["speaker90", "speaker91"]
    assert len(set(labels.values())) == 2
    assert right >= 0.88
