"""Hypothesis strategies for transcripts: empty ones, overlapping speakers, unicode, long texts."""

from __future__ import annotations

from hypothesis import strategies as st

from fw_asr_widgets.transcript import Segment, Transcript, Word

# Words: no whitespace or control characters, no "[" (the SRT speaker-label marker).
_chars = st.characters(
    blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"), blacklist_characters="["
)
words = st.text(_chars, min_size=1, max_size=10).filter(
    lambda w: not any(c.isspace() for c in w) and w == w.strip()
)
speakers = st.one_of(
    st.none(), st.sampled_from(["SPEAKER_00", "SPEAKER_01", "Ана", "說話者", "x&<y>"])
)
times = st.floats(min_value=0, max_value=20_000, allow_nan=False, allow_infinity=False)
durations = st.floats(min_value=0, max_value=600, allow_nan=False, allow_infinity=False)
probs = st.one_of(st.none(), st.floats(min_value=0, max_value=1, allow_nan=False))
logprobs = st.one_of(st.none(), st.floats(min_value=-20, max_value=0, allow_nan=False))


@st.composite
def segments(draw: st.DrawFn, index: int) -> Segment:
    spk = draw(speakers)
    start = draw(times)
    dur = draw(durations)
    toks = draw(st.lists(words, max_size=6))
    if toks and draw(st.integers(0, 9)) == 0:  # now and then a very long text
        toks = toks * draw(st.integers(100, 400))
    lang = draw(st.sampled_from([None, "en", "fr"]))
    n = len(toks)
    prob = draw(probs)
    ws = tuple(
        Word(
            word=t,
            start=start + dur * k / n,
            end=start + dur * (k + 1) / n,
            speaker=spk,
            probability=prob,
            language=lang,
        )
        for k, t in enumerate(toks)
    )
    return Segment(
        id=draw(st.sampled_from([str(index), f"s{index}", f"{index}-ü"])),
        start=start,
        end=start + dur,
        text=" ".join(toks),
        speaker=spk,
        words=ws if draw(st.booleans()) else (),
        language=lang,
        avg_logprob=draw(logprobs),
        no_speech_prob=draw(probs),
    )


@st.composite
def transcripts(draw: st.DrawFn, max_segments: int = 8) -> Transcript:
    """Random transcripts: segments in random (overlapping) order and times, 0..n of them."""
    n = draw(st.integers(0, max_segments))
    segs = [draw(segments(i)) for i in range(n)]
    return Transcript.from_segments(
        segs,
        language=draw(st.sampled_from([None, "en", "zh"])),
        duration=draw(st.one_of(st.none(), durations)),
        source=draw(st.one_of(st.none(), st.sampled_from(["a.wav", "meeting 1.mp3", "声.flac"]))),
    )
