"""WER (jiwer) and DER (numpy, cross-checked against pyannote.metrics when installed)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fw_asr_widgets.transcript import Segment, Transcript, normalize_text
from fw_asr_widgets.transcript.metrics import der_components
from tests.conftest import JFK_REFERENCE


def test_normalize_text() -> None:
    assert normalize_text("  Hello,   WORLD!\tIt's 3 o'clock… ") == "hello world its 3 oclock"
    assert normalize_text("Ｆｕｌｌ-width") == "fullwidth"


def test_wer_against_reference() -> None:
    hyp = Transcript(text="and so my fellow americans ask not what your country can do for you")
    assert hyp.wer(JFK_REFERENCE) == pytest.approx(8 / 22)  # 8 words missing
    assert Transcript(text=JFK_REFERENCE.upper()).wer(JFK_REFERENCE) == 0.0
    assert Transcript(text=JFK_REFERENCE.upper()).wer(JFK_REFERENCE, normalize=False) == 1.0
    ref = Transcript(text="", segments=(Segment("0", 0, 1, "one two three"),))
    assert Transcript(text="one two tree").wer(ref) == pytest.approx(1 / 3)
    assert Transcript(text="").wer("") == 0.0
    assert Transcript(text="").wer("a b") == 1.0
    with pytest.raises(ValueError, match="reference is empty"):
        Transcript(text="a").wer("")


def _rttm_to_annotation(tr: Transcript):  # type: ignore[no-untyped-def]
    from pyannote.core import Annotation
    from pyannote.core import Segment as PSegment

    ann = Annotation()
    for i, s in enumerate(tr.segments):
        ann[PSegment(s.start, s.end), str(i)] = s.speaker
    return ann


def test_der_on_the_sample_against_pyannote(shared_data: Path) -> None:
    pytest.importorskip("pyannote.metrics")
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref = Transcript.from_rttm(shared_data / "two_speakers.rttm")
    hyp = Transcript.from_stm(shared_data / "two_speakers.stm")
    for collar in (0.0, 0.25):
        for skip in (False, True):
            metric = DiarizationErrorRate(collar=2 * collar, skip_overlap=skip)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = metric(_rttm_to_annotation(ref), _rttm_to_annotation(hyp))
            got = hyp.der(shared_data / "two_speakers.rttm", collar=collar, skip_overlap=skip)
            assert got == pytest.approx(expected, abs=1e-9)
    parts = der_components(ref, hyp, collar=0.0)
    assert parts["mapping"] == {"speaker90": "Diane", "speaker91": "Sheila"}
    assert parts["total"] == pytest.approx(sum(s.end - s.start for s in ref.segments))


intervals = st.lists(
    st.tuples(
        st.floats(0, 20, allow_nan=False),
        st.floats(0.05, 5, allow_nan=False),
        st.sampled_from(["a", "b", "c"]),
    ),
    min_size=1,
    max_size=6,
)


def _tr(rows: list[tuple[float, float, str]]) -> Transcript:
    return Transcript.from_segments(
        Segment(str(i), round(a, 2), round(a + d, 2), "", spk) for i, (a, d, spk) in enumerate(rows)
    )


def _self_overlap(tr: Transcript) -> bool:
    s = tr.segments
    return any(
        a.speaker == b.speaker and max(a.start, b.start) < min(a.end, b.end)
        for i, a in enumerate(s)
        for b in s[i + 1 :]
    )


@settings(max_examples=25, deadline=None)
@given(intervals, intervals, st.sampled_from([0.0, 0.1, 0.25]))
def test_der_matches_pyannote_on_random_diarizations(
    ref_rows: list[tuple[float, float, str]],
    hyp_rows: list[tuple[float, float, str]],
    collar: float,
) -> None:
    pytest.importorskip("pyannote.metrics")
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = _tr(ref_rows), _tr([(a, d, spk.upper()) for a, d, spk in hyp_rows])
    # pyannote counts a speaker's own overlapping segments twice; we (like NIST md-eval)
    # count a speaker once: compare on well-formed diarizations only
    assume(not _self_overlap(ref) and not _self_overlap(hyp))
    metric = DiarizationErrorRate(collar=2 * collar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detail = metric(_rttm_to_annotation(ref), _rttm_to_annotation(hyp), detailed=True)
    ours = der_components(ref, hyp, collar=collar)
    if detail["total"] == 0:
        return
    assert ours["total"] == pytest.approx(detail["total"], abs=1e-6)
    assert ours["der"] == pytest.approx(detail["diarization error rate"], abs=1e-6)


def test_der_without_scipy_uses_exhaustive_mapping(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = Transcript.from_rttm(shared_data / "two_speakers.rttm")
    hyp = Transcript.from_stm(shared_data / "two_speakers.stm")
    with_scipy = hyp.der(ref, collar=0.0)
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    assert hyp.der(ref, collar=0.0) == pytest.approx(with_scipy)
    assert 0.10 < with_scipy < 0.20


def test_der_inputs() -> None:
    ref = _tr([(0, 2, "a"), (2, 2, "b")])
    perfect = _tr([(0, 2, "x"), (2, 2, "y")])
    assert perfect.der(ref, collar=0) == 0.0
    swapped = _tr([(0, 4, "x")])
    assert swapped.der(ref, collar=0) == pytest.approx(0.5)
    rttm = ref.to_rttm()
    assert perfect.der(rttm, collar=0) == 0.0  # RTTM text
    with pytest.raises(ValueError, match="no speakers"):
        Transcript.from_segments([Segment("0", 0, 1, "hi")]).der(ref)
    with pytest.raises(ValueError, match="collar"):
        perfect.der(ref, collar=-1)
