"""Gain staging and the `preprocessing` FFmpeg filters (fw_asr_widgets.local._preprocess)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fw_asr_widgets.audio import decode
from fw_asr_widgets.local._preprocess import MODES, _loud_level, ffmpeg_filter, preprocess


def test_quiet_far_field_audio_is_raised_and_loud_audio_left_alone(shared_data: Path) -> None:
    quiet = decode(shared_data / "ami_trn01.wav")
    assert _loud_level(quiet) < -26
    raised = preprocess(quiet)
    assert -21.0 < _loud_level(raised) < -19.0
    assert np.max(np.abs(raised)) <= 0.9 + 1e-6
    # Proportional: a gain, not a distortion.
    k = np.flatnonzero(np.abs(quiet) > 1e-3)[:100]
    ratio = raised[k] / quiet[k]
    assert np.allclose(ratio, ratio[0], rtol=1e-4)
    jfk = decode(shared_data / "jfk.wav")
    assert np.array_equal(preprocess(jfk), jfk.astype(np.float32))


@pytest.mark.parametrize("mode", [m for m in MODES if m != "none"])
def test_filters_keep_length_and_change_the_sound(shared_data: Path, mode: str) -> None:
    audio = decode(shared_data / "ami_dev01.wav")[: 16_000 * 8]
    out = preprocess(audio, mode)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and np.max(np.abs(out)) <= 1.0
    assert not np.allclose(out, preprocess(audio, "none"), atol=1e-3)


def test_bass_boost_raises_low_frequencies() -> None:
    t = np.arange(16_000 * 2) / 16_000
    low, high = 0.05 * np.sin(2 * np.pi * 100 * t), 0.05 * np.sin(2 * np.pi * 3000 * t)
    out_low = ffmpeg_filter(low.astype(np.float32), [("bass", "g=6:f=150")])
    out_high = ffmpeg_filter(high.astype(np.float32), [("bass", "g=6:f=150")])
    gain_low = np.std(out_low[4000:]) / np.std(low[4000:])
    gain_high = np.std(out_high[4000:]) / np.std(high[4000:])
    assert gain_low > 1.5 and 0.8 < gain_high < 1.2


def test_unknown_mode_and_empty_audio() -> None:
    with pytest.raises(ValueError, match="preprocessing"):
        preprocess(np.zeros(100, dtype=np.float32), "loud")
    assert preprocess(np.zeros(0, dtype=np.float32), "dynamic").size == 0
