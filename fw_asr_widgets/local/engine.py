"""The embedded engine's file (pre-recorded) transcription: faster-whisper over decoded pieces.

Length (over 500 lines): one pipeline read top to bottom (decode, pieces, speech regions,
Whisper, the verbose_json result, alignment); the diarizer, the guard, preprocessing and the
subtitle writer are their own modules.

`transcribe_file` decodes any container/codec with PyAV (`fw_asr_widgets.audio.iter_decode`,
16 kHz mono float32) and feeds faster-whisper pieces of about `PIECE_SECONDS`, cut at the
quietest 0.5 s window near each boundary, so memory stays flat for files of any length.
Times are offset per piece, segment ids run across pieces. The result is the Fireworks
`verbose_json` dict (see `build_verbose`), from which the server derives every other format.

Decisions where the Fireworks behaviour is unverified:
- `vad_model` `silero` and `whisperx-pyannet` both use faster-whisper's bundled Silero VAD;
  `skip_vad=true` turns VAD off.
- `alignment_model`, `max_clip_len` are validated by the server and accepted, but do not
  change decoding (word times come from Whisper's cross-attention alignment).
- `preprocessing` runs FFmpeg filters on each piece before VAD and Whisper, and every piece
  is gain-staged (quiet far-field audio raised), see `fw_asr_widgets.local._preprocess`.
  Diarization reads the unfiltered audio (its models normalise level themselves).
- Silero VAD runs at threshold `VAD_THRESHOLD` (0.35, not faster-whisper's 0.5): measured on
  quiet far-field meetings, 0.5 drops much of the speech; 0.35 recovers most of it with no
  loss on the close-talk samples.
- Words and segment texts are returned without Whisper's leading space.
- `no_speech` is `no_speech_prob >= 0.6` (Whisper's no-speech threshold); `retry_count` is
  the index of the fallback temperature that produced the segment.
- With `language=None`: if the multilingual model is installed, the language is detected on
  the first piece (Whisper base) and English audio is then decoded by tiny.en; without it,
  English is assumed and tiny.en's output is checked (`_guard.not_english_reason`): audio
  that does not sound like English is refused with `EngineInputError` naming the fixes.
- Segments the hallucination guard flags get word `hallucination_score` 1.0 (`_guard`).
- A piece whose decode gives no word at all is decoded again where the diarizer's
  segmentation model hears speech (`_unheard_piece`), with or without diarization: quiet
  far-field meetings no longer come back empty. Without diarization, `skip_vad=true` (asking
  for Whisper's decode alone) turns it off; diarization's own second decode stays.

Cancellation: `transcribe_file(..., cancel=event)` checks the event before every piece and
after every decoded segment (about one 30 s Whisper window) and raises `JobCancelled`; the
server sets it when the client disconnects, so an abandoned long file frees its slot within
about one window's decode time.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any, Protocol

import numpy as np

from fw_asr_widgets import _subtitles
from fw_asr_widgets._wire import normalize_word
from fw_asr_widgets.audio import SAMPLE_RATE, AudioSource, iter_decode
from fw_asr_widgets.local import _guard, models
from fw_asr_widgets.local._preprocess import preprocess

PIECE_SECONDS = 180.0
"""Target length of one piece handed to faster-whisper (memory stays ~flat)."""

SEARCH_SECONDS = 20.0
"""A piece is cut at the quietest 0.5 s window within this many seconds of its target end."""

SILENCE_PEAK = 1e-4
"""A piece whose absolute peak is below this is digital silence and is not decoded."""

NO_SPEECH_THRESHOLD = 0.6

VAD_THRESHOLD = 0.35


class EngineInputError(ValueError):
    """The request cannot be served by the local models (e.g. multilingual model missing)."""


class JobCancelled(Exception):
    """The job's `cancel` event was set (its client went away); nothing was returned."""


class _Cancel(Protocol):
    def is_set(self) -> bool: ...


def raise_if_cancelled(cancel: _Cancel | None) -> None:
    """Raise `JobCancelled` if `cancel` is set."""
    if cancel is not None and cancel.is_set():
        raise JobCancelled("the job was cancelled")


@dataclass(frozen=True)
class FileOptions:
    """Decoding options of one file request (already validated by the server)."""

    task: str = "transcribe"
    language: str | None = None
    prompt: str | None = None
    temperature: tuple[float, ...] = (0.0,)
    vad: bool = True
    beam_size: int = 5
    preprocessing: str = "none"
    speech_model: str = "silero"
    """`silero`, or `segmentation`: speech found by the diarizer's segmentation model (united
    with Silero's), decoded as clips; its per-frame output is kept for diarization."""


@dataclass
class FileResult:
    """What `transcribe_file` produced: the verbose dict, the local model used, the audio."""

    response: dict[str, Any]
    model_name: str
    audio: np.ndarray | None = None
    pieces: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def choose_model(task: str, language: str | None) -> str | None:
    """The local model for a request, or None when the language must be detected first.

    Raises `EngineInputError` (with the install hint) when the request needs the
    multilingual model and it is not installed.
    """
    if task == "translate" or (language is not None and language != "en"):
        if not models.multilingual_available():
            what = "translation" if task == "translate" else f"language {language!r}"
            raise EngineInputError(
                f"{what} needs the multilingual model: {models.MULTILINGUAL_HINT}"
            )
        return models.MULTILINGUAL
    if language == "en" or not models.multilingual_available():
        return models.ENGLISH
    return None


def _quiet_cut(buf: np.ndarray, target: int, search: int) -> int:
    """Index near `target` at the centre of the lowest-energy 0.5 s window in ±`search`."""
    lo = max(0, target - search)
    hi = min(buf.size, target + search)
    win = SAMPLE_RATE // 2
    region = buf[lo:hi]
    if region.size <= win:
        return target
    hop = SAMPLE_RATE // 20  # 50 ms
    sq = np.square(region, dtype=np.float32)
    csum = np.concatenate(([0.0], np.cumsum(sq, dtype=np.float64)))
    starts = np.arange(0, region.size - win + 1, hop)
    energy = csum[starts + win] - csum[starts]
    best = int(starts[int(np.argmin(energy))])
    return lo + best + win // 2


def iter_pieces(
    blocks: Iterator[np.ndarray],
    *,
    piece_seconds: float = PIECE_SECONDS,
    search_seconds: float = SEARCH_SECONDS,
) -> Iterator[tuple[float, np.ndarray]]:
    """Regroup decoded blocks into (offset seconds, piece) cut at quiet points."""
    target = int(piece_seconds * SAMPLE_RATE)
    search = int(search_seconds * SAMPLE_RATE)
    buf = np.zeros(0, dtype=np.float32)
    offset = 0
    for block in blocks:
        buf = np.concatenate((buf, block)) if buf.size else block
        while buf.size >= target + search:
            cut = _quiet_cut(buf, target, search)
            yield offset / SAMPLE_RATE, buf[:cut]
            offset += cut
            buf = buf[cut:].copy()
    if buf.size:
        yield offset / SAMPLE_RATE, buf


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def _decode_piece(
    model: Any,
    piece: np.ndarray,
    offset: float,
    opts: FileOptions,
    language: str | None,
    first_id: int,
    cancel: _Cancel | None = None,
    clips: list[float] | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Transcribe one piece; return Fireworks segment dicts (times offset) and the language.

    `overrides`: faster-whisper `transcribe` arguments replacing the ones made from `opts`."""
    kwargs: dict[str, Any] = {
        "task": opts.task,
        "language": language,
        "beam_size": opts.beam_size,
        "temperature": list(opts.temperature) if len(opts.temperature) > 1 else opts.temperature[0],
        "initial_prompt": opts.prompt or None,
        "word_timestamps": True,
        "vad_filter": opts.vad,
        "condition_on_previous_text": True,
    }
    if clips is not None:
        kwargs["vad_filter"] = False
        kwargs["clip_timestamps"] = clips
    elif opts.vad:
        kwargs["vad_parameters"] = {"threshold": VAD_THRESHOLD}
    kwargs.update(overrides or {})
    segments, info = model.transcribe(piece, **kwargs)
    lang = language or info.language
    out: list[dict[str, Any]] = []
    for seg in segments:  # lazy: each step decodes one Whisper window
        raise_if_cancelled(cancel)
        text = seg.text.strip()
        if not text:
            continue
        words = [
            {
                "word": w.word.strip(),
                "start": _r(w.start + offset),
                "end": _r(w.end + offset),
                "language": lang,
                "probability": _r(w.probability, 4),
                "hallucination_score": 0.0,
                "speaker_id": None,
            }
            for w in (seg.words or [])
            if w.word.strip()
        ]
        temp = seg.temperature if seg.temperature is not None else opts.temperature[0]
        retry = opts.temperature.index(temp) if temp in opts.temperature else 0
        start, end = _r(seg.start + offset), _r(seg.end + offset)
        out.append(
            {
                "id": first_id + len(out),
                "seek": int(seg.seek + round(offset * 100)),
                "start": start,
                "end": end,
                "audio_start": start,
                "audio_end": end,
                "text": text,
                "language": lang,
                "tokens": [int(t) for t in seg.tokens],
                "words": words,
                "temperature": float(temp),
                "avg_logprob": _r(seg.avg_logprob, 4),
                "compression_ratio": _r(seg.compression_ratio, 4),
                "no_speech_prob": _r(seg.no_speech_prob, 4),
                "no_speech": bool(seg.no_speech_prob >= NO_SPEECH_THRESHOLD),
                "retry_count": int(retry),
                "speaker_id": None,
            }
        )
    return out, lang


def build_verbose(
    task: str, language: str, duration: float, segments: list[dict[str, Any]]
) -> dict[str, Any]:
    """The full verbose_json dict (segments with words, plus top-level words)."""
    return {
        "task": task,
        "language": language,
        "duration": round(duration, 3),
        "text": " ".join(s["text"] for s in segments).strip(),
        "words": [w for s in segments for w in s.get("words") or []],
        "segments": segments,
    }


def transcribe_file(
    source: AudioSource | IO[bytes],
    opts: FileOptions,
    *,
    keep_audio: bool = False,
    load_model: Callable[[str], Any] = models.load,
    piece_seconds: float = PIECE_SECONDS,
    search_seconds: float = SEARCH_SECONDS,
    cancel: _Cancel | None = None,
) -> FileResult:
    """Decode and transcribe `source` piece by piece; raise `AudioDecodeError` if undecodable.

    `keep_audio=True` also returns the whole 16 kHz float32 signal (for diarization).
    Empty, zero-length or silent audio gives an empty transcript, not an error.
    `cancel` (e.g. a `threading.Event`): once set, `JobCancelled` is raised at the next piece
    or decoded segment.
    """
    model_name = choose_model(opts.task, opts.language)
    assumed_english = opts.language is None and model_name == models.ENGLISH
    language = opts.language
    segments: list[dict[str, Any]] = []
    guesses: set[int] = set()  # ids of segments from `_unheard_piece`
    kept: list[np.ndarray] = []
    seg_parts: list[tuple[int, np.ndarray, np.ndarray]] = []
    total = 0
    n_pieces = 0
    blocks = iter_decode(source, chunk_seconds=30.0)
    for offset, piece in iter_pieces(
        blocks, piece_seconds=piece_seconds, search_seconds=search_seconds
    ):
        raise_if_cancelled(cancel)
        n_pieces += 1
        total += piece.size
        if keep_audio:
            kept.append(piece)
        if piece.size < SAMPLE_RATE // 10 or float(np.max(np.abs(piece))) < SILENCE_PEAK:
            continue  # too short to hold a word, or digital silence
        piece = preprocess(piece, opts.preprocessing)
        clips = None
        if opts.speech_model == "segmentation":
            clips = _speech_clips(piece, offset, total - piece.size, seg_parts)
            if not clips:
                continue
        if model_name is None:
            # Language unknown and the multilingual model is installed: detect it once.
            base = load_model(models.MULTILINGUAL)
            detected, _prob, _all = base.detect_language(piece, vad_filter=opts.vad)
            language = detected or "en"
            model_name = models.ENGLISH if language == "en" else models.MULTILINGUAL
        model = load_model(model_name)
        segs, lang = _decode_piece(
            model, piece, offset, opts, language, len(segments), cancel, clips
        )
        if language is None and lang:
            language = lang
        if clips is None and opts.vad and not any(seg["words"] for seg in segs):
            again = _unheard_piece(
                piece, offset, replace(opts, language=language), model_name, len(segments),
                load_model, cancel,
            )  # fmt: skip
            if again:
                segs = again
                guesses.update(seg["id"] for seg in again)
        segments.extend(segs)
    if model_name is None:
        model_name = models.ENGLISH
    if language is None:
        language = "en"
    flags = _guard.flag_segments(segments)
    if assumed_english:
        # The second decode's guesses (no gate, often flagged) are no evidence of a language.
        first = [i for i, seg in enumerate(segments) if seg["id"] not in guesses]
        reason = _guard.not_english_reason([segments[i] for i in first], [flags[i] for i in first])
        if reason is not None:
            raise EngineInputError(_guard.not_english_message(reason))
    response = build_verbose(opts.task, language, total / SAMPLE_RATE, segments)
    if opts.task == "translate":
        for s in response["segments"]:
            s["language"] = "en"
            for w in s["words"]:
                w["language"] = "en"
        # The source language is reported at top level; words and segments are English.
    audio = None
    if keep_audio:
        audio = np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)
    extra: dict[str, Any] = {}
    if opts.speech_model == "segmentation":
        extra["segmentation"] = _join_segmentation(seg_parts, total)
    return FileResult(
        response=response, model_name=model_name, audio=audio, pieces=n_pieces, extra=extra
    )


CLIP_PAD = 0.4
"""Seconds of context kept either side of each detected speech region handed to Whisper."""

CLIP_JOIN = 2.0
"""Speech regions closer than this (s) form one clip (as faster-whisper's own VAD joins them:
cutting Whisper's context at short pauses cost words on jfk.wav)."""


def _speech_clips(
    piece: np.ndarray,
    offset: float,
    start_sample: int,
    seg_parts: list[tuple[int, np.ndarray, np.ndarray]],
) -> list[float]:
    """Whisper clip times (piece-relative seconds) of the speech in `piece`.

    Speech is the union of the segmentation model's (P(speech) ≥ its threshold, on the 10 ms
    grid) and Silero's at `VAD_THRESHOLD` (faster-whisper's other VAD defaults); each region is
    padded by `CLIP_PAD`, clips closer than `CLIP_JOIN` are joined. The segmentation output
    is appended to `seg_parts` for diarization.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from fw_asr_widgets.local import speakers

    p_speech, count = speakers.segmentation(piece)
    seg_parts.append((start_sample, p_speech, count))
    mask = p_speech > speakers.SPEECH_THRESHOLD
    grid = speakers.GRID
    vad = VadOptions(threshold=VAD_THRESHOLD)
    for st in get_speech_timestamps(piece, vad, sampling_rate=SAMPLE_RATE):
        mask[
            int(st["start"] / SAMPLE_RATE / grid) : int(np.ceil(st["end"] / SAMPLE_RATE / grid))
        ] = True
    regions = speakers._runs(mask)
    clips: list[float] = []
    dur = piece.size / SAMPLE_RATE
    for s, e in regions:
        a, b = max(0.0, s * grid - CLIP_PAD), min(dur, e * grid + CLIP_PAD)
        if clips and a <= clips[-1] + CLIP_JOIN:
            clips[-1] = b
        else:
            clips += [a, b]
    return [round(c, 3) for c in clips]


def _join_segmentation(
    parts: list[tuple[int, np.ndarray, np.ndarray]], total: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-piece segmentation outputs laid onto one 10 ms grid for the whole file."""
    from fw_asr_widgets.local import speakers

    hop = int(round(speakers.GRID * SAMPLE_RATE))
    n = int(np.ceil(total / hop))
    p_all = np.zeros(n, dtype=np.float32)
    c_all = np.zeros(n, dtype=np.float32)
    for start, p, c in parts:
        g0 = int(round(start / hop))
        m = max(0, min(p.size, n - g0))
        p_all[g0 : g0 + m] = p[:m]
        c_all[g0 : g0 + m] = c[:m]
    return p_all, c_all


REDECODE_PAD = 0.5
"""Seconds of context either side of a speech region decoded again on its own."""

REDECODE_MIN = 0.3
"""Speech regions shorter than this (s) are not decoded again (too short for a word)."""


def _unheard_piece(
    piece: np.ndarray,
    offset: float,
    opts: FileOptions,
    model_name: str,
    first_id: int,
    load_model: Callable[[str], Any],
    cancel: _Cancel | None,
) -> list[dict[str, Any]]:
    """Segments for a piece whose decode gave no words: its speech decoded again region by
    region (`redecode_speech`), where the diarizer's segmentation model hears speech.

    Decision: a file transcribed without diarization gets the same second decode as one
    with it (`diarize.unheard`), but only for pieces left without any word, so files with
    words are decoded exactly once and cost no segmentation run. Quiet far-field meetings
    were empty without it (ami_trn01 "Okay.", ami_trn02 "I am." with it); silence and noise
    give the segmentation no speech, so nothing is decoded again there. The cost falls on
    files without speech: the segmentation runs at ~80× real time on 2 cores (10 min of
    noise: 0.9 s → 8.2 s), a seventh of what decoding as much speech takes (~12×).
    Digital silence is still skipped before any model runs.
    """
    from fw_asr_widgets.local import speakers

    regions = [(s, e) for s, e in speakers.speech_regions(piece) if e - s >= REDECODE_MIN]
    if not regions:
        return []
    segs = redecode_speech(
        piece, regions, opts, model_name, load_model=load_model, cancel=cancel, offset=offset
    )
    for i, seg in enumerate(segs):
        seg["id"] = first_id + i
    return segs


def redecode_speech(
    audio: np.ndarray,
    regions: list[tuple[float, float]],
    opts: FileOptions,
    model_name: str,
    *,
    load_model: Callable[[str], Any] = models.load,
    cancel: _Cancel | None = None,
    offset: float = 0.0,
) -> list[dict[str, Any]]:
    """Segments for speech `regions` (s) where the file's decode returned no words.

    The diarizer's segmentation model heard speech there that Whisper skipped: on quiet
    far-field backchannels its no-speech gate fires (ami_trn01: `no_speech_prob` 0.72,
    `avg_logprob` -1.12). Each region is decoded again on its own: padded by `REDECODE_PAD`,
    gain-staged, no VAD, no no-speech/log-prob gate, greedy. A segment is kept if its words
    lie within the padded region and its text is no loop (`_quality.is_hallucination` on
    text and compression alone); the engine's guard then scores it as any other segment, so
    a guess Whisper was unsure of arrives with `hallucination_score` 1.0 (and its low word
    probabilities) rather than as silence where a person spoke.

    `offset` (s) is added to every time (regions are in `audio`'s own time).

    Decision: a second decode only where a separate speech model heard speech, so silence
    and noise (where the segmentation hears none) never reach it.
    """
    from fw_asr_widgets._quality import is_hallucination
    from fw_asr_widgets.local._preprocess import stage_gain

    model = load_model(model_name)
    overrides = {
        "vad_filter": False,
        "no_speech_threshold": None,
        "log_prob_threshold": None,
        "condition_on_previous_text": False,
        "beam_size": 1,
        "temperature": 0.0,
    }
    out: list[dict[str, Any]] = []
    for start, end in regions:
        raise_if_cancelled(cancel)
        a = max(0.0, start - REDECODE_PAD)
        b = min(audio.size / SAMPLE_RATE, end + REDECODE_PAD)
        piece = np.ascontiguousarray(audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)])
        if piece.size < SAMPLE_RATE // 10:
            continue
        segs, _ = _decode_piece(
            model,
            stage_gain(piece),
            a + offset,
            opts,
            opts.language or "en",
            0,
            cancel,
            overrides=overrides,
        )
        out += [
            seg
            for seg in segs
            if seg["words"]
            and not is_hallucination(seg["text"], compression=seg["compression_ratio"])
            and seg["words"][0]["start"] >= a + offset - 0.01
            and seg["words"][-1]["end"] <= b + offset + 0.01
        ]
    _guard.flag_segments(out)
    return out


def to_srt(response: dict[str, Any]) -> str:
    """SubRip subtitles, wrapped and split as `Transcript.to_srt` does (`_subtitles`)."""
    return _subtitles.write_srt(_subtitles.segments_from_dicts(response.get("segments") or []))


def to_vtt(response: dict[str, Any]) -> str:
    """WebVTT subtitles, wrapped and split as `Transcript.to_vtt` does (`_subtitles`)."""
    return _subtitles.write_vtt(_subtitles.segments_from_dicts(response.get("segments") or []))


def align_words(
    text: str, heard: list[dict[str, Any]], duration: float, language: str
) -> list[dict[str, Any]]:
    """Time the words of `text` from the recognised `heard` words.

    Words matching a recognised word (difflib alignment on normalised spelling) take its
    times; runs of unmatched words share the time between their matched neighbours in
    proportion to their length. Decision: this is the embedded engine's approximation of
    Fireworks' forced alignment (`tdnn_ffn` / `mms_fa` are not available offline).
    """
    ref = text.split()
    if not ref:
        return []
    a = [normalize_word(w) for w in ref]
    b = [normalize_word(w["word"]) for w in heard]
    times: list[tuple[float, float] | None] = [None] * len(ref)
    probs: list[float | None] = [None] * len(ref)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            h = heard[block.b + k]
            times[block.a + k] = (float(h["start"]), float(h["end"]))
            probs[block.a + k] = h.get("probability")
    i = 0
    while i < len(ref):
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < len(ref) and times[j] is None:
            j += 1
        prev = times[i - 1] if i > 0 else None
        lo = prev[1] if prev is not None else (heard[0]["start"] if heard else 0.0)
        nxt = times[j] if j < len(ref) else None
        hi = nxt[0] if nxt is not None else (heard[-1]["end"] if heard else duration)
        if hi < lo:
            hi = lo
        weights = [max(1, len(w)) for w in ref[i:j]]
        total = float(sum(weights))
        t = lo
        for k, wgt in zip(range(i, j), weights, strict=True):
            step = (hi - lo) * wgt / total
            times[k] = (t, t + step)
            t += step
        i = j
    out = []
    for w, tt, p in zip(ref, times, probs, strict=True):
        assert tt is not None
        out.append(
            {
                "word": w,
                "start": _r(tt[0]),
                "end": _r(tt[1]),
                "language": language,
                "probability": p,
                "hallucination_score": 0.0,
                "speaker_id": None,
            }
        )
    return out


def align_file(
    source: AudioSource | IO[bytes],
    text: str,
    *,
    load_model: Callable[[str], Any] = models.load,
) -> FileResult:
    """Align `text` to the audio: transcribe (prompted with `text`), then `align_words`.

    Segments follow the recognised segments: each word goes to the segment its start falls
    in (text outside any segment joins the nearest one).
    """
    result = transcribe_file(source, FileOptions(prompt=text[-800:] or None), load_model=load_model)
    heard = result.response
    lang = heard["language"]
    words = align_words(text, heard["words"], heard["duration"], lang)
    spans = [(s["start"], s["end"]) for s in heard["segments"]]
    groups: list[list[dict[str, Any]]] = [[] for _ in spans] if spans else [[]]
    for w in words:
        k = 0
        for idx, (s0, _s1) in enumerate(spans):
            if w["start"] >= s0 - 1e-6:
                k = idx
        groups[k].append(w)
    segments: list[dict[str, Any]] = []
    for g in groups:
        if not g:
            continue
        segments.append(
            {
                "id": len(segments),
                "seek": int(round(g[0]["start"] * 100)),
                "start": g[0]["start"],
                "end": g[-1]["end"],
                "audio_start": g[0]["start"],
                "audio_end": g[-1]["end"],
                "text": " ".join(w["word"] for w in g),
                "language": lang,
                "tokens": [],
                "words": g,
                "temperature": 0.0,
                "avg_logprob": None,
                "compression_ratio": None,
                "no_speech_prob": None,
                "no_speech": False,
                "retry_count": 0,
                "speaker_id": None,
            }
        )
    response = build_verbose("align", lang, heard["duration"], segments)
    response["text"] = " ".join(text.split())
    return FileResult(response=response, model_name=result.model_name, pieces=result.pieces)
