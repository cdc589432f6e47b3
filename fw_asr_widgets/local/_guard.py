"""Guards on the embedded engine's output: hallucinated words, and non-English audio on an
English-only install.

Whisper tiny.en (the `local` extra's only model) cannot say "this is not English": on
French it loops ("Thank you for watching, see you in the next video" thirty times), on
Mandarin it writes a short fluent invented English sentence. faster-whisper's language
detection needs a multilingual model. So when the language was *assumed* (no `language`
field, no multilingual model), `not_english_reason` judges tiny.en's own output and the
engine refuses it with a 400 naming the fixes, instead of returning invented English.

Evidence (any one suffices), measured with tiny.en on the recordings in `shared/data` (the
English ones: jfk, english, two_speakers and 12 AMI meeting snippets; the others: French and
Mandarin; noisy machine, same figures every run since decoding is greedy-deterministic):
- looping: segments flagged by the transcript hallucination guard (repetition, compression;
  `fw_asr_widgets._quality`) hold at least half of the text (French: all of it;
  English: none);
- stock phrases: Whisper's training-data filler ("thanks for watching", "subscribe", ...)
  makes up at least half of the words (of six or more);
- low confidence (three or more words): mean word probability below `MIN_WORD_PROBABILITY`
  *and* duration-weighted `avg_logprob` below `MIN_AVG_LOGPROB` (Mandarin: 0.48 and -0.78;
  the weakest English file, an AMI meeting snippet: 0.68 and -0.61; another: 0.74, -0.68).
  Beeps, noise and near-silence give no words at all (checked), so they are not refused.

Decisions:
- Refuse rather than warn: a warning beside fluent invented English is easy to miss in a
  notebook or a batch; the error says how to proceed either way (install the multilingual
  model, or send `language="en"` when the audio is English, which skips this guard).
- Every response's words get `hallucination_score` from `_quality.hallucination_score` (1.0
  in segments the guard flags, else the segment's `no_speech_prob`), the same meaning as on
  the streaming WebSocket, so Fireworks-shaped consumers see it too; the segments are kept.
"""

from __future__ import annotations

import re
from typing import Any

from fw_asr_widgets._quality import hallucination_score, tokens
from fw_asr_widgets.local import models

MIN_WORD_PROBABILITY = 0.55
MIN_AVG_LOGPROB = -0.72
LOOP_SHARE = 0.5
STOCK_SHARE = 0.5
MIN_STOCK_WORDS = 6
"""A lone "Thank you." (tiny.en's usual output on near-silence) is not evidence of a language."""
MIN_SCORED_WORDS = 3
"""The low-confidence rule needs this many words (one unsure word says little)."""

STOCK_PHRASES: tuple[str, ...] = (
    "thank you for watching",
    "thanks for watching",
    "thank you very much for watching",
    "see you in the next video",
    "see you in the next one",
    "see you next time",
    "please subscribe",
    "like and subscribe",
    "subscribe to my channel",
    "don't forget to subscribe",
    "subtitles by the amara org community",
    "thank you so much for watching",
)
_STOCK = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in STOCK_PHRASES) + r")\b")


def flag_segments(segments: list[dict[str, Any]]) -> list[bool]:
    """Flag hallucinated segments and set their words' `hallucination_score`."""
    flags = []
    for s in segments:
        fields = {
            "compression": s.get("compression_ratio"),
            "avg_logprob": s.get("avg_logprob"),
            "no_speech_prob": s.get("no_speech_prob"),
        }
        score = hallucination_score(s.get("text") or "", **fields)
        bad = score >= 1.0
        for w in s.get("words") or []:
            w["hallucination_score"] = score
        flags.append(bad)
    return flags


def _stock_share(text: str) -> float:
    words = tokens(text)
    if len(words) < MIN_STOCK_WORDS:
        return 0.0
    plain = " ".join(words)
    stock = sum(len(m.group(0).split()) for m in _STOCK.finditer(plain))
    return stock / len(words)


def not_english_reason(segments: list[dict[str, Any]], flags: list[bool]) -> str | None:
    """Why tiny.en's output of `segments` looks like non-English audio, or None."""
    texts = [s.get("text") or "" for s in segments]
    total = sum(len(t) for t in texts)
    if not total:
        return None
    looped = sum(len(t) for t, f in zip(texts, flags, strict=True) if f)
    if looped / total >= LOOP_SHARE:
        return "the English model's transcript loops"
    if _stock_share(" ".join(texts)) >= STOCK_SHARE:
        return "the English model's transcript is stock filler"
    probs = [
        float(w["probability"])
        for s in segments
        for w in s.get("words") or []
        if w.get("probability") is not None
    ]
    spans = [
        (max(0.0, float(s["end"]) - float(s["start"])), float(s["avg_logprob"]))
        for s in segments
        if s.get("avg_logprob") is not None
    ]
    weight = sum(d for d, _ in spans)
    if len(probs) >= MIN_SCORED_WORDS and weight > 0:
        mean_p = sum(probs) / len(probs)
        avg = sum(d * a for d, a in spans) / weight
        if mean_p < MIN_WORD_PROBABILITY and avg < MIN_AVG_LOGPROB:
            return (
                f"the English model is unsure of its words: mean word probability "
                f"{mean_p:.2f}, avg_logprob {avg:.2f}"
            )
    return None


def not_english_message(reason: str) -> str:
    """The 400 message: what happened and the two ways forward first (clients cut long
    messages), the evidence last."""
    return (
        f"this audio does not sound like English and only the English model is installed: "
        f'{models.INSTALL_MULTILINGUAL} for other languages, or pass language="en" if it is '
        f"English ({reason})"
    )
