"""Field validation and Fireworks-SDK-style encoding of the pre-recorded request fields."""

from __future__ import annotations

import pytest

from fw_asr_widgets.api import _params


def tf(**kw: object) -> tuple[dict[str, str], str]:
    kw.setdefault("model", "whisper-v3")
    fields, fmt = _params.transcription_fields(**kw)  # type: ignore[arg-type]
    names = [k for k, _ in fields]
    assert len(names) == len(set(names)), "a field was sent twice"
    return dict(fields), fmt


def test_defaults_send_model_format_and_word_segment_granularities() -> None:
    # The API's own default granularity is `segment` (no words): the kit asks for both.
    fields, fmt = tf()
    assert fields == {
        "model": "whisper-v3",
        "response_format": "verbose_json",
        "timestamp_granularities": "word,segment",
    }
    assert fmt == "verbose_json"
    tl, _ = _params.translation_fields(model="whisper-v3")
    assert dict(tl)["timestamp_granularities"] == "word,segment"
    # explicit choices win; formats other than verbose_json carry no granularities
    assert tf(timestamp_granularities=["segment"])[0]["timestamp_granularities"] == "segment"
    for other in ("json", "text", "srt", "vtt"):
        fields, fmt = tf(response_format=other)
        assert "timestamp_granularities" not in fields and fmt == other


def test_encoding_matches_the_fireworks_sdk() -> None:
    fields, fmt = tf(
        language="EN",
        prompt="Kennedy",
        temperature=[0.0, 0.2],
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        vad_model="whisperx-pyannet",
        alignment_model="mms_fa",
        preprocessing="soft_dynamic",
        skip_vad=True,
        max_clip_len=30,
        extra_fields={"custom": ["a", "b"], "flag": False},
    )
    assert fmt == "verbose_json"
    assert fields == {
        "model": "whisper-v3",
        "language": "en",
        "prompt": "Kennedy",
        "temperature": "0.0,0.2",
        "response_format": "verbose_json",
        "timestamp_granularities": "word,segment",
        "vad_model": "whisperx-pyannet",
        "alignment_model": "mms_fa",
        "preprocessing": "soft_dynamic",
        "skip_vad": "true",
        "max_clip_len": "30.0",
        "custom": "a,b",
        "flag": "false",
    }


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("response_format", "xml", "json, text, srt, verbose_json, vtt"),
        ("vad_model", "webrtc", "silero, whisperx-pyannet"),
        ("alignment_model", "mfa", "tdnn_ffn, mms_fa, gentle"),
        ("preprocessing", "loud", "none, dynamic, soft_dynamic, bass_dynamic"),
        ("timestamp_granularities", ["char"], "word, segment"),
    ],
)
def test_bad_enum_names_allowed_values(field: str, value: object, allowed: str) -> None:
    with pytest.raises(ValueError) as info:
        tf(**{field: value})
    assert field in str(info.value)
    assert allowed in str(info.value)


def test_diarize_upgrades_unset_formats() -> None:
    fields, fmt = tf(diarize=True, min_speakers=1, max_speakers=3)
    assert fmt == "verbose_json"
    assert fields["response_format"] == "verbose_json"
    assert fields["timestamp_granularities"] == "word,segment"
    assert (fields["diarize"], fields["min_speakers"], fields["max_speakers"]) == ("true", "1", "3")


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"diarize": True, "response_format": "json"}, "verbose_json"),
        ({"diarize": True, "response_format": "text"}, "verbose_json"),
        ({"diarize": True, "timestamp_granularities": ["segment"]}, "'word'"),
        ({"min_speakers": 2}, "diarize=True"),
        ({"max_speakers": 2, "diarize": False}, "diarize=True"),
        ({"diarize": True, "min_speakers": 3, "max_speakers": 2}, "must not exceed"),
        ({"diarize": True, "min_speakers": 0}, "positive integer"),
        ({"diarize": "yes"}, "True or False"),
        ({"timestamp_granularities": ["word"], "response_format": "json"}, "verbose_json"),
        ({"temperature": 1.5}, "[0, 1]"),
        ({"temperature": [0.0, -0.1]}, "[0, 1]"),
        ({"temperature": []}, "non-empty"),
        ({"temperature": "0.2"}, "[0, 1]"),
        ({"language": "english"}, "2-3 letter"),
        ({"language": "e1"}, "2-3 letter"),
        ({"max_clip_len": 0}, "positive"),
        ({"model": ""}, "model"),
        ({"model": "whisper v3"}, "model"),
        ({"prompt": 3}, "prompt"),
        ({"extra_fields": {"model": "x"}}, "keyword argument"),
        ({"extra_fields": {"file": "x"}}, "keyword argument"),
        ({"extra_fields": {"obj": object()}}, "extra_fields"),
    ],
)
def test_invalid_combinations_raise(kw: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError) as info:
        tf(**kw)
    assert needle in str(info.value)


def test_granularities_alone_select_verbose_json() -> None:
    fields, fmt = tf(timestamp_granularities="word")
    assert fmt == "verbose_json"
    assert fields["timestamp_granularities"] == "word"


def test_granularity_string_forms_are_normalised() -> None:
    assert _params.validate_granularities("word, segment,word") == ["word", "segment"]
    assert _params.validate_granularities(("segment",)) == ["segment"]


def test_single_temperature_and_three_letter_language() -> None:
    fields, _ = tf(temperature=0, language="haw")
    assert fields["temperature"] == "0.0"
    assert fields["language"] == "haw"


def test_translation_has_no_diarization_and_sends_language() -> None:
    fields, fmt = _params.translation_fields(model="whisper-v3", language="fr")
    assert dict(fields) == {
        "model": "whisper-v3",
        "language": "fr",
        "response_format": "verbose_json",
        "timestamp_granularities": "word,segment",
    }
    assert fmt == "verbose_json"
    with pytest.raises(TypeError):
        _params.translation_fields(model="whisper-v3", diarize=True)  # type: ignore[call-arg]


def test_alignment_fields() -> None:
    fields, fmt = _params.alignment_fields(text="ask not", model="whisper-v3")
    assert dict(fields) == {"text": "ask not", "response_format": "verbose_json"}
    assert fmt == "verbose_json"
    with pytest.raises(ValueError, match="srt, verbose_json, vtt"):
        _params.alignment_fields(text="x", response_format="json")
    with pytest.raises(ValueError, match="non-empty"):
        _params.alignment_fields(text="  ")
