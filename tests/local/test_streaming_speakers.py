"""Live speaker labels (the `diarize=true` extension): the agreement's labelling rule, and the
engine over a real loopback WebSocket on the two-speaker phone call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from fw_asr_widgets.audio import decode, float_to_pcm16
from fw_asr_widgets.local._agreement import HypWord, LocalAgreement
from tests.local.test_streaming_engine import merge, merge_livekit
from tests.local.test_streaming_ws import Session, _merge, errors, ws_url  # noqa: F401


def W(word: str, start: float) -> HypWord:
    return HypWord(word, start, start + 0.4, 0.9)


def test_agreement_labels_committed_words_and_splits_at_a_speaker_change() -> None:
    who = {"a": "SPEAKER_00", "b": "SPEAKER_00", "c": "SPEAKER_01", "d": "SPEAKER_01"}
    la = LocalAgreement(labeler=lambda w: who[w.word])
    hyp = [W("a", 0.0), W("b", 0.5), W("c", 1.0), W("d", 1.5)]
    la.insert(hyp[:3])
    la.insert(hyp)  # commits a, b, c; d stays partial
    msgs = la.messages()
    segs = {s["id"]: s for m in msgs for s in m["segments"]}
    # The speaker change closed segment 0 before "c"; the open segment 1 has c + partial d.
    assert segs[0]["speaker_id"] == "SPEAKER_00"
    assert [w["speaker_id"] for w in segs[0]["words"]] == ["SPEAKER_00", "SPEAKER_00"]
    assert all(w["is_final"] for w in segs[0]["words"])
    assert segs[1]["speaker_id"] == "SPEAKER_01"
    assert [(w["word"], w["is_final"], w.get("speaker_id")) for w in segs[1]["words"]] == [
        ("c", True, "SPEAKER_01"),
        ("d", False, None),  # partial words carry no label
    ]
    # Without a labeller nothing changes: no field, one segment.
    plain = LocalAgreement()
    plain.insert(hyp[:3])
    plain.insert(hyp)
    out = [s for m in plain.messages() for s in m["segments"]]
    assert [s["id"] for s in out] == [0]
    assert "speaker_id" not in json.dumps(out)


def test_agreement_gives_closed_segments_their_extent_within_their_neighbours() -> None:
    """`extent` fixes a closed segment's times once, never past the previous segment's end
    or the next segment's first word; the open segment keeps its words' span."""
    asked: list[tuple[float, float, float, float]] = []

    def extent(s0: float, s1: float, lo: float, hi: float) -> tuple[float, float]:
        asked.append((s0, s1, lo, hi))
        return s0 - 5.0, s1 + 5.0  # wider than the neighbours allow

    la = LocalAgreement(
        labeler=lambda w: "SPEAKER_00" if w.word in "ab" else "SPEAKER_01", extent=extent
    )
    hyp = [W("a", 1.0), W("b", 1.5), W("c", 2.5), W("d", 3.0)]
    la.insert(hyp)
    la.insert([*hyp, W("e", 3.5)])  # a-d commit, e is partial; "c" closed segment 0
    segs = {s["id"]: s for m in la.messages() for s in m["segments"]}
    assert [w["word"] for w in segs[0]["words"]] == ["a", "b"]
    # Segment 0: widened, but not before 0 s nor into "c" (the next segment's first word).
    assert asked == [(1.0, 1.9, 0.0, 2.5)]
    assert (segs[0]["start"], segs[0]["end"]) == (0.0, 2.5)
    assert (segs[1]["start"], segs[1]["end"]) == (2.5, 3.9)  # open: its words' span
    la.insert([*hyp, W("e", 3.5)], final=True)
    full = {s["id"]: s for s in la.message(full=True)["segments"]}
    assert (full[0]["start"], full[0]["end"]) == (0.0, 2.5)  # given once, kept
    assert asked[1:] == [(2.5, 3.9, 2.5, float("inf"))]
    assert (full[1]["start"], full[1]["end"]) == (2.5, 8.9)
    # Word times are never touched.
    assert [(w["start"], w["end"]) for w in full[0]["words"]] == [(1.0, 1.4), (1.5, 1.9)]


def _reference(data_dir: Path) -> list[tuple[float, float, str]]:
    turns = []
    for line in (data_dir / "two_speakers.rttm").read_text().splitlines():
        f = line.split()
        turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return turns


def _strip(obj: Any) -> Any:
    """What a client that does not know `speaker_id` keeps: everything else."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "speaker_id"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


@pytest.mark.slow
def test_live_labels_on_the_phone_call_over_websocket(
    ws_url: str,  # noqa: F811
    data_dir: Path,
    errors: Any,  # noqa: F811
) -> None:
    """two_speakers.wav at 2x real time with diarize=true: every final word has a label, both
    voices get labels of their own and the labels agree with the reference for most of the
    speech (each label's time is mostly one person's), segments have one speaker, and a client
    that ignores the field merges the same transcript by both published rules."""
    pcm = float_to_pcm16(decode(data_dir / "two_speakers.wav"))
    url = ws_url + "?diarize=true&timestamp_granularities=word,segment"
    with connect(url, max_size=None) as ws:
        session = Session(ws)
        session.stream(pcm, speed=2.0)
        final = session.finish(timeout=120)
    updates = [m for m in session.updates() if m is not final]
    assert _merge(updates) == final["segments"]
    words = final["words"]
    assert len(words) > 40
    assert all(w.get("speaker_id", "").startswith("SPEAKER_") for w in words)
    for seg in final["segments"]:
        assert {w["speaker_id"] for w in seg["words"]} == {seg["speaker_id"]}
        # Segments span at least their words (widened to the speech detected around them).
        assert seg["start"] <= seg["words"][0]["start"] and seg["end"] >= seg["words"][-1]["end"]
    widened = [s for s in final["segments"] if s["start"] < s["words"][0]["start"]]
    assert widened  # the call's turns start before Whisper's first word of them
    for a, b in zip(final["segments"], final["segments"][1:], strict=False):
        assert b["start"] >= a["end"] - 0.3  # neighbours do not overlap (beyond word jitter)
    partial = [w for m in updates for w in m["words"] if not w["is_final"]]
    assert partial and all("speaker_id" not in w for w in partial)
    # Agreement with the reference, per word (its middle), under the best one-to-one mapping.
    ref = _reference(data_dir)
    time_by: dict[tuple[str, str], float] = {}
    total = 0.0
    for w in words:
        mid = (w["start"] + w["end"]) / 2
        who = {spk for s, e, spk in ref if s <= mid <= e}
        if len(who) != 1:
            continue
        dur = w["end"] - w["start"]
        total += dur
        key = (next(iter(who)), w["speaker_id"])
        time_by[key] = time_by.get(key, 0.0) + dur
    # Each label's main reference speaker; purity: the share of labelled time it holds.
    labels = sorted({h for _, h in time_by})
    main = {h: max((v, r) for (r, hh), v in time_by.items() if hh == h) for h in labels}
    purity = sum(v for v, _ in main.values()) / total
    print(f"labels -> (seconds, reference speaker): {main}; purity {purity:.2f}")
    assert len({r for _, r in main.values()}) == 2  # both voices were told apart
    assert purity >= 0.8  # and labels rarely mix them
    # A client ignoring the field: the same transcript by both merge rules.
    for rule in (merge, merge_livekit):
        state: dict[int, dict[str, Any]] = {}
        for msg in updates:
            rule(state, _strip(msg))
        kept = [state[k] for k in sorted(state) if state[k]["words"]]
        assert kept == _strip(final["segments"])
    assert " ".join(s["text"] for s in _strip(final)["segments"]) == final["text"]
    assert not errors.records


def test_without_diarize_no_labels_are_sent(ws_url: str, data_dir: Path) -> None:  # noqa: F811
    pcm = float_to_pcm16(decode(data_dir / "two_speakers.wav"))[: 32000 * 12]
    with connect(ws_url + "?timestamp_granularities=word,segment", max_size=None) as ws:
        session = Session(ws)
        session.stream(pcm, speed=None)
        final = session.finish(timeout=120)
    assert final["words"]
    assert "speaker_id" not in json.dumps([m for _, m in session.messages])


def test_the_route_refuses_a_bad_diarize_value(local_server: Any) -> None:
    from websockets.exceptions import InvalidStatus

    url = local_server.url.replace("http", "ws", 1) + "/v1/audio/transcriptions/streaming"
    with pytest.raises(InvalidStatus) as info:
        connect(url + "?diarize=maybe", open_timeout=30)
    assert info.value.response.status_code == 400
    assert b"diarize" in info.value.response.body
