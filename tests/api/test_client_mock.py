"""Client behaviour a local server cannot produce, over `httpx.MockTransport`.

Cloud-only fields (diarized words), proxy HTML pages, truncated JSON, the various error body
shapes, per-model Fireworks routing, and checks that nothing is sent for bad input.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import io
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.api import FileTooLargeError

KEY = "fw-test-key-0123456789abcdef"


class Server:
    """A MockTransport handler that records requests and parses their multipart bodies."""

    def __init__(self, response: httpx.Response | None = None) -> None:
        self.response = response or httpx.Response(200, json={"text": "hello"})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    def fields(self, i: int = -1) -> dict[str, Any]:
        req = self.requests[i]
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {req.headers['content-type']}\r\n\r\n".encode() + req.content
        )
        out: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True) or b""
            out[name] = payload if part.get_filename() else payload.decode()
        return out


def make(server: Server, **kw: Any) -> fw.Client:
    kw.setdefault("base_url", "http://mock.test")
    kw.setdefault("max_retries", 0)
    return fw.Client(http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)), **kw)


@pytest.fixture
def jfk(data_dir: Path) -> Path:
    return data_dir / "jfk.wav"


DIARIZED = {
    "task": "transcribe",
    "language": "en",
    "duration": 4.2,
    "text": "Hello there. Hi.",
    "words": [
        {
            "word": "Hello",
            "start": 0.1,
            "end": 0.5,
            "language": "en",
            "probability": 0.9,
            "speaker_id": "SPEAKER_00",
        },
        {
            "word": "there.",
            "start": 0.5,
            "end": 0.9,
            "language": "en",
            "probability": 0.8,
            "speaker_id": "SPEAKER_00",
        },
        {
            "word": "Hi.",
            "start": 2.0,
            "end": 2.3,
            "language": "en",
            "probability": 0.95,
            "speaker_id": "SPEAKER_01",
        },
    ],
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.1,
            "end": 0.9,
            "text": " Hello there.",
            "tokens": [1, 2],
            "avg_logprob": -0.2,
            "compression_ratio": 1.1,
            "no_speech_prob": 0.01,
            "speaker_id": "SPEAKER_00",
        },
        {
            "id": 1,
            "seek": 0,
            "start": 2.0,
            "end": 2.3,
            "text": " Hi.",
            "tokens": [3],
            "avg_logprob": -0.3,
            "compression_ratio": 1.0,
            "no_speech_prob": 0.02,
            "speaker_id": "SPEAKER_01",
        },
    ],
}


def test_diarized_verbose_json_is_parsed(jfk: Path) -> None:
    server = Server(httpx.Response(200, json=DIARIZED))
    tr = make(server).transcribe(jfk, diarize=True, min_speakers=2, max_speakers=2)
    assert isinstance(tr, fw.Transcript)
    assert [w.speaker for w in tr.words] == ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01"]
    assert [s.speaker for s in tr.segments] == ["SPEAKER_00", "SPEAKER_01"]
    assert list(tr.speakers) == ["SPEAKER_00", "SPEAKER_01"]
    assert tr.segments[0].avg_logprob == -0.2 and tr.words[2].probability == 0.95
    assert tr.duration == 4.2 and tr.language == "en"
    assert tr.raw == DIARIZED
    assert tr.source == str(jfk)
    sent = server.fields()
    assert sent["diarize"] == "true"
    assert sent["response_format"] == "verbose_json"
    assert sent["timestamp_granularities"] == "word,segment"
    assert (sent["min_speakers"], sent["max_speakers"]) == ("2", "2")
    assert sent["file"] == jfk.read_bytes()


def test_every_field_reaches_the_wire(jfk: Path) -> None:
    server = Server(httpx.Response(200, text="hi", headers={"content-type": "text/plain"}))
    out = make(server).translate(
        jfk,
        model="whisper-v3-turbo",
        language="fr",
        prompt="p",
        temperature=[0, 0.4],
        response_format="text",
        vad_model="silero",
        alignment_model="tdnn_ffn",
        preprocessing="dynamic",
        skip_vad=False,
        max_clip_len=12.5,
    )
    assert out == "hi"
    req = server.requests[0]
    assert req.url.path == "/v1/audio/translations"
    assert int(req.headers["content-length"]) == len(req.content)
    sent = server.fields()
    sent.pop("file")
    assert sent == {
        "model": "whisper-v3-turbo",
        "language": "fr",
        "prompt": "p",
        "temperature": "0.0,0.4",
        "response_format": "text",
        "vad_model": "silero",
        "alignment_model": "tdnn_ffn",
        "preprocessing": "dynamic",
        "skip_vad": "false",
        "max_clip_len": "12.5",
    }


def test_url_is_sent_as_a_string_field() -> None:
    server = Server()
    make(server).transcribe("https://example.com/talk.mp3")
    assert server.fields()["file"] == "https://example.com/talk.mp3"


@pytest.mark.parametrize(
    ("model", "host"),
    [
        ("whisper-v3", "audio-prod.us-virginia-1.direct.fireworks.ai"),
        ("whisper-v3-turbo", "audio-turbo.us-virginia-1.direct.fireworks.ai"),
    ],
)
def test_key_without_base_url_routes_per_model(jfk: Path, model: str, host: str) -> None:
    server = Server()
    make(server, api_key=KEY, base_url=None).transcribe(jfk, model=model)
    req = server.requests[0]
    assert req.url.host == host and req.url.path == "/v1/audio/transcriptions"
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_base_url_with_v1_suffix_is_accepted(jfk: Path) -> None:
    server = Server()
    make(server, base_url="http://mock.test/v1/").transcribe(jfk)
    assert str(server.requests[0].url) == "http://mock.test/v1/audio/transcriptions"


def test_env_key_is_used(jfk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
    server = Server()
    make(server).transcribe(jfk)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    "kw",
    [
        {"response_format": "xml"},
        {"vad_model": "nope"},
        {"diarize": True, "response_format": "text"},
        {"min_speakers": 2},
        {"temperature": 2.0},
        {"language": "english"},
    ],
)
def test_bad_fields_send_nothing(jfk: Path, kw: dict[str, Any]) -> None:
    server = Server()
    with pytest.raises(ValueError):
        make(server).transcribe(jfk, **kw)
    assert server.requests == []


def test_bad_files_send_nothing(tmp_path: Path) -> None:
    server = Server()
    client = make(server)
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 40)
    with pytest.raises(fw.AudioDecodeError) as info:
        client.transcribe(corrupt)
    assert "corrupt.mp3" in str(info.value)
    with pytest.raises(fw.AudioDecodeError, match="<bytes>"):
        client.transcribe(b"not audio at all" * 100)
    with pytest.raises(fw.AudioDecodeError):
        client.transcribe(io.BytesIO(b""))
    with pytest.raises(IsADirectoryError, match="directory"):
        client.transcribe(tmp_path)
    with pytest.raises(FileNotFoundError) as missing:
        client.transcribe(tmp_path / "missing.wav")
    assert "missing.wav" in str(missing.value)
    with pytest.raises(TypeError, match="binary mode"):
        client.transcribe(io.StringIO("text"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.transcribe(12345)  # type: ignore[arg-type]
    assert server.requests == []


def test_file_over_the_limit_is_refused_before_upload(tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    with open(big, "wb") as f:  # sparse: no disk used, nothing read
        f.truncate(fw.api.MAX_UPLOAD_BYTES + 1)
    server = Server()
    with pytest.raises(FileTooLargeError) as info:
        make(server).transcribe(big)
    assert isinstance(info.value, ValueError)
    assert "big.wav" in str(info.value) and "1,073,741,824" in str(info.value)
    assert server.requests == []


@pytest.mark.parametrize(
    ("response", "cls", "message"),
    [
        (
            httpx.Response(
                400,
                json={
                    "error": {
                        "object": "error",
                        "type": "invalid_request_error",
                        "message": "bad temperature",
                    }
                },
            ),
            fw.BadRequestError,
            "bad temperature",
        ),
        (
            httpx.Response(404, json={"error": "model not found"}),
            fw.NotFoundError,
            "model not found",
        ),
        (
            httpx.Response(
                422, json={"detail": [{"loc": ["body", "file"], "msg": "field required"}]}
            ),
            fw.BadRequestError,
            "body.file: field required",
        ),
        (httpx.Response(413, json={"detail": "too large"}), fw.RequestTooLargeError, "too large"),
        (httpx.Response(403, json={"message": "nope"}), fw.PermissionDeniedError, "nope"),
        (httpx.Response(418, text="short and stout"), fw.APIStatusError, "short and stout"),
    ],
)
def test_error_bodies(jfk: Path, response: httpx.Response, cls: type, message: str) -> None:
    with pytest.raises(cls) as info:
        make(Server(response)).transcribe(jfk)
    assert info.value.message.startswith(message)
    assert info.value.status_code == response.status_code


def test_html_error_page_is_stripped_and_truncated(jfk: Path) -> None:
    page = (
        "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head>"
        "<body><h1>Bad Gateway</h1><p>The proxy got an invalid response &amp; gave up.</p>"
        + "<p>filler</p>" * 200
        + "</body></html>"
    )
    response = httpx.Response(
        502, text=page, headers={"content-type": "text/html", "fireworks-request-id": "req-42"}
    )
    with pytest.raises(fw.ServerError) as info:
        make(Server(response)).transcribe(jfk)
    err = info.value
    assert "<" not in err.message and "color:red" not in err.message
    assert err.message.startswith("502 Bad Gateway Bad Gateway The proxy got an invalid response &")
    assert len(err.message) <= 300
    assert err.request_id == "req-42"
    assert "req-42" in str(err) and "HTTP 502" in str(err)


def test_truncated_json_is_a_typed_error(jfk: Path) -> None:
    response = httpx.Response(
        200, content=b'{"text": "And so my fellow', headers={"content-type": "application/json"}
    )
    with pytest.raises(fw.api.APIResponseValidationError, match="not a JSON object"):
        make(Server(response)).transcribe(jfk)


def test_the_key_never_leaks(jfk: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A hostile or buggy server echoes the key back in its error message.
    response = httpx.Response(401, json={"error": {"message": f"invalid key {KEY}"}})
    client = make(Server(response), api_key=KEY)
    assert KEY not in repr(client) and "***" in repr(client)
    assert KEY not in repr(client._config) and KEY not in str(client._config)
    with caplog.at_level(logging.DEBUG, logger="fw_asr_widgets"):
        logging.getLogger("fw_asr_widgets").info("diagnostic %s", KEY)
        with pytest.raises(fw.AuthenticationError) as info:
            client.transcribe(jfk)
    err = info.value
    for text in (str(err), repr(err), err.message, repr(err.body), caplog.text):
        assert KEY not in text
    assert "api_key argument" in str(err)


def test_missing_key_hint(jfk: Path) -> None:
    response = httpx.Response(401, json={"detail": "missing key"})
    with pytest.raises(fw.AuthenticationError, match="FIREWORKS_API_KEY"):
        make(Server(response)).transcribe(jfk)


def test_text_formats_return_str_and_json_returns_transcript(jfk: Path) -> None:
    srt = "1\n00:00:00,000 --> 00:00:01,000\nhello\n"
    client = make(Server(httpx.Response(200, text=srt)))
    assert client.transcribe(jfk, response_format="srt") == srt
    tr = make(Server(httpx.Response(200, json={"text": " hello "}))).transcribe(jfk)
    assert isinstance(tr, fw.Transcript) and tr.text == "hello"


def test_align_posts_text(jfk: Path) -> None:
    server = Server(httpx.Response(200, json=DIARIZED))
    tr = make(server).align(jfk, "Hello there. Hi.")
    assert isinstance(tr, fw.Transcript)
    assert server.requests[0].url.path == "/v1/audio/alignments"
    sent = server.fields()
    assert sent["text"] == "Hello there. Hi." and sent["response_format"] == "verbose_json"


def test_async_client_context_manager(jfk: Path) -> None:
    server = Server()

    async def main() -> str:
        async with fw.AsyncClient(
            base_url="http://mock.test",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        ) as client:
            tr = await client.transcribe(jfk, response_format="json")
            assert isinstance(tr, fw.Transcript)
            return tr.text
        raise AssertionError

    assert asyncio.run(main()) == "hello"
    with make(Server()) as client:
        assert client.transcribe(jfk).text == "hello"  # type: ignore[union-attr]


def test_sync_client_rejects_a_sync_http_client() -> None:
    with pytest.raises(TypeError, match="httpx.AsyncClient"):
        fw.Client(base_url="http://x", http_client=httpx.Client())  # type: ignore[arg-type]
