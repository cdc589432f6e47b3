"""The embedded server over real loopback HTTP with the real tiny.en model (session server)."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path
from typing import Any

import httpx
import jiwer
import numpy as np
import pytest

from tests.conftest import JFK_REFERENCE

TRANSCRIBE = "/v1/audio/transcriptions"


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower())).strip()


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples).astype("<i2").tobytes())
    return buf.getvalue()


def assert_error(r: httpx.Response, status: int, type_: str, *needles: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["object"] == "error"
    assert err["type"] == type_
    assert isinstance(err["message"], str) and err["message"]
    for n in needles:
        assert n in err["message"], err["message"]
    return err


@pytest.fixture(scope="module")
def url(local_server: Any) -> str:
    return str(local_server.url)


@pytest.fixture(scope="module")
def jfk(data_dir: Path) -> bytes:
    return (data_dir / "jfk.wav").read_bytes()


@pytest.fixture(scope="module")
def jfk_verbose(url: str, jfk: bytes) -> httpx.Response:
    """One verbose_json request with word and segment timestamps, shared by several tests."""
    return httpx.post(
        url + TRANSCRIBE,
        files={"file": ("jfk.wav", jfk, "audio/wav")},
        data={
            "model": "whisper-v3",
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
            "language": "en",
        },
        timeout=120,
    )


def test_health_and_openapi(url: str) -> None:
    h = httpx.get(url + "/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    spec = httpx.get(url + "/openapi.json").json()
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert "file" in body["schema"]["properties"]
        assert body["schema"]["properties"]["response_format"]["enum"] == [
            "json",
            "text",
            "srt",
            "verbose_json",
            "vtt",
        ]


def test_jfk_verbose_json_words_and_segments(jfk_verbose: httpx.Response) -> None:
    r = jfk_verbose
    assert r.status_code == 200, r.text
    assert r.headers["x-fw-asr-local-model"] == "tiny.en"
    body = r.json()
    assert body["task"] == "transcribe" and body["language"] == "en"
    assert body["duration"] == pytest.approx(11.0, abs=0.05)
    assert jiwer.wer(norm(JFK_REFERENCE), norm(body["text"])) <= 0.15
    words = body["words"]
    assert len(words) >= 15
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    for w in words:
        assert set(w) >= {"word", "start", "end", "language", "probability", "speaker_id"}
        assert 0.0 <= w["start"] <= w["end"] <= body["duration"] + 0.01
        assert w["word"] == w["word"].strip() and w["word"]
        assert w["speaker_id"] is None and w["language"] == "en"
    segs = body["segments"]
    assert [s["id"] for s in segs] == list(range(len(segs)))
    for s in segs:
        for key in (
            "seek",
            "audio_start",
            "audio_end",
            "tokens",
            "temperature",
            "avg_logprob",
            "compression_ratio",
            "no_speech_prob",
            "no_speech",
            "retry_count",
            "speaker_id",
        ):
            assert key in s
        assert isinstance(s["id"], int) and isinstance(s["seek"], int)
        assert all(isinstance(t, int) for t in s["tokens"])
        assert s["words"] and s["start"] <= s["words"][0]["start"]
    assert " ".join(s["text"] for s in segs) == body["text"]


def test_response_formats(url: str, jfk: bytes) -> None:
    # The first 4.5 s of jfk.wav ("And so my fellow Americans"): cheap to decode six times.
    with wave.open(io.BytesIO(jfk)) as w:
        clip = wav_bytes(np.frombuffer(w.readframes(int(16_000 * 4.5)), dtype="<i2"))

    def post(fmt: str, **extra: Any) -> httpx.Response:
        data = {"response_format": fmt, "language": "en", **extra}
        r = httpx.post(url + TRANSCRIBE, files={"file": ("jfk.wav", clip)}, data=data, timeout=120)
        assert r.status_code == 200, r.text
        return r

    j = post("json").json()
    assert list(j) == ["text"] and "fellow americans" in norm(j["text"])
    t = post("text")
    assert t.headers["content-type"].startswith("text/plain")
    assert norm(t.text) == norm(j["text"])
    srt = post("srt").text
    assert re.match(r"1\n00:00:0\d,\d{3} --> 00:00:\d\d,\d{3}\n\S", srt)
    vtt = post("vtt").text
    assert vtt.startswith("WEBVTT\n") and re.search(r"00:00:\d\d\.\d{3} --> ", vtt)
    # Segment granularity only (the default): no words anywhere.
    v = post("verbose_json", timestamp_granularities="segment").json()
    assert "words" not in v and v["segments"] and "words" not in v["segments"][0]
    # Word only, comma-separated form of the Fireworks SDK also accepted.
    w = post("verbose_json", timestamp_granularities="word").json()
    assert "segments" not in w and w["words"]


BAD_FIELDS = [
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": "0.2,x"}, "temperature"),
    ({"temperature": "7"}, "between 0 and 1"),
    ({"response_format": "xml"}, "json, text, srt, verbose_json, vtt"),
    ({"vad_model": "webrtc"}, "silero"),
    ({"alignment_model": "x"}, "tdnn_ffn"),
    ({"preprocessing": "loud"}, "soft_dynamic"),
    ({"language": "klingon"}, "ISO 639-1"),
    ({"skip_vad": "maybe"}, "true"),
    ({"response_format": "verbose_json", "timestamp_granularities": "phoneme"}, "word, segment"),
    ({"timestamp_granularities": "word"}, "verbose_json"),
    ({"diarize": "true"}, "timestamp_granularities including 'word'"),
    (
        {
            "diarize": "true",
            "response_format": "verbose_json",
            "timestamp_granularities": "segment",
        },
        "'word'",
    ),
    ({"min_speakers": "2"}, "diarize=true"),
    (
        {
            "diarize": "true",
            "response_format": "verbose_json",
            "timestamp_granularities": "word",
            "min_speakers": "two",
        },
        "integer",
    ),
    ({"max_clip_len": "long"}, "max_clip_len"),
]


@pytest.mark.parametrize(("data", "needle"), BAD_FIELDS)
def test_bad_fields_are_400(url: str, data: dict[str, str], needle: str) -> None:
    # The file is never decoded: validation happens first, so these are cheap.
    r = httpx.post(url + TRANSCRIBE, files={"file": ("a.wav", b"RIFF....")}, data=data)
    assert_error(r, 400, "invalid_request_error", needle)


def test_unknown_model_is_404_listing_models(url: str) -> None:
    r = httpx.post(url + TRANSCRIBE, files={"file": ("a.wav", b"x")}, data={"model": "gpt-9"})
    assert_error(r, 404, "not_found_error", "'gpt-9'", "whisper-v3", "whisper-v3-turbo")


def test_bad_audio_each_400_and_server_keeps_serving(url: str, jfk: bytes) -> None:
    rng = np.random.default_rng(7)
    cases = {
        "empty.wav": (b"", "empty"),
        "header_only.wav": (jfk[:44], "could not decode"),
        "random.mp3": (rng.bytes(20_000), "could not decode"),
        "text.wav": (b"hello, I am not audio" * 50, "could not decode"),
    }
    for name, (content, needle) in cases.items():
        r = httpx.post(url + TRANSCRIBE, files={"file": (name, content)}, timeout=60)
        err = assert_error(r, 400, "invalid_request_error", needle)
        assert "Errno" not in err["message"] and "/tmp" not in err["message"]
        assert httpx.get(url + "/health").status_code == 200
    # A valid 0-second WAV and a truncated (but decodable) WAV are empty transcripts.
    for content in (wav_bytes(np.zeros(0)), jfk[:2000]):
        r = httpx.post(url + TRANSCRIBE, files={"file": ("z.wav", content)}, timeout=60)
        assert r.status_code == 200 and r.json() == {"text": ""}


def test_malformed_multipart_and_wrong_content_type(url: str) -> None:
    bad_bodies = [
        (b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a', "xx"),
        (b"garbage without boundaries", "yy"),
    ]
    for body, boundary in bad_bodies:
        r = httpx.post(
            url + TRANSCRIBE,
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert_error(r, 400, "invalid_request_error")
    r = httpx.post(url + TRANSCRIBE, content=b"x", headers={"content-type": "multipart/form-data"})
    assert_error(r, 400, "invalid_request_error")
    r = httpx.post(url + TRANSCRIBE, json={"file": "x"})
    assert_error(r, 400, "invalid_request_error", "multipart/form-data")
    r = httpx.post(url + TRANSCRIBE, files={"audio": ("a.wav", b"x")})
    assert_error(r, 400, "invalid_request_error", "'file'")
    assert httpx.get(url + "/health").status_code == 200


def test_url_instead_of_file_is_refused_offline(url: str) -> None:
    r = httpx.post(url + TRANSCRIBE, data={"file": "https://example.com/a.mp3"})
    assert_error(r, 400, "invalid_request_error", "does not fetch URLs")
    # The Fireworks SDK sends a URL as the content of the file part.
    r = httpx.post(url + TRANSCRIBE, files={"file": ("upload", b"https://example.com/a.mp3")})
    assert_error(r, 400, "invalid_request_error", "does not fetch URLs")


def test_unknown_path_and_method(url: str) -> None:
    assert_error(httpx.get(url + "/v1/nope"), 404, "not_found_error")
    assert_error(httpx.get(url + TRANSCRIBE), 405, "invalid_request_error")
    r = httpx.post(url + "/v1/audio/alignments", files={"file": ("a.wav", b"x")})
    assert_error(r, 400, "invalid_request_error", "'text'")
    r = httpx.post(
        url + "/v1/audio/alignments",
        files={"file": ("a.wav", b"x")},
        data={"text": "hi", "response_format": "text"},
    )
    assert_error(r, 400, "invalid_request_error", "json, verbose_json, srt, vtt")


def test_twenty_minutes_of_silence_is_empty(url: str, tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    path.write_bytes(wav_bytes(np.zeros(16_000 * 60 * 20, dtype=np.int16)))
    with path.open("rb") as f:
        r = httpx.post(
            url + TRANSCRIBE,
            files={"file": ("silence.wav", f)},
            data={"response_format": "verbose_json"},
            timeout=120,
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "" and body["segments"] == []
    assert body["duration"] == pytest.approx(1200.0, abs=0.01)


def test_low_noise_is_not_speech(url: str) -> None:
    noise = np.random.default_rng(3).standard_normal(16_000 * 6) * 20
    r = httpx.post(url + TRANSCRIBE, files={"file": ("n.wav", wav_bytes(noise))}, timeout=120)
    assert r.status_code == 200 and r.json()["text"] == ""


def test_diarization_labels_words_and_segments(url: str, data_dir: Path) -> None:
    audio = (data_dir / "two_speakers.wav").read_bytes()
    r = httpx.post(
        url + TRANSCRIBE,
        files={"file": ("two_speakers.wav", audio)},
        data={
            "diarize": "true",
            "response_format": "verbose_json",
            "timestamp_granularities": "word,segment",
            "language": "en",
            "min_speakers": "1",
            "max_speakers": "4",
        },
        timeout=300,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "new jersey" in norm(body["text"]) and "chicago" in norm(body["text"])
    speakers = {w["speaker_id"] for w in body["words"]}
    assert len(speakers) >= 2 and all(re.fullmatch(r"SPEAKER_\d\d", s) for s in speakers)
    assert [s["id"] for s in body["segments"]] == list(range(len(body["segments"])))
    for seg in body["segments"]:
        assert seg["speaker_id"] in speakers
        assert {w["speaker_id"] for w in seg["words"]} == {seg["speaker_id"]}
    # Speech starts at 6.7 s (README): nothing is heard in the leading silence.
    assert body["words"][0]["start"] > 5.5


def _silent_flac(path: Path, seconds: int) -> None:
    """Write `seconds` of digital silence as 16 kHz mono FLAC (tiny on disk)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=16_000)
        stream.layout = "mono"
        minute = np.zeros((1, 16_000 * 60), dtype=np.int16)
        for i in range(seconds // 60):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate = 16_000
            frame.pts = i * minute.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.slow
def test_three_hours_of_silence_is_empty_in_flat_memory(url: str, tmp_path: Path) -> None:
    """The issue's case: 3 h of silence -> empty transcript; the server (this process) stays
    within a few hundred MB instead of holding 3 h of float32 audio (690 MB) at once."""
    import resource

    path = tmp_path / "silence_3h.flac"
    _silent_flac(path, 3 * 3600)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux)
    with path.open("rb") as f:
        r = httpx.post(
            url + TRANSCRIBE,
            files={"file": ("silence_3h.flac", f, "audio/flac")},
            data={"response_format": "verbose_json", "timestamp_granularities": "word,segment"},
            timeout=300,
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "" and body["words"] == [] and body["segments"] == []
    assert body["duration"] == pytest.approx(10_800.0, abs=0.1)
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_after - peak_before < 400


def test_without_multilingual_model_other_languages_are_400_with_hint(
    url: str, jfk: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fw_asr_widgets.local import models

    monkeypatch.setattr(models, "multilingual_available", lambda: False)
    for path, data in (
        ("/v1/audio/translations", {}),
        (TRANSCRIBE, {"language": "de"}),
    ):
        r = httpx.post(url + path, files={"file": ("jfk.wav", jfk)}, data=data, timeout=60)
        assert_error(r, 400, "invalid_request_error", models.INSTALL_MULTILINGUAL)
    # English still works, and language=None means English with tiny.en only.
    r = httpx.post(url + TRANSCRIBE, files={"file": ("jfk.wav", jfk)}, timeout=60)
    assert r.status_code == 200 and r.headers["x-fw-asr-local-model"] == "tiny.en"


def test_french_transcription_uses_the_multilingual_model(url: str, shared_data: Path) -> None:
    from fw_asr_widgets.local import models

    if not models.multilingual_available():
        pytest.skip("needs the multilingual extra")
    audio = (shared_data / "french.aiff").read_bytes()
    r = httpx.post(
        url + TRANSCRIBE,
        files={"file": ("french.aiff", audio)},
        data={"response_format": "verbose_json"},  # language detected
        timeout=120,
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-fw-asr-local-model"] == "base"
    body = r.json()
    assert body["language"] == "fr"
    assert jiwer.wer("et c'est la dictée numéro 1", body["text"].lower().rstrip(".")) <= 0.4
