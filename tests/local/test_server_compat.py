"""What published clients send, accepted by the embedded server (loopback, real engine).

Path aliases under `/inference/v1/audio/...`, the extra languages of the reference
(`zh-hans`, `zh-hant`, `yue`), `response_format=json` on alignments, `max_speakers` above the
local limit, LiveKit's streaming parameters, and the key redaction of `fw-asr serve`'s access
log (a real subprocess, uvicorn's own access formatter).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import JFK_REFERENCE

SAMPLES = Path(__file__).resolve().parents[2] / "fw_asr_widgets" / "samples"
KEY = "sk-compat-secret-1234567890"


@pytest.fixture(scope="module")
def url(local_server: Any) -> str:
    return str(local_server.url)


def _post(url: str, path: str, sample: str, **data: str) -> httpx.Response:
    with (SAMPLES / sample).open("rb") as f:
        return httpx.post(url + path, files={"file": (sample, f)}, data=data, timeout=300)


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", "", text.lower()).split()


def test_inference_path_aliases(url: str) -> None:
    r = _post(url, "/inference/v1/audio/transcriptions", "jfk.wav")
    assert r.status_code == 200, r.text
    assert _words(r.json()["text"])[:4] == _words(JFK_REFERENCE)[:4]
    r = _post(url, "/inference/v1/audio/alignments", "jfk.wav", text=JFK_REFERENCE)
    assert r.status_code == 200, r.text
    assert r.json()["text"] == JFK_REFERENCE and r.json()["words"]  # the SDK's default
    r = _post(url, "/inference/v1/audio/translations", "jfk.wav", model="whisper-v3-turbo")
    assert r.status_code in (200, 400), r.text  # 400 only when the multilingual model is absent
    if r.status_code == 200:
        assert "country" in r.json()["text"].lower()
    schema = httpx.get(url + "/openapi.json").json()
    assert not any(p.startswith("/inference/") for p in schema["paths"])


def test_alignment_response_formats(url: str) -> None:
    r = _post(url, "/v1/audio/alignments", "jfk.wav", text=JFK_REFERENCE, response_format="json")
    assert r.status_code == 200 and r.json() == {"text": JFK_REFERENCE}
    r = _post(
        url, "/v1/audio/alignments", "jfk.wav", text=JFK_REFERENCE, response_format="verbose_json"
    )
    assert r.status_code == 200 and r.json()["words"]


def test_chinese_script_codes_map_to_chinese(url: str) -> None:
    from fw_asr_widgets.local import models

    if not models.multilingual_available():
        pytest.skip("the multilingual model is not installed")
    for code in ("zh-hans", "zh-hant", "ZH-Hant"):
        r = _post(
            url,
            "/v1/audio/transcriptions",
            "chinese.flac",
            language=code,
            response_format="verbose_json",
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["language"] == "zh"
        text = body["text"]
        assert text and re.search(r"[\u4e00-\u9fff]", text), text  # Chinese characters
        assert not re.search(r"[a-z]", text.lower()), text  # no Latin garbage


def test_cantonese_is_refused_with_a_way_out(url: str) -> None:
    r = _post(url, "/v1/audio/transcriptions", "chinese.flac", language="yue")
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "yue" in message and "language=zh" in message


def test_max_speakers_above_the_local_limit_is_clamped(url: str) -> None:
    for value in ("64", "inf"):
        r = _post(
            url,
            "/v1/audio/transcriptions",
            "two_speakers.wav",
            diarize="true",
            max_speakers=value,
            response_format="verbose_json",
            timestamp_granularities="word,segment",
        )
        assert r.status_code == 200, r.text
        assert {w["speaker_id"] for w in r.json()["words"]} - {None}
    r = _post(url, "/v1/audio/transcriptions", "jfk.wav", diarize="true", max_speakers="0")
    assert r.status_code == 400


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/v1/audio/transcriptions/streaming"


def test_streaming_accepts_livekit_parameters(url: str) -> None:
    """The query string LiveKit's plugin builds (skip_vad as Python's `True`, vad_kwargs as a
    dict's keys, repeated timestamp_granularities) and a JSON vad_kwargs are accepted."""
    from fw_asr_widgets.audio import decode, float_to_pcm16

    pcm = float_to_pcm16(decode(SAMPLES / "jfk.wav"))[: 32000 * 3]
    queries = (
        "?language=en&skip_vad=True&vad_kwargs=threshold&text_timeout_seconds=1.0"
        "&response_format=verbose_json&timestamp_granularities=word"
        "&timestamp_granularities=segment",
        '?vad_kwargs={"threshold":0.3}&skip_vad=false',
    )
    for query in queries:
        with connect(_ws(url) + query, max_size=None) as ws:
            ws.send(pcm)
            ws.send('{"checkpoint_id": "final"}')
            while True:
                msg = json.loads(ws.recv(timeout=60))
                assert "error" not in msg, msg
                if msg.get("checkpoint_id") == "final":
                    break
        assert msg["text"]
    for bad in ("?skip_vad=maybe", "?text_timeout_seconds=-1"):
        with pytest.raises(InvalidStatus) as info:
            connect(_ws(url) + bad, open_timeout=30)
        assert info.value.response.status_code == 400


def test_fw_asr_serve_access_log_redacts_the_key_in_the_url() -> None:
    """`?Authorization=<key>` in a URL: uvicorn's access line is logged, with the key hidden
    (the redaction filter once broke the access formatter: "--- Logging error ---")."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("FW_ASR_SERVER_KEY", None)
    fw_asr = Path(sys.executable).with_name("fw-asr")
    cmd = [str(fw_asr)] if fw_asr.exists() else [sys.executable, "-m", "fw_asr_widgets.cli"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", str(port), "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "fw-asr serve did not start"
            time.sleep(0.1)
        r = httpx.get(base + f"/v1/models?Authorization={KEY}&x=1", headers={"Authorization": KEY})
        assert r.status_code in (200, 404)
        with pytest.raises(InvalidStatus):
            connect(
                base.replace("http", "ws")
                + f"/v1/audio/transcriptions/streaming?model=nope&Authorization={KEY}",
                open_timeout=30,
            )
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "Logging error" not in out, out
    assert KEY not in out
    assert re.search(r'"GET /v1/models\?Authorization=\*\*\*&x=1 HTTP/1\.1" (200|404)', out), out
    assert "/v1/audio/transcriptions/streaming?model=nope&Authorization=***" in out, out
