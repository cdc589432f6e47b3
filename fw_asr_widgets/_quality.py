"""Hallucination guard and per-segment confidence, from what any response carries.

A bottom-layer module (plain Python, no package imports): the transcript frames and the
embedded engine both use it.

Whisper-family models (the embedded engine's and Fireworks' alike) sometimes loop: the same
phrase again and again ("see you in the next video, see you in the next video, ..."), most
often on audio they cannot follow (a language the model does not know, music, noise). The
guard flags a segment as a hallucination from its own fields, so it works on Fireworks
responses, embedded-engine responses and transcripts read back from files:

- repetition: the share of the segment's tokens inside a back-to-back repeat (a unit of 2-12
  tokens said at least 3 times in a row, or one token at least 5 times) is at least
  `REPETITION_LIMIT`; tokens are words, and single characters for Chinese/Japanese/Korean;
- compression: the text compresses more than `COMPRESSION_LIMIT` (zlib; Whisper's own
  fallback threshold is 2.4 with gzip), measured on the segment's own text when it is long
  enough (`MIN_COMPRESSION_CHARS`) for the ratio to mean anything, else the response's
  `compression_ratio` (Whisper measures it on the whole 30 s decoding window, so a short
  segment inside a looping window is flagged with it);
- silence: `no_speech_prob >= 0.6` with `avg_logprob < -1` (Whisper's own "this window is
  silence" rule): text decoded there is invented.

Decisions:
- The flag is a boolean (`hallucination` column of the segment and utterance frames); the
  rows are kept, so nothing is lost: drop them with `df[~df.hallucination]`.
- A word-level `hallucination_score` (Fireworks) is not read back: the word model does not
  keep it. The embedded engine *writes* it with one meaning in file and streaming responses
  (`hallucination_score()`): 1.0 when this guard flags the word's segment, otherwise Whisper's
  `no_speech_prob` for the decoding window the word came from (its own estimate, 0..1, that
  the window held no speech, capped at 0.99). So 1.0 is the guard's verdict and lower values
  rank doubt; Fireworks does not publish its scale.
- Per-segment confidence is the mean word `probability` when the segment has scored words,
  else `exp(avg_logprob)`. Whisper reports `avg_logprob` per 30 s decoding window, so every
  segment of one window shares it: a value of the window (often the whole file), not of the
  segment. Word probabilities belong to the segment's own words.
"""

from __future__ import annotations

import math
import re
import string
import zlib
from collections.abc import Sequence
from typing import Any

REPETITION_LIMIT = 0.5
COMPRESSION_LIMIT = 2.4
MIN_COMPRESSION_CHARS = 60
MAX_UNIT = 12
MAX_UNFLAGGED = 0.99
"""An unflagged word's score stays below 1.0, which only the guard's verdict gives."""

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKENS = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)*", re.UNICODE)


_ASCII_PUNCT = bytes.maketrans(
    string.punctuation.replace("'", "").encode() + string.ascii_uppercase.encode(),
    b" " * (len(string.punctuation) - 1) + string.ascii_lowercase.encode(),
)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of `text` (each CJK character is one token)."""
    return _TOKENS.findall(text.lower())


def _keys(text: str) -> list[Any]:
    """Tokens for comparison only: ASCII text takes a C-speed path (bytes, apostrophes kept)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_PUNCT).split()
    return _TOKENS.findall(text.lower())


def repetition(text: str) -> float:
    """Share (0..1) of the tokens of `text` that lie inside a back-to-back repeat."""
    toks = _keys(text)
    n = len(toks)
    if n < 5:
        return 0.0
    # A repeat covering half the tokens leaves at most ~2/3 of the tokens distinct.
    if len(set(toks)) > 0.7 * n:
        return 0.0
    covered = bytearray(n)
    for unit in range(1, min(MAX_UNIT, n // 3) + 1):
        need = 5 if unit == 1 else 3  # times the unit is said in a row
        run = 0
        for i in range(n - unit):
            if toks[i] == toks[i + unit]:
                run += 1
                continue
            if run >= (need - 1) * unit:
                covered[i - run : i + unit] = b"\x01" * (run + unit)
            run = 0
        if run >= (need - 1) * unit:
            end = n
            covered[end - run - unit : end] = b"\x01" * (run + unit)
    return sum(covered) / n


def compression_ratio(text: str) -> float | None:
    """len(utf-8 text) / len(zlib-compressed); None for texts too short to judge."""
    raw = text.encode("utf-8")
    if len(raw) < MIN_COMPRESSION_CHARS:
        return None
    return len(raw) / len(zlib.compress(raw))


def is_hallucination(
    text: str,
    *,
    compression: float | None = None,
    avg_logprob: float | None = None,
    no_speech_prob: float | None = None,
) -> bool:
    """True when a segment looks invented (looping or decoded from silence); see module docs."""
    if not text:
        return False
    if (
        no_speech_prob is not None
        and avg_logprob is not None
        and no_speech_prob >= 0.6
        and avg_logprob < -1.0
    ):
        return True
    own = compression_ratio(text)
    cr = own if own is not None else compression
    if cr is not None and cr > COMPRESSION_LIMIT:
        return True
    return repetition(text) >= REPETITION_LIMIT


# The same keyword fields as `is_hallucination` (a segment's own fields), spelled out so the
# signature documents itself in help().
def hallucination_score(
    text: str,
    *,
    compression: float | None = None,
    avg_logprob: float | None = None,
    no_speech_prob: float | None = None,
) -> float:
    """The word-level `hallucination_score` of a segment's words (0..1; see module docs)."""
    if is_hallucination(
        text, compression=compression, avg_logprob=avg_logprob, no_speech_prob=no_speech_prob
    ):
        return 1.0
    if no_speech_prob is None or not math.isfinite(no_speech_prob):
        return 0.0
    return round(min(max(float(no_speech_prob), 0.0), MAX_UNFLAGGED), 4)


def segment_confidence(
    probabilities: Sequence[float | None], avg_logprob: float | None
) -> float | None:
    """Mean of the known word probabilities, else exp(avg_logprob), else None."""
    known = [p for p in probabilities if p is not None and not math.isnan(p)]
    if known:
        return sum(known) / len(known)
    return None if avg_logprob is None else math.exp(avg_logprob)
