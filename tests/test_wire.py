"""One place for each wire fact: the client, the engine and its OpenAPI schema agree."""

from __future__ import annotations

import typing

import pytest

from fw_asr_widgets import _wire
from fw_asr_widgets.api import _params


@pytest.mark.parametrize(
    ("literal", "values"),
    [
        (_params.ResponseFormat, _wire.RESPONSE_FORMATS),
        (_params.AlignResponseFormat, _wire.ALIGN_RESPONSE_FORMATS),
        (_params.Granularity, _wire.GRANULARITIES),
        (_params.VadModel, _wire.VAD_MODELS),
        (_params.AlignmentModel, _wire.ALIGNMENT_MODELS),
        (_params.Preprocessing, _wire.PREPROCESSING),
    ],
)
def test_client_literal_types_spell_the_wire_values(literal: object, values: tuple) -> None:
    assert typing.get_args(literal) == values


def test_whisper_languages_match_faster_whisper() -> None:
    tokenizer = pytest.importorskip("faster_whisper.tokenizer")
    assert tuple(tokenizer._LANGUAGE_CODES) == _wire.WHISPER_LANGUAGES


def test_engine_schema_is_generated_from_the_wire_values() -> None:
    pytest.importorskip("fastapi")
    from fw_asr_widgets.local.server import create_app

    spec = create_app().openapi()

    def props(path: str) -> dict:
        body = spec["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        return body["schema"]["properties"]

    tr = props("/v1/audio/transcriptions")
    assert tr["response_format"]["enum"] == list(_wire.RESPONSE_FORMATS)
    assert tr["vad_model"]["enum"] == list(_wire.VAD_MODELS)
    assert tr["alignment_model"]["enum"] == list(_wire.ALIGNMENT_MODELS)
    assert tr["preprocessing"]["enum"] == list(_wire.PREPROCESSING)
    assert tr["model"]["enum"] == list(_wire.FILE_MODELS)
    assert {"diarize", "min_speakers", "max_speakers"} <= set(tr)
    tl = props("/v1/audio/translations")
    assert "diarize" not in tl and tl["response_format"] == tr["response_format"]
    al = props("/v1/audio/alignments")
    assert al["response_format"]["enum"] == list(_wire.ENGINE_ALIGN_RESPONSE_FORMATS)
    assert set(_wire.ALIGN_RESPONSE_FORMATS) < set(_wire.ENGINE_ALIGN_RESPONSE_FORMATS)
    schema = spec["paths"]["/v1/audio/alignments"]["post"]["requestBody"]["content"]
    assert schema["multipart/form-data"]["schema"]["required"] == ["file", "text"]


def test_error_body_shape() -> None:
    assert _wire.error_body("nope", "not_found_error") == {
        "error": {"object": "error", "type": "not_found_error", "message": "nope"}
    }


def test_every_reference_language_is_handled_by_the_engine() -> None:
    pytest.importorskip("fastapi")
    from fw_asr_widgets.local.server import forms

    for code in _wire.REFERENCE_EXTRA_LANGUAGES:
        assert code in forms.LANGUAGE_ALIASES or code in forms.UNAVAILABLE_LANGUAGES
