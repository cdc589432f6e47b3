"""Third-party clients work against the embedded server unchanged (OpenAI and Fireworks SDKs)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jiwer
import pytest

from fw_asr_widgets.local import models
from tests.conftest import JFK_REFERENCE


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower())).strip()


def test_openai_sdk_transcription(local_server: Any, data_dir: Path) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="not-needed", base_url=local_server.url + "/v1", max_retries=0)
    with (data_dir / "jfk.wav").open("rb") as f:
        result = client.audio.transcriptions.create(
            model="whisper-v3",
            file=f,
            language="en",
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert jiwer.wer(norm(JFK_REFERENCE), norm(result.text)) <= 0.15
    assert result.words and result.segments
    assert result.words[0].start <= result.words[-1].end <= 11.1
    # Errors come back as the SDK's typed errors with our message.
    with (data_dir / "jfk.wav").open("rb") as f, pytest.raises(openai.NotFoundError) as info:
        client.audio.transcriptions.create(model="nope", file=f)
    assert "whisper-v3" in str(info.value)


@pytest.mark.skipif(not models.multilingual_available(), reason="needs the multilingual extra")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_openai_sdk_translation_french(local_server: Any, shared_data: Path) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="not-needed", base_url=local_server.url + "/v1", max_retries=0)
    with (shared_data / "french.aiff").open("rb") as f:
        result = client.audio.translations.create(
            model="whisper-v3", file=f, response_format="verbose_json"
        )
    assert result.language == "fr"  # the detected source language
    assert (result.model_extra or {}).get("task") == "translate"
    assert result.segments and result.segments[0].text
    text = norm(result.text)
    # Reference: "and this is dictation number one" (Whisper base says e.g. "... number 1").
    assert "dictation" in text and ("number" in text or "1" in text)
    assert not re.search(r"\b(c'est|la|dictée|numéro)\b", text)


def test_fireworks_sdk_transcribe(local_server: Any, data_dir: Path) -> None:
    audio_mod = pytest.importorskip("fireworks.client.audio")
    client = audio_mod.AudioInference(
        model="whisper-v3", base_url=local_server.url, api_key="not-needed"
    )
    # The SDK's defaults (vad_model=silero, alignment_model=tdnn_ffn, diarization_model=pyannote)
    # are all sent as form fields and must be accepted.
    result = client.transcribe(
        audio=str(data_dir / "jfk.wav"),
        language="en",
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        temperature=[0.0, 0.2],
        skip_vad=False,
    )
    assert jiwer.wer(norm(JFK_REFERENCE), norm(result.text)) <= 0.15
    assert result.task == "transcribe" and result.language == "en"
    assert result.words and result.segments and result.segments[0].tokens
    plain = client.transcribe(audio=(data_dir / "jfk.wav").read_bytes())
    assert "ask not" in norm(plain.text)


def test_fireworks_sdk_align(local_server: Any, data_dir: Path) -> None:
    audio_mod = pytest.importorskip("fireworks.client.audio")
    client = audio_mod.AudioInference(base_url=local_server.url, api_key="not-needed")
    result = client.align(audio=str(data_dir / "jfk.wav"), text=JFK_REFERENCE)
    assert result.text == JFK_REFERENCE
    words = result.words or []
    assert [w.word for w in words] == JFK_REFERENCE.split()
    starts = [w.start for w in words]
    assert starts == sorted(starts) and starts[0] >= 0.0 and words[-1].end <= 11.1
    # "country." is the last word: it ends in the last second of the clip.
    assert words[-1].end > 9.5
    # "ask" (the second time) starts about 8.3 s in (±0.6 s).
    second_ask = [w for w in words if w.word.lower().startswith("ask")][1]
    assert abs(second_ask.start - 8.3) < 0.6
