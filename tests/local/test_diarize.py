"""Offline diarization: numpy voice encoder, DER on a real two-speaker call, response shaping."""

from __future__ import annotations

import copy
import itertools
import time
from pathlib import Path

import numpy as np
import pytest

from fw_asr_widgets.audio import decode
from fw_asr_widgets.local.diarize import (
    WEIGHTS_PATH,
    Turn,
    VoiceEncoder,
    assign_speakers,
    diarize,
    diarize_response,
    diarize_voice_encoder,
    mel_filterbank,
    mel_frames,
)

COLLAR = 0.25  # seconds each side of a reference boundary


# ---------------------------------------------------------------------------------------------
# Helpers: references and a NIST-style DER (cross-checked against pyannote.metrics when present)


def _rttm(path: Path) -> list[tuple[float, float, str]]:
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            out.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return out


def _stm(path: Path) -> list[tuple[float, float, str]]:
    out = []
    for line in path.read_text().splitlines():
        f = line.split(maxsplit=5)
        if len(f) >= 5:
            out.append((float(f[3]), float(f[4]), f[2]))
    return out


def _der(ref: list[tuple[float, float, str]], hyp: list[Turn], collar: float = COLLAR) -> float:
    """Diarization error rate on a 10 ms grid: (miss + false alarm + confusion) / reference.

    Frames within `collar` of a reference boundary are not scored; overlapped speech is scored;
    reference and hypothesis speakers are mapped one-to-one to maximise agreement (Hungarian).
    """
    from scipy.optimize import linear_sum_assignment

    step = 0.01
    end = max([e for _, e, _ in ref] + [t.end for t in hyp])
    n = int(np.ceil(end / step)) + 1
    times = (np.arange(n) + 0.5) * step
    rs = sorted({s for *_, s in ref})
    hs = sorted({t.speaker for t in hyp})
    r = np.zeros((n, len(rs)), dtype=bool)
    h = np.zeros((n, max(len(hs), 1)), dtype=bool)
    for s, e, spk in ref:
        r[(times >= s) & (times < e), rs.index(spk)] = True
    for t in hyp:
        h[(times >= t.start) & (times < t.end), hs.index(t.speaker)] = True
    scored = np.ones(n, dtype=bool)
    for s, e, _ in ref:
        for b in (s, e):
            scored &= np.abs(times - b) >= collar
    r, h = r[scored], h[scored]
    co = r.T.astype(float) @ h.astype(float)  # (ref speakers, hyp speakers) overlap frames
    ri, hi = linear_sum_assignment(-co)
    mapped = np.zeros_like(r)
    for i, j in zip(ri, hi, strict=True):
        mapped[:, i] = h[:, j]
    correct = np.sum(r & mapped, axis=1)
    errors = np.maximum(r.sum(axis=1), h.sum(axis=1)) - correct
    return float(errors.sum() / r.sum())


def _pyannote_der(ref: list[tuple[float, float, str]], hyp: list[Turn]) -> float | None:
    try:
        from pyannote.core import Annotation, Segment
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError:
        return None
    a_ref, a_hyp = Annotation(), Annotation()
    for s, e, spk in ref:
        a_ref[Segment(s, e)] = spk
    for t in hyp:
        a_hyp[Segment(t.start, t.end)] = t.speaker
    # pyannote's `collar` is the total width of the no-score zone around each boundary.
    metric = DiarizationErrorRate(collar=2 * COLLAR)
    uem_end = max([e for _, e, _ in ref] + [t.end for t in hyp])
    from pyannote.core import Timeline

    return float(metric(a_ref, a_hyp, uem=Timeline([Segment(0, uem_end)])))


def _report(capsys: pytest.CaptureFixture[str], message: str) -> None:
    with capsys.disabled():
        print(f"\n[diarize] {message}")


@pytest.fixture(scope="module")
def call(shared_data: Path) -> dict[str, object]:
    audio = decode(shared_data / "two_speakers.wav")
    return {
        "audio": audio,
        "rttm": _rttm(shared_data / "two_speakers.rttm"),
        "stm": _stm(shared_data / "two_speakers.stm"),
    }


# ---------------------------------------------------------------------------------------------
# Features and encoder


def test_mel_filterbank_and_frames_place_a_tone_in_the_right_band() -> None:
    fb = mel_filterbank()
    assert fb.shape == (40, 201)
    assert (fb >= 0).all() and (fb.sum(axis=1) > 0).all()
    centres = np.argmax(fb, axis=1) * 40.0  # 40 Hz per FFT bin
    assert (np.diff(centres) >= 0).all()

    sr = 16_000
    tone = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
    mel = mel_frames(tone)
    assert mel.shape == (sr // 160 + 1, 40) and mel.dtype == np.float32
    band = int(np.argmax(mel[50]))
    assert abs(centres[band] - 1000) <= 120
    # Power spectrum: doubling the amplitude multiplies the mel energies by 4.
    np.testing.assert_allclose(mel_frames(2 * tone)[50], 4 * mel[50], rtol=1e-4)
    assert mel_frames(np.zeros(0, dtype=np.float32)).shape == (0, 40)


def test_weights_are_small_float16_and_load() -> None:
    assert WEIGHTS_PATH.stat().st_size < 5_000_000
    with np.load(WEIGHTS_PATH) as z:
        assert z["lstm_w_hh_l0"].dtype == np.float16
        assert z["lstm_w_ih_l0"].shape == (1024, 40)
    assert (WEIGHTS_PATH.parent / "VOICE_ENCODER_NOTICE.txt").exists()


def test_encoder_embeddings_separate_the_two_real_speakers(call: dict[str, object]) -> None:
    audio = call["audio"]
    assert isinstance(audio, np.ndarray)
    mel = mel_frames(audio) * 4.0
    # Stretches where only one person talks, from the RTTM.
    diane = [(10.9, 14.4), (18.7, 21.4)]
    sheila = [(14.8, 17.8), (22.0, 27.8)]

    def windows(spans: list[tuple[float, float]]) -> np.ndarray:
        out = []
        for s, e in spans:
            for f in range(int(s * 100), int(e * 100) - 150 + 1, 50):
                out.append(mel[f : f + 150])
        return np.stack(out)

    enc = VoiceEncoder.default()
    d, s = enc.embed_windows(windows(diane)), enc.embed_windows(windows(sheila))
    assert d.shape[1] == 256 and d.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)
    assert (d >= 0).all()
    within = (np.mean(d @ d.T) + np.mean(s @ s.T)) / 2
    across = float(np.mean(d @ s.T))
    assert within > across + 0.05, (within, across)
    with pytest.raises(ValueError, match="shape"):
        enc.embed_windows(np.zeros((2, 10, 39), dtype=np.float32))
    assert enc.embed_windows(np.zeros((0, 160, 40), dtype=np.float32)).shape == (0, 256)


def test_numpy_forward_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    enc = VoiceEncoder.default()
    with np.load(WEIGHTS_PATH) as z:
        lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
        linear = torch.nn.Linear(256, 256)
        with torch.no_grad():
            for layer in range(3):
                w_ih = torch.from_numpy(z[f"lstm_w_ih_l{layer}"].astype(np.float32))
                w_hh = torch.from_numpy(z[f"lstm_w_hh_l{layer}"].astype(np.float32))
                getattr(lstm, f"weight_ih_l{layer}").copy_(w_ih)
                getattr(lstm, f"weight_hh_l{layer}").copy_(w_hh)
                getattr(lstm, f"bias_ih_l{layer}").copy_(torch.from_numpy(z[f"lstm_b_l{layer}"]))
                getattr(lstm, f"bias_hh_l{layer}").zero_()
            linear.weight.copy_(torch.from_numpy(z["linear_w"].astype(np.float32)))
            linear.bias.copy_(torch.from_numpy(z["linear_b"]))
    mels = np.random.default_rng(1).random((5, 160, 40), dtype=np.float32) * 3
    with torch.no_grad():
        _, (hidden, _) = lstm(torch.from_numpy(mels))
        raw = torch.relu(linear(hidden[-1]))
        ref = (raw / raw.norm(dim=1, keepdim=True)).numpy()
    assert np.abs(enc.embed_windows(mels) - ref).max() < 1e-5


# ---------------------------------------------------------------------------------------------
# Diarization on real speech


def _no_self_overlap(turns: list[Turn]) -> bool:
    """Turns of one speaker never overlap (two speakers may, where both talk)."""
    for name in {t.speaker for t in turns}:
        mine = [t for t in turns if t.speaker == name]
        if not all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(mine)):
            return False
    return True


@pytest.mark.parametrize(
    ("method", "goal"), [(diarize, 0.10), (diarize_voice_encoder, 0.20)], ids=["meeting", "voice"]
)
def test_two_speaker_call_der(
    call: dict[str, object], capsys: pytest.CaptureFixture[str], method: object, goal: float
) -> None:
    audio, ref = call["audio"], call["rttm"]
    assert isinstance(audio, np.ndarray) and isinstance(ref, list) and callable(method)
    method(audio[:16_000])  # load the models outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    turns = method(audio)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert {t.speaker for t in turns} == {"SPEAKER_00", "SPEAKER_01"}
    assert turns[0].speaker == "SPEAKER_00"
    assert _no_self_overlap(turns)
    if method is diarize_voice_encoder:
        assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(turns))
    assert all(t.end > t.start for t in turns)
    der = _der(ref, turns)
    cross = _pyannote_der(ref, turns)
    if cross is not None:
        assert abs(der - cross) < 0.01, (der, cross)

    fixed = method(audio, min_speakers=2, max_speakers=2)
    der2 = _der(ref, fixed)
    _report(
        capsys,
        f"{method.__name__}: two_speakers.wav DER (collar ±{COLLAR} s): {der:.3f} "
        f"unconstrained, {der2:.3f} with 2 speakers (pyannote.metrics: "
        f"{cross if cross is None else round(cross, 3)}); {elapsed:.2f} s wall, {cpu:.2f} s CPU "
        f"for {audio.size / 16000:.0f} s of audio (×{audio.size / 16000 / elapsed:.0f} real "
        f"time wall, ×{audio.size / 16000 / cpu:.0f} per CPU second)",
    )
    assert der <= goal
    assert der2 <= goal
    assert {t.speaker for t in fixed} == {"SPEAKER_00", "SPEAKER_01"}


def test_one_speaker_is_one_speaker(data_dir: Path) -> None:
    turns = diarize(decode(data_dir / "jfk.wav"))
    assert turns and {t.speaker for t in turns} == {"SPEAKER_00"}
    speech = sum(t.end - t.start for t in turns)
    assert 6.0 < speech < 11.0


def test_a_third_voice_is_a_third_speaker(call: dict[str, object], data_dir: Path) -> None:
    audio = call["audio"]
    assert isinstance(audio, np.ndarray)
    jfk = decode(data_dir / "jfk.wav")
    turns = diarize(np.concatenate([audio, 0.5 * jfk]))
    assert len({t.speaker for t in turns}) == 3
    # JFK (from 30 s on) is the speaker heard first after the call, and only there.
    after = {t.speaker for t in turns if t.start >= 30.0}
    before = {t.speaker for t in turns if t.end <= 30.0}
    assert len(after) == 1 and not after & before


def test_speaker_hints_are_honoured(data_dir: Path) -> None:
    jfk = decode(data_dir / "jfk.wav")
    assert len({t.speaker for t in diarize(jfk, min_speakers=2)}) == 2
    assert len({t.speaker for t in diarize(jfk, max_speakers=1)}) == 1


def test_silence_short_and_bad_input(data_dir: Path) -> None:
    assert diarize(np.zeros(0, dtype=np.float32)) == []
    assert diarize(np.zeros(16_000 * 3, dtype=np.float32)) == []
    assert diarize(np.zeros(8_000, dtype=np.float32)) == []
    assert diarize(np.zeros(10, dtype=np.float32)) == []
    jfk = decode(data_dir / "jfk.wav")
    short = diarize(jfk[int(0.4 * 16000) : int(0.9 * 16000)])  # 0.5 s of speech
    assert {t.speaker for t in short} <= {"SPEAKER_00"}
    # int16 samples at another rate are converted.
    pcm = (jfk[: 16000 * 4] * 32767).astype(np.int16)
    low = diarize(pcm[::2], sample_rate=8000)
    assert low and {t.speaker for t in low} == {"SPEAKER_00"}
    with pytest.raises(ValueError, match="min_speakers"):
        diarize(jfk, min_speakers=0)
    with pytest.raises(ValueError, match="greater than"):
        diarize(jfk, min_speakers=3, max_speakers=2)
    with pytest.raises(ValueError, match="max_speakers"):
        diarize(jfk, max_speakers=1.5)  # type: ignore[arg-type]
    bad = jfk.copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        diarize(bad)


# ---------------------------------------------------------------------------------------------
# Applying turns to a verbose_json response


def _word(w: str, s: float | None, e: float | None) -> dict[str, object]:
    return {"word": w, "start": s, "end": e, "probability": 0.9}


def test_assign_speakers_splits_segments_at_speaker_changes() -> None:
    words = [
        _word(" Hello", 0.0, 0.4),
        _word(" there.", 0.4, 0.9),
        _word(" Hi", 1.1, 1.3),
        _word(" you.", 1.3, 1.7),
        _word(" Bye.", 3.0, 3.4),
    ]
    seg0 = {
        "id": 0,
        "seek": 0,
        "start": 0.0,
        "end": 1.7,
        "text": " Hello there. Hi you.",
        "tokens": [1, 2],
        "avg_logprob": -0.2,
        "words": copy.deepcopy(words[:4]),
    }
    seg1 = {"id": 1, "seek": 0, "start": 3.0, "end": 3.4, "text": " Bye.", "tokens": [3]}
    response = {"task": "transcribe", "text": "Hello there. Hi you. Bye.", "words": words}
    response["segments"] = [seg0, seg1]
    before = copy.deepcopy(response)
    turns = [
        Turn(0.0, 1.0, "SPEAKER_00"),
        Turn(1.0, 2.0, "SPEAKER_01"),
        Turn(2.9, 3.5, "SPEAKER_00"),
    ]
    out = assign_speakers(response, turns)
    assert response == before  # the input is left alone
    assert [w["speaker_id"] for w in out["words"]] == ["SPEAKER_00"] * 2 + ["SPEAKER_01"] + [
        "SPEAKER_01",
        "SPEAKER_00",
    ]
    segs = out["segments"]
    assert [s["id"] for s in segs] == [0, 1, 2]
    assert [s["text"] for s in segs] == ["Hello there.", "Hi you.", "Bye."]
    assert [s["speaker_id"] for s in segs] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    assert (segs[0]["start"], segs[0]["end"]) == (0.0, 0.9)
    assert (segs[1]["start"], segs[1]["end"]) == (1.1, 1.7)
    assert segs[1]["avg_logprob"] == -0.2 and segs[1]["tokens"] == [1, 2]
    assert [w["word"] for w in segs[1]["words"]] == [" Hi", " you."]
    assert "words" not in segs[2]  # the segment had none; its text comes from top-level words

    # A word in a gap takes the nearest turn; no turns at all leaves every speaker None.
    gap = assign_speakers({"words": [_word("um", 2.6, 2.7)]}, turns)
    assert gap["words"][0]["speaker_id"] == "SPEAKER_00"
    none = assign_speakers(response, [])
    assert all(w["speaker_id"] is None for w in none["words"])
    assert all(s["speaker_id"] is None for s in none["segments"])
    assert [s["text"] for s in none["segments"]] == ["Hello there. Hi you.", "Bye."]

    # Words without spaces are joined with spaces; untimed words follow their neighbour.
    plain = {
        "segments": [
            {
                "id": "7",
                "start": 0.0,
                "end": 2.0,
                "text": "a b. c",
                "words": [_word("a", 0.1, 0.2), _word("b.", None, None), _word("c", 1.5, 1.8)],
            }
        ]
    }
    res = assign_speakers(plain, turns)
    assert [(s["id"], s["text"], s["speaker_id"]) for s in res["segments"]] == [
        (0, "a b.", "SPEAKER_00"),
        (1, "c", "SPEAKER_01"),
    ]


def test_segments_end_at_sentences_and_keep_unfinished_ones_together() -> None:
    """Issue 14 point 13: "Hello?" "Hello?" of two speakers are two lines; a sentence's last
    word heard just across a turn boundary stays with its speaker; no zero-length words."""
    words = [
        _word(" Hello?", 0.0, 0.5),
        _word(" Hello?", 0.7, 1.1),
        _word(" I'm", 1.3, 1.5),
        _word(" from", 1.5, 1.7),
        _word(" Chicago", 1.7, 2.3),
        _word(" also.", 2.4, 2.4),
        _word(" Nice.", 2.9, 3.2),
        _word(" Really.", 6.0, 6.4),
    ]
    seg = {"id": 0, "start": 0.0, "end": 6.4, "text": "x", "words": copy.deepcopy(words)}
    response = {"words": words, "segments": [seg]}
    turns = [
        Turn(0.0, 0.55, "SPEAKER_00"),
        Turn(0.6, 2.35, "SPEAKER_01"),
        Turn(2.35, 3.3, "SPEAKER_00"),
        Turn(5.9, 6.5, "SPEAKER_00"),
    ]
    speech = [(0.0, 3.3), (5.9, 6.5)]
    out = assign_speakers(response, turns, speech=speech)
    lines = [(s["text"], s["speaker_id"]) for s in out["segments"]]
    assert lines == [
        ("Hello?", "SPEAKER_00"),
        ("Hello?", "SPEAKER_01"),
        ("I'm from Chicago also.", "SPEAKER_01"),
        ("Nice.", "SPEAKER_00"),
        ("Really.", "SPEAKER_00"),
    ]
    assert all(w["end"] - w["start"] >= 0.04 for w in out["words"])
    assert [w["speaker_id"] for w in out["words"]] == [
        w["speaker_id"] for s in out["segments"] for w in s["words"]
    ]
    # Segments are widened to their speaker's turn, never over another segment's words.
    for a, b in itertools.pairwise(out["segments"]):
        assert a["end"] <= b["words"][0]["start"] and b["start"] >= a["words"][-1]["end"]
    # Without turns nothing is split or labelled.
    plain = assign_speakers(response, [], speech=speech)
    assert [s["text"] for s in plain["segments"]] == ["x"] or len(plain["segments"]) == 1


def test_words_are_clamped_to_detected_speech() -> None:
    words = [_word(" So", 0.5, 9.0), _word(" yes.", 9.1, 9.4), _word(" Out", 20.0, 23.0)]
    out = assign_speakers(
        {
            "words": words,
            "segments": [
                {"id": 0, "start": 0.5, "end": 23.0, "text": "x", "words": copy.deepcopy(words)}
            ],
        },
        [Turn(8.5, 9.5, "SPEAKER_00")],
        speech=[(8.5, 9.5)],
    )
    so, yes, far = out["words"]
    assert (so["start"], so["end"]) == (8.5, 9.0)  # the 8 s over silence are gone
    assert (yes["start"], yes["end"]) == (9.1, 9.4)
    assert far["end"] - far["start"] <= 1.0 and far["end"] == 23.0
    # A pause over a second ends a segment; no segment spans > 1 s without words.
    segs = out["segments"]
    assert [s["text"] for s in segs] == ["So yes.", "Out"]


def test_diarize_response_on_a_real_transcription(call: dict[str, object]) -> None:
    from fw_asr_widgets.local import models

    audio, stm = call["audio"], call["stm"]
    assert isinstance(audio, np.ndarray) and isinstance(stm, list)
    segments, _ = models.load().transcribe(
        audio, word_timestamps=True, vad_filter=True, beam_size=1
    )
    segs = []
    for s in segments:
        ws = [_word(w.word, w.start, w.end) for w in s.words or []]
        segs.append(
            {
                "id": s.id,
                "seek": s.seek,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "words": ws,
            }
        )
    words = [copy.deepcopy(w) for s in segs for w in s["words"]]
    response = {
        "task": "transcribe",
        "language": "en",
        "duration": audio.size / 16000,
        "text": "".join(s["text"] for s in segs).strip(),
        "words": words,
        "segments": segs,
    }
    out = diarize_response(audio, response, min_speakers=None, max_speakers=None)

    assert len(out["words"]) == len(words) > 40
    assert all(w["speaker_id"] in ("SPEAKER_00", "SPEAKER_01") for w in out["words"])
    assert [s["id"] for s in out["segments"]] == list(range(len(out["segments"])))
    for s in out["segments"]:
        assert {w["speaker_id"] for w in s["words"]} == {s["speaker_id"]}
        assert s["start"] <= s["words"][0]["start"] and s["end"] >= s["words"][-1]["end"]
        assert all(b["start"] - a["end"] <= 1.0 for a, b in itertools.pairwise(s["words"]))
    # No word lost or reordered by the splitting.
    assert [w["word"] for s in out["segments"] for w in s["words"]] == [w["word"] for w in words]
    assert " ".join(s["text"] for s in out["segments"]).split() == response["text"].split()
    assert len(out["segments"]) > len(segs)

    # Words spoken inside a one-speaker STM line carry that person's label (best mapping).
    pairs = []
    for w in out["words"]:
        mid = (w["start"] + w["end"]) / 2
        who = {spk for s, e, spk in stm if s <= mid < e}
        if len(who) == 1:
            pairs.append((who.pop(), w["speaker_id"]))
    names = sorted({p[0] for p in pairs})
    best = max(
        sum(
            1
            for r, h in pairs
            if dict(zip(("SPEAKER_00", "SPEAKER_01"), perm, strict=True))[h] == r
        )
        for perm in itertools.permutations(names, 2)
    )
    assert len(pairs) > 30
    assert best / len(pairs) >= 0.80, best / len(pairs)


def test_segments_overlap_where_two_speakers_talk_at_once() -> None:
    words = [_word(" I", 0.0, 0.3), _word(" agree.", 0.3, 0.8), _word(" Right.", 1.0, 1.4)]
    words += [_word(" So.", 2.0, 2.4)]
    seg = {"id": 0, "start": 0.0, "end": 2.4, "text": "x", "words": copy.deepcopy(words)}
    turns = [
        Turn(0.0, 1.2, "SPEAKER_00"),  # A goes on while B starts "Right."
        Turn(0.9, 1.5, "SPEAKER_01"),
        Turn(1.9, 2.5, "SPEAKER_00"),
    ]
    out = assign_speakers(
        {"words": words, "segments": [seg]}, turns, speech=[(0.0, 2.5)], overlap=[(0.9, 1.2)]
    )
    a, b = out["segments"][:2]
    assert (a["text"], b["text"]) == ("I agree.", "Right.")
    assert (a["speaker_id"], b["speaker_id"]) == ("SPEAKER_00", "SPEAKER_01")
    assert a["end"] == 1.2 and b["start"] == 0.9  # both speak over 0.9-1.2 s
    import fw_asr_widgets as fw

    ov = fw.Transcript.from_response(out).to_pandas().asr.overlaps()
    assert len(ov) >= 1 and set(ov["speaker_a"]) | set(ov["speaker_b"]) >= {
        "SPEAKER_00",
        "SPEAKER_01",
    }
    # Without the overlap region the segments only meet.
    plain = assign_speakers({"words": words, "segments": [seg]}, turns, speech=[(0.0, 2.5)])
    a, b = plain["segments"][:2]
    assert a["end"] <= b["words"][0]["start"] and b["start"] >= a["words"][-1]["end"]


def test_voice_encoder_is_selected_by_the_environment(
    call: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`FW_ASR_DIARIZER=voice_encoder` makes `diarize_response` use the fast path's turns."""
    audio = call["audio"]
    assert isinstance(audio, np.ndarray)
    words = [_word(f"w{i}", i + 0.1, i + 0.6) for i in range(int(audio.size / 16_000) - 1)]
    response = {
        "text": " ".join(str(w["word"]) for w in words),
        "segments": [{"id": 0, "start": 0.1, "end": words[-1]["end"], "words": words}],
    }
    expected = assign_speakers(copy.deepcopy(response), diarize_voice_encoder(audio))
    monkeypatch.setenv("FW_ASR_DIARIZER", "voice_encoder")
    got = diarize_response(audio, response, min_speakers=None, max_speakers=None)
    assert got == expected
    assert len({w["speaker_id"] for s in got["segments"] for w in s["words"]}) == 2
    monkeypatch.delenv("FW_ASR_DIARIZER")
    meeting = diarize_response(audio, response, min_speakers=None, max_speakers=None)
    assert meeting != expected  # the default meeting pipeline turns differ
