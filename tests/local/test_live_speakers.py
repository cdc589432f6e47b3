"""`LiveSpeakers` on a recorded stream of the two-speaker phone call: the calls the engine made
(`data/two_speakers_live_calls.json`: audio received, the decoder's speech spans, the words
committed, in order) replayed on the real audio, and the same words at other decode cadences.
Two voices must get two labels, each mostly one person's, however the commits fall."""

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
def events() -> list[list]:
    return json.loads(CALLS.read_text())["events"]


def _purity(labels: dict[Word, str], data_dir: Path) -> tuple[dict[str, str], float]:
    """Each label's main reference speaker (by word time) and the share of labelled word time
    that is its label's main speaker's."""
    turns = []
    for line in (data_dir / "two_speakers.rttm").read_text().splitlines():
        f = line.split()
        turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    by: dict[tuple[str, str], float] = {}
    total = 0.0
    for (s, e), hyp in labels.items():
        who = {spk for a, b, spk in turns if a <= (s + e) / 2 <= b}
        if len(who) != 1:
            continue
        ref = next(iter(who))
        by[(hyp, ref)] = by.get((hyp, ref), 0.0) + e - s
        total += e - s
    main = {h: max((v, r) for (hh, r), v in by.items() if hh == h) for h, _ in by}
    return {h: r for h, (_, r) in main.items()}, sum(v for v, _ in main.values()) / total


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
    main, purity = _purity(labels, data_dir)
    print(f"labels -> reference speaker: {main}; purity {purity:.2f}")
    assert live.speakers == ["SPEAKER_00", "SPEAKER_01"]  # two voices, two labels
    assert sorted(main.values()) == ["speaker90", "speaker91"]  # one each
    assert purity >= 0.85


def test_the_recorded_stream_gets_one_label_per_voice(
    pcm: bytes, events: list[list], data_dir: Path
) -> None:
    live, labels = _replay(pcm, events)
    assert len(labels) == sum(ev[0] == "label" for ev in events)
    _check(live, labels, data_dir)


@pytest.mark.parametrize(("step", "lag"), [(1.0, 2.0), (2.0, 2.0), (0.5, 1.0)])
def test_other_decode_cadences_get_one_label_per_voice(
    pcm: bytes, events: list[list], data_dir: Path, step: float, lag: float
) -> None:
    words = sorted({(ev[2], ev[3]) for ev in events if ev[0] == "label"})
    live, labels = _steps(pcm, words, step, lag)
    assert set(labels) == set(words)
    _check(live, labels, data_dir)
