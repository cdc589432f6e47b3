"""Non-English audio on an English-only install, and the hallucination guard, over real
loopback HTTP with the real models. `FW_ASR_MULTILINGUAL=0` simulates the basic install
(`local` extra only) without uninstalling anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.local import models

TRANSCRIBE = "/v1/audio/transcriptions"


@pytest.fixture(scope="module")
def url(local_server: Any) -> str:
    return str(local_server.url)


@pytest.fixture
def english_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.MULTILINGUAL_ENV, "0")
    assert not models.multilingual_available()


def _post(url: str, path: Path, **data: Any) -> httpx.Response:
    return httpx.post(
        url + TRANSCRIBE,
        files={"file": (path.name, path.read_bytes())},
        data={"response_format": "verbose_json", **data},
        timeout=120,
    )


@pytest.mark.parametrize("name", ["french.aiff", "chinese.flac"])
def test_non_english_on_english_only_install_is_refused_with_the_fix(
    url: str, shared_data: Path, english_only: None, name: str
) -> None:
    r = _post(url, shared_data / name)
    assert r.status_code == 400, r.text[:300]
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error"
    msg = err["message"]
    assert "does not sound like English" in msg and len(msg) < 300
    assert 'pip install "fw-asr-widgets[local,multilingual]"' in msg
    assert 'language="en"' in msg
    # the client raises the typed error with the same sentence
    with fw.Client(base_url=url) as client, pytest.raises(fw.BadRequestError) as info:
        client.transcribe(shared_data / name)
    assert "fw-asr-widgets[local,multilingual]" in str(info.value)


def test_english_on_english_only_install_is_served(
    url: str, data_dir: Path, english_only: None
) -> None:
    for name in ("jfk.wav", "english.wav", "two_speakers.wav"):
        r = _post(url, data_dir / name)
        assert r.status_code == 200, (name, r.text[:300])
        assert r.headers["x-fw-asr-local-model"] == "tiny.en"


def test_quiet_english_meeting_on_english_only_install_is_served(
    url: str, shared_data: Path, english_only: None
) -> None:
    # ami_trn01's only words come from the second decode of speech Whisper's gate skipped;
    # those unsure guesses are flagged, and must not make the guard refuse English audio.
    r = _post(url, shared_data / "ami_trn01.wav", timestamp_granularities="word,segment")
    assert r.status_code == 200, r.text[:300]
    words = r.json()["words"]
    assert words and all(18.0 <= w["start"] <= w["end"] <= 20.0 for w in words)


def test_forced_english_on_french_is_served_and_flagged_as_hallucination(
    url: str, shared_data: Path, english_only: None
) -> None:
    # language="en" is the user's word that the audio is English: no refusal, but the
    # looping output is flagged in the response and in the DataFrame.
    r = _post(
        url, shared_data / "french.aiff", language="en", timestamp_granularities="word,segment"
    )
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["words"] and all(w["hallucination_score"] == 1.0 for w in body["words"])
    tr = fw.Transcript.from_response(body)
    df = tr.to_pandas()
    assert df["hallucination"].all()
    assert tr.to_pandas("utterance")["hallucination"].all()


def test_english_is_not_flagged(url: str, data_dir: Path) -> None:
    r = _post(url, data_dir / "jfk.wav", language="en", timestamp_granularities="word,segment")
    body = r.json()
    # Not flagged (1.0); below that the score is Whisper's no-speech estimate, low on speech.
    assert all(0.0 <= w["hallucination_score"] < 0.5 for w in body["words"])
    assert not fw.Transcript.from_response(body).to_pandas()["hallucination"].any()


# Whisper writes Mandarin in either script, and which one flips with small changes of the
# input (gain staging raises this quiet clip by ~14 dB): "foot" is 脚 or 腳, both right.
@pytest.mark.parametrize(
    ("name", "language", "expect"),
    [("french.aiff", "fr", ("dictée",)), ("chinese.flac", "zh", ("脚", "腳"))],
)
def test_with_the_multilingual_model_the_language_is_detected_and_transcribed(
    url: str, shared_data: Path, name: str, language: str, expect: tuple[str, ...]
) -> None:
    if not models.multilingual_available():
        pytest.skip("needs the multilingual extra")
    r = _post(url, shared_data / name)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["language"] == language, body["language"]
    assert any(e in body["text"] for e in expect), body["text"]
    assert r.headers["x-fw-asr-local-model"] == models.MULTILINGUAL


def _seg(text: str, probs: list[float], avg_logprob: float) -> dict[str, Any]:
    words = [{"word": w, "probability": p} for w, p in zip(text.split(), probs, strict=True)]
    return {"text": text, "start": 0.0, "end": 2.0, "avg_logprob": avg_logprob, "words": words}


def test_guard_rules_on_decoded_segments() -> None:
    from fw_asr_widgets.local import _guard

    def reason(*segs: dict[str, Any]) -> str | None:
        seg_list = list(segs)
        return _guard.not_english_reason(seg_list, _guard.flag_segments(seg_list))

    # a lone stock phrase on near-silence, or one unsure word, is no evidence
    assert reason(_seg("Thank you.", [0.4, 0.3], -0.9)) is None
    assert reason(_seg("Hmm", [0.2], -1.2)) is None
    # stock filler throughout, or every word unsure: refused
    filler = "Thanks for watching and please subscribe, see you next time."
    assert "stock" in (reason(_seg(filler, [0.9] * 10, -0.2)) or "")
    assert "unsure" in (
        reason(_seg("That's it, good y'all.", [0.5, 0.47, 0.37, 0.14], -0.78)) or ""
    )
    # confident English is served
    assert reason(_seg("ask not what your country can do", [0.9] * 7, -0.3)) is None
