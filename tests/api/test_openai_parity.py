"""The same request through the official OpenAI SDK and through ours gives the same text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai

import fw_asr_widgets as fw


def test_openai_sdk_and_client_agree(local_server: Any, data_dir: Path) -> None:
    jfk = data_dir / "jfk.wav"
    sdk = openai.OpenAI(base_url=local_server.url + "/v1", api_key="x", max_retries=0)
    with jfk.open("rb") as f:
        theirs = sdk.audio.transcriptions.create(model="whisper-v3", file=f)
    with fw.Client(base_url=local_server.url + "/v1") as client:
        ours = client.transcribe(jfk, model="whisper-v3")
    assert isinstance(ours, fw.Transcript)
    assert ours.text == theirs.text.strip()
    assert "ask not what your country can do for you" in ours.text.lower()
