"""Offline speaker diarization for the embedded engine (no torch, no resemblyzer at run time).

Two diarizers:
- `diarize` (the default): the meeting pipeline of `fw_asr_widgets.local.speakers`
  (pyannote segmentation-3.0 + CAM++ embeddings + spectral clustering, with onnxruntime);
  overlap-aware, it holds up on quiet far-field meetings.
- `diarize_voice_encoder` (the earlier one, ~3× faster, kept as a fast path; select it for
  the server with `FW_ASR_DIARIZER=voice_encoder`): Silero VAD + resemblyzer's voice encoder
  (numpy) + agglomerative clustering, in `fw_asr_widgets.local._voice_encoder` (re-exported
  here with `VoiceEncoder`, `mel_frames`, `mel_filterbank` and `Turn`).

`diarize_response` applies the turns to a verbose_json transcription: word times are clamped
to detected speech, every word gets a `speaker_id` (the turn it overlaps most), and segments
are split where the speaker changes, at sentence ends and at pauses over `MAX_GAP`.

Decisions:
- Diarization stands on its own speech analysis; words are assigned to it, not the reverse,
  so speech without recognised words still has speakers and a Whisper segment stretched over
  silence does not become a turn.
- A run of at most `SHORT_RUN_WORDS` words that continues an unfinished sentence (the previous
  word does not end in . ? !) keeps the previous speaker: a turn boundary a few hundred ms
  off must not cut "…from Chicago | also." across speakers.
- A segment's span is its words' span widened to its speaker's turn (never over another
  segment's words), so segments cover the speech the diarizer heard, not only Whisper's word
  estimates; turns of different speakers may overlap where both talk.
- A word outside any detected speech keeps at most `MAX_GAP` s (its end is kept: Whisper
  stretches word starts back over silence); a word shorter than `MIN_WORD` is given 100 ms (up
  to the next word, at least `MIN_WORD`), and words stay in order: one stacked on the
  previous word's time starts where that one ends.
- Speech the segmentation heard but the file's decode left without words (quiet far-field
  backchannels, where Whisper's no-speech gate fires) is decoded again region by region
  (`diarize_response(redecode=...)`, the engine's `redecode_speech`). Measured through the API
  on the 12 AMI snippets: mean DER 30.0% → 27.7%, no empty transcript (ami_trn01 100% → 79%,
  ami_trn04 47% → 39%, ami_dev01 29% → 31%: one recovered word given to the wrong speaker);
  two_speakers.wav and jfk.wav unchanged (no region without words there).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from fw_asr_widgets.local._voice_encoder import (
    FRAME_SECONDS,
    SAMPLE_RATE,
    WEIGHTS_PATH,
    Turn,
    VoiceEncoder,
    _mono16k,
    diarize_voice_encoder,
    mel_filterbank,
    mel_frames,
)
from fw_asr_widgets.local.engine import REDECODE_MIN

__all__ = [
    "FRAME_SECONDS",
    "SAMPLE_RATE",
    "WEIGHTS_PATH",
    "Turn",
    "VoiceEncoder",
    "analyse",
    "assign_speakers",
    "diarize",
    "diarize_response",
    "diarize_voice_encoder",
    "mel_filterbank",
    "mel_frames",
]


def analyse(
    audio: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    seg: tuple[np.ndarray, np.ndarray] | None = None,
) -> Any:
    """The meeting pipeline's `speakers.Analysis` (turns, speech frames, overlap) of `audio`.

    `seg`: the segmentation output already computed for 16 kHz `audio` (the engine's).
    """
    from fw_asr_widgets.local import speakers

    speakers.check_counts(min_speakers, max_speakers)  # before decoding: a bad hint fails fast
    a = _mono16k(audio, sample_rate)
    return speakers.analyse(a, min_speakers=min_speakers, max_speakers=max_speakers, seg=seg)


def diarize(
    audio: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
) -> list[Turn]:
    """Who spoke when in mono `audio` (float or int samples): speaker turns in time order.

    The meeting pipeline (`fw_asr_widgets.local.speakers`): turns of two speakers overlap
    where both talk. Speakers are labelled `SPEAKER_00`, `SPEAKER_01`, … in order of first
    appearance; without `min_speakers`/`max_speakers` the count is estimated within [1, 15].
    Silence or empty audio gives no turns. Raises `ValueError` for bad speaker counts or
    non-finite samples.
    """
    an = analyse(
        audio, sample_rate=sample_rate, min_speakers=min_speakers, max_speakers=max_speakers
    )
    return [Turn(t.start, t.end, t.speaker) for t in an.turns]


# --------------------------------------------------------------------------------------------
# Applying turns to a transcription


def _speaker_for(start: float, end: float, t0: np.ndarray, t1: np.ndarray, names: list[str]) -> str:
    """The speaker overlapping [start, end] most; the nearest turn when none overlaps."""
    overlap = np.minimum(end, t1) - np.maximum(start, t0)
    if end > start and overlap.max() > 0:
        per: dict[str, float] = {}
        for i in np.flatnonzero(overlap > 0):
            per[names[i]] = per.get(names[i], 0.0) + float(overlap[i])
        return max(per, key=lambda k: per[k])
    mid = 0.5 * (start + end)
    gap = np.maximum(t0 - mid, 0) + np.maximum(mid - t1, 0)
    return names[int(np.argmin(gap))]


def _time(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _label_words(words: list[dict], t0: np.ndarray, t1: np.ndarray, names: list[str]) -> None:
    """Set `speaker_id` on each word (in place); untimed words take their neighbour's."""
    last: str | None = None
    pending: list[dict] = []
    for w in words:
        s, e = _time(w.get("start")), _time(w.get("end"))
        if not names:
            w["speaker_id"] = None
            continue
        if s is None and e is None:
            w["speaker_id"] = last
            if last is None:
                pending.append(w)
            continue
        s = e if s is None else s
        e = s if e is None else e
        last = w["speaker_id"] = _speaker_for(s, max(e, s), t0, t1, names)
        for p in pending:
            p["speaker_id"] = last
        pending.clear()


def _join(words: list[dict]) -> str:
    """Segment text from its words: Whisper-style words carry their leading space."""
    texts = [str(w.get("word", "")) for w in words]
    if any(t[:1].isspace() for t in texts[1:]):
        return "".join(texts).strip()
    return " ".join(t.strip() for t in texts if t.strip())


def _owners(words: list[dict], segments: list[Any]) -> list[int]:
    """Index of the segment each word belongs to: the one holding its midpoint, else nearest."""
    bounds = []
    for seg in segments:
        s0 = _time(seg.get("start")) if isinstance(seg, dict) else None
        s1 = _time(seg.get("end")) if isinstance(seg, dict) else None
        bounds.append((np.inf, -np.inf) if s0 is None or s1 is None else (s0, max(s0, s1)))
    b0 = np.array([b[0] for b in bounds], dtype=np.float64).reshape(-1)
    b1 = np.array([b[1] for b in bounds], dtype=np.float64).reshape(-1)
    owners: list[int] = []
    for w in words:
        s, e = _time(w.get("start")), _time(w.get("end"))
        if (s is None and e is None) or b0.size == 0 or not np.isfinite(b0).any():
            owners.append(owners[-1] if owners else 0)
            continue
        mid = 0.5 * ((s if s is not None else e) + (e if e is not None else s))  # type: ignore[operator]
        gap = np.maximum(b0 - mid, 0) + np.maximum(mid - b1, 0)
        gap[~np.isfinite(gap)] = np.inf
        owners.append(int(np.argmin(gap)))
    return owners


MAX_GAP = 1.0  # s of non-speech a word may span, and the pause that always ends a segment
SHORT_RUN_WORDS = 2
MIN_WORD = 0.05  # s: shorter words (Whisper gives some zero-length ones) are lengthened
CONTINUE_GAP = 0.5
_SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")


def _ends_sentence(word: dict) -> bool:
    return str(word.get("word", "")).strip().endswith(_SENTENCE_END)


def _clamp_words(words: list[dict], regions: list[tuple[float, float]]) -> None:
    """Fit word times (in place) to the detected speech `regions` (sorted, seconds)."""
    if not regions:
        return
    r0 = np.array([r[0] for r in regions])
    r1 = np.array([r[1] for r in regions])
    for i, w in enumerate(words):
        s, e = _time(w.get("start")), _time(w.get("end"))
        if s is None or e is None:
            continue
        e = max(e, s)
        ov = np.minimum(e, r1) - np.maximum(s, r0)
        hit = np.flatnonzero(ov > 0)
        if hit.size:
            # Keep the part in the speech region the word overlaps most.
            k = hit[int(np.argmax(ov[hit]))]
            s, e = max(s, float(r0[k])), min(e, float(r1[k]))
        elif e - s > MAX_GAP:
            s = e - MAX_GAP
        if e - s < MIN_WORD:
            nxt = _time(words[i + 1].get("start")) if i + 1 < len(words) else None
            e = s + 0.1 if nxt is None or nxt <= s else min(s + 0.1, max(nxt, s + MIN_WORD))
        w["start"], w["end"] = round(s, 3), round(e, 3)
    # Whisper stacks some words on one instant; lengthened, they would overlap. Keep the
    # order: a word starts at the earliest where the previous one ended, and lasts at least
    # `MIN_WORD` (a few tens of ms later than Whisper said, well inside its ±0.3 s).
    prev_end: float | None = None
    for w in words:
        s, e = _time(w.get("start")), _time(w.get("end"))
        if s is None or e is None:
            continue
        if prev_end is not None and s < prev_end:
            s = prev_end
        e = max(e, s + MIN_WORD)
        w["start"], w["end"] = round(s, 3), round(e, 3)
        prev_end = w["end"]


def _keep_sentences(words: list[dict]) -> None:
    """Words finishing an unfinished sentence right after it keep the previous speaker.

    When the speaker changes after a word that does not end a sentence, the next words up to
    the first sentence end (at most `SHORT_RUN_WORDS`, starting within `CONTINUE_GAP` s) go
    to the previous speaker.
    """
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and words[j].get("speaker_id") == words[i].get("speaker_id"):
            j += 1
        if i > 0 and not _ends_sentence(words[i - 1]):
            k = i
            while k < j - 1 and not _ends_sentence(words[k]):
                k += 1
            pe, ws = _time(words[i - 1].get("end")), _time(words[i].get("start"))
            close = pe is None or ws is None or ws - pe < CONTINUE_GAP
            if (
                k + 1 - i <= SHORT_RUN_WORDS
                and close
                and (k + 1 < j or _ends_sentence(words[k]) or j - i <= SHORT_RUN_WORDS)
            ):
                for w in words[i : k + 1]:
                    w["speaker_id"] = words[i - 1].get("speaker_id")
                if k + 1 < j:
                    i = k + 1
                    continue
        i = j


def _pieces(words: list[dict]) -> list[list[dict]]:
    """Split a segment's words at speaker changes, sentence ends and pauses over MAX_GAP."""
    runs: list[list[dict]] = []
    for w in words:
        if runs:
            prev = runs[-1][-1]
            pe, ws = _time(prev.get("end")), _time(w.get("start"))
            same = prev.get("speaker_id") == w.get("speaker_id")
            pause = pe is not None and ws is not None and ws - pe > MAX_GAP
            if same and not pause and not _ends_sentence(prev):
                runs[-1].append(w)
                continue
        runs.append([w])
    return runs


def _widen(
    segments: list[dict], turns: list[Turn], overlap: list[tuple[float, float]] | None = None
) -> None:
    """Widen each segment (in place) to its speaker's turn, never over another's words except
    inside `overlap` (where the diarizer hears two speakers: there segments overlap too)."""
    first = [_time(s["words"][0].get("start")) if s.get("words") else None for s in segments]
    last = [_time(s["words"][-1].get("end")) if s.get("words") else None for s in segments]
    both = overlap or []
    for i, seg in enumerate(segments):
        s0, s1 = _time(seg.get("start")), _time(seg.get("end"))
        if s0 is None or s1 is None or seg.get("speaker_id") is None:
            continue
        lo = max([x for x in last[:i] if x is not None], default=0.0)
        hi = min([x for x in first[i + 1 :] if x is not None], default=np.inf)
        # Inside an overlap region the bound moves to the region's edge.
        lo = min([o0 for o0, o1 in both if o0 < lo <= o1] + [lo])
        hi = max([o1 for o0, o1 in both if o0 <= hi < o1] + [hi])
        for t in turns:
            if t.speaker != seg["speaker_id"]:
                continue
            if t.start <= s0 <= t.end:
                s0 = min(s0, max(t.start, lo))  # widened, never narrowed
            if t.start <= s1 <= t.end:
                s1 = max(s1, min(t.end, hi))
        seg["start"], seg["end"] = round(s0, 3), round(max(s1, s0), 3)
        for key, src in (("audio_start", "start"), ("audio_end", "end")):
            if _time(seg.get(key)) is not None:
                seg[key] = seg[src]


def assign_speakers(
    response: dict,
    turns: list[Turn],
    *,
    speech: list[tuple[float, float]] | None = None,
    overlap: list[tuple[float, float]] | None = None,
) -> dict:
    """A copy of a verbose_json `response` with `speaker_id` on words and segments.

    With `speech` (detected speech regions in seconds), word times are first fitted to it (see
    the module's decisions). Each word gets the speaker it overlaps most (the nearest turn when
    it overlaps none); a short run continuing an unfinished sentence keeps the previous
    speaker. A segment is split where its words change speaker, end a sentence, or pause over
    `MAX_GAP`. New segments rebuild `text`, `start` and `end` (and `audio_start`/`audio_end`
    when set) from their words, widened to their speaker's turn when `speech` is given (over
    another speaker's words only inside `overlap`, the stretches where two talk), carry
    `speaker_id`, keep the segment's other fields, and are renumbered 0..n-1. Segments without
    words get the speaker they overlap most. With no turns at all, every `speaker_id` is None.
    """
    out = copy.deepcopy(response)
    t0 = np.array([t.start for t in turns], dtype=np.float64)
    t1 = np.array([t.end for t in turns], dtype=np.float64)
    names = [t.speaker for t in turns]
    top_words = out.get("words")
    segments = out.get("segments")
    seg_words = [
        w
        for seg in (segments if isinstance(segments, list) else [])
        if isinstance(seg, dict) and isinstance(seg.get("words"), list)
        for w in seg["words"]
    ]
    for group in (top_words if isinstance(top_words, list) else [], seg_words):
        if speech is not None:
            _clamp_words(group, speech)
        _label_words(group, t0, t1, names)
        if names:
            _keep_sentences(group)
    if not isinstance(segments, list):
        return out

    # Segments that carry no `words` of their own take the top-level words whose midpoint
    # falls inside them (or, in a gap, the nearest segment).
    pool = top_words if isinstance(top_words, list) else []
    owner = _owners(pool, segments)
    new_segments: list[dict] = []
    for si, seg in enumerate(segments):
        if not isinstance(seg, dict):
            continue
        has_words = isinstance(seg.get("words"), list) and len(seg["words"]) > 0
        words = (
            seg["words"] if has_words else [w for w, o in zip(pool, owner, strict=True) if o == si]
        )
        if not words:
            seg = dict(seg)
            s0, s1 = _time(seg.get("start")), _time(seg.get("end"))
            if names and s0 is not None and s1 is not None:
                seg["speaker_id"] = _speaker_for(s0, s1, t0, t1, names)
            else:
                seg["speaker_id"] = None
            new_segments.append(seg)
            continue
        runs = _pieces(words) if names else [words]
        for run in runs:
            piece = {k: copy.deepcopy(v) for k, v in seg.items() if k != "words"}
            starts = [x for x in (_time(w.get("start")) for w in run) if x is not None]
            ends = [x for x in (_time(w.get("end")) for w in run) if x is not None]
            if len(runs) > 1 or starts:
                piece["start"] = min(starts) if starts else seg.get("start")
                piece["end"] = max(ends) if ends else seg.get("end")
            for key, src in (("audio_start", "start"), ("audio_end", "end")):
                if _time(piece.get(key)) is not None:
                    piece[key] = piece[src]
            piece["text"] = _join(run)
            piece["speaker_id"] = run[0].get("speaker_id")
            if has_words:
                piece["words"] = run
            new_segments.append(piece)
    if speech is not None and names:
        _widen(new_segments, turns, overlap)
    for i, seg in enumerate(new_segments):
        seg["id"] = i
    out["segments"] = new_segments
    return out


def unheard(response: dict, regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The speech `regions` (s), at least `REDECODE_MIN` long, that no word of `response`
    touches (within 0.2 s)."""
    spans = [
        (float(w["start"]), float(w["end"]))
        for seg in response.get("segments") or []
        for w in seg.get("words") or []
        if _time(w.get("start")) is not None and _time(w.get("end")) is not None
    ]
    return [
        (s, e)
        for s, e in regions
        if e - s >= REDECODE_MIN and not any(ws < e + 0.2 and we > s - 0.2 for ws, we in spans)
    ]


def _add_segments(response: dict, extra: list[dict]) -> dict:
    """A copy of `response` with `extra` segments merged in time order (ids, text and
    top-level words rebuilt)."""
    if not extra:
        return response
    out = dict(response)
    segs = sorted(
        [*(response.get("segments") or []), *extra], key=lambda s: _time(s.get("start")) or 0.0
    )
    for i, seg in enumerate(segs):
        seg["id"] = i
    out["segments"] = segs
    out["words"] = [w for seg in segs for w in seg.get("words") or []]
    out["text"] = " ".join(str(seg.get("text") or "") for seg in segs).strip()
    return out


def diarize_response(
    audio: np.ndarray,
    response: dict,
    *,
    min_speakers: int | None,
    max_speakers: int | None,
    seg: tuple[np.ndarray, np.ndarray] | None = None,
    redecode: Callable[[np.ndarray, list[tuple[float, float]]], list[dict]] | None = None,
) -> dict:
    """Diarize 16 kHz mono `audio` and apply the turns to its verbose_json `response`.

    Returns a new dict (the input is not modified): see `assign_speakers`. The meeting
    pipeline is used unless the environment sets `FW_ASR_DIARIZER=voice_encoder`.
    `redecode(audio, regions)`: segments for speech regions (s, at least `REDECODE_MIN` long)
    that hold no word of `response` (the engine's `redecode_speech`); they join the response
    before speakers are assigned.
    """
    if os.environ.get("FW_ASR_DIARIZER", "").strip().lower() == "voice_encoder":
        turns = diarize_voice_encoder(audio, min_speakers=min_speakers, max_speakers=max_speakers)
        return assign_speakers(response, turns)
    an = analyse(audio, min_speakers=min_speakers, max_speakers=max_speakers, seg=seg)
    if redecode is not None:
        response = _add_segments(response, redecode(audio, unheard(response, an.regions)))
    turns = [Turn(t.start, t.end, t.speaker) for t in an.turns]
    return assign_speakers(response, turns, speech=an.regions, overlap=an.overlap)
