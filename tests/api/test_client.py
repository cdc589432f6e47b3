"""The client against the embedded engine over real loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import jiwer
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.api import client as client_mod
from tests.conftest import JFK_REFERENCE

JFK_SECONDS = 11.1


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def wer(hyp: str) -> float:
    return float(jiwer.wer(norm(JFK_REFERENCE), norm(hyp)))


@pytest.fixture(scope="module")
def client(local_server: Any) -> Any:
    with fw.Client(base_url=local_server.url) as c:
        yield c


def test_jfk_words_are_accurate_and_timed(client: fw.Client, data_dir: Path) -> None:
    tr = client.transcribe(data_dir / "jfk.wav", timestamp_granularities=["word", "segment"])
    assert isinstance(tr, fw.Transcript)
    assert wer(tr.text) <= 0.15, tr.text
    assert tr.source == str(data_dir / "jfk.wav")
    assert tr.language == "en"
    assert len(tr.words) >= 18
    starts = [w.start for w in tr.words]
    assert all(s is not None for s in starts)
    assert starts == sorted(starts)  # type: ignore[type-var]
    for w in tr.words:
        assert w.start is not None and w.end is not None
        assert 0.0 <= w.start <= w.end <= JFK_SECONDS
    assert tr.segments and all(0 <= s.start <= s.end <= JFK_SECONDS for s in tr.segments)
    assert tr.raw["task"] == "transcribe"


def test_defaults_return_words_and_segments(client: fw.Client, data_dir: Path) -> None:
    # The API's default granularity is `segment`; the kit asks for words too, so the word
    # frame, the viewer's word highlight and word search work without extra arguments.
    tr = client.transcribe(data_dir / "jfk.wav")
    assert isinstance(tr, fw.Transcript)
    assert len(tr.words) >= 18 and tr.segments
    assert len(tr.to_pandas("word")) == len(tr.words)
    assert all(w.segment_id is not None for w in tr.words)
    seg_only = client.transcribe(data_dir / "jfk.wav", timestamp_granularities=["segment"])
    assert isinstance(seg_only, fw.Transcript) and seg_only.segments and not seg_only.words
    with pytest.warns(fw.transcript.NoWordTimestampsWarning, match="timestamp_granularities"):
        assert seg_only.to_pandas("word").empty


def counting_ok(text: str) -> bool:
    """english.wav says "one two three" (the engine may write digits)."""
    words = norm(text).replace("1", "one").replace("2", "two").replace("3", "three").split()
    return float(jiwer.wer("one two three", " ".join(words))) <= 0.34


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [
        ("json", "path"),
        ("verbose_json", "bytes"),
        ("text", "file object"),
        ("srt", "path"),
        ("vtt", "bytes"),
    ],
)
def test_every_response_format_and_input_kind(
    client: fw.Client, shared_data: Path, fmt: str, kind: str
) -> None:
    path = shared_data / "english.wav"
    if kind == "path":
        out = client.transcribe(path, response_format=fmt)  # type: ignore[arg-type]
    elif kind == "bytes":
        out = client.transcribe(path.read_bytes(), response_format=fmt)  # type: ignore[arg-type]
    else:
        with path.open("rb") as f:
            out = client.transcribe(f, response_format=fmt)  # type: ignore[arg-type]
    if fmt in ("json", "verbose_json"):
        assert isinstance(out, fw.Transcript)
        text = out.text
        assert bool(out.segments) == (fmt == "verbose_json")
        assert out.source == (str(path) if kind == "path" else "<bytes>")
    else:
        assert isinstance(out, str)
        text = out
        if fmt == "vtt":
            assert out.startswith("WEBVTT")
            text = re.sub(r"[\d:.]+ --> [\d:.]+", " ", out.replace("WEBVTT", ""))
        if fmt == "srt":
            assert re.search(r"00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}", out)
            text = re.sub(r"(?m)^\d+$|[\d:,]+ --> [\d:,]+", " ", out)
    assert counting_ok(text), out


def test_async_client_and_translate(local_server: Any, shared_data: Path) -> None:
    async def main() -> tuple[Any, Any]:
        async with fw.AsyncClient(base_url=local_server.url + "/v1") as c:
            return await asyncio.gather(
                c.transcribe(shared_data / "english.wav", language="en"),
                c.translate(shared_data / "english.wav", response_format="verbose_json"),
            )

    counted, translated = asyncio.run(main())
    assert isinstance(counted, fw.Transcript) and counting_ok(counted.text)
    assert isinstance(translated, fw.Transcript) and counting_ok(translated.text)
    assert translated.task == "translate"


def test_server_side_validation_error_is_typed(client: fw.Client, data_dir: Path) -> None:
    # The offline engine refuses URLs (it does not fetch): a server-side 400, typed.
    with pytest.raises(fw.BadRequestError) as info:
        client.transcribe("https://example.com/talk.mp3")
    assert info.value.status_code == 400
    assert "URL" in info.value.message


def test_align_times_a_given_transcript(client: fw.Client, data_dir: Path) -> None:
    tr = client.align(data_dir / "jfk.wav", JFK_REFERENCE)
    assert isinstance(tr, fw.Transcript)
    assert wer(" ".join(w.word for w in tr.words)) <= 0.05
    starts = [w.start for w in tr.words if w.start is not None]
    assert starts == sorted(starts)
    assert starts[0] >= 0 and starts[-1] <= JFK_SECONDS


def test_one_async_client_survives_several_event_loops(local_server: Any) -> None:
    client = fw.AsyncClient(base_url=local_server.url, max_retries=0)

    async def once() -> str:
        try:
            await client.transcribe("https://example.com/talk.mp3")
        except fw.BadRequestError as exc:  # a real round trip to the engine
            return exc.message
        raise AssertionError("expected a 400")

    first = asyncio.run(once())
    second = asyncio.run(once())  # the pool of the first, closed loop is not reused
    assert first == second and "URL" in first
    asyncio.run(client.aclose())


def test_stream_file_hook(local_server: Any, shared_data: Path) -> None:
    with fw.Client(base_url=local_server.url) as client:
        tr = client.stream_file(shared_data / "english.wav", speed=None)
    assert isinstance(tr, fw.Transcript) and counting_ok(tr.text)
    assert tr.source == str(shared_data / "english.wav")


def test_wrong_key_gives_authentication_error(data_dir: Path, shared_data: Path) -> None:
    from fw_asr_widgets.local import serve

    right, wrong = "k-right-0123456789", "k-wrong-9876543210"
    with serve(api_key=right) as server:
        with (
            fw.Client(wrong, base_url=server.url, max_retries=0) as c,
            pytest.raises(fw.AuthenticationError) as info,
        ):
            c.transcribe(data_dir / "jfk.wav")
        err = info.value
        for text in (str(err), repr(err)):
            assert wrong not in text and right not in text
        assert "argument" in str(err)
        assert err.status_code == 401
        with fw.Client(right, base_url=server.url) as c:
            out = c.transcribe(shared_data / "english.wav", response_format="text")
        assert isinstance(out, str) and counting_ok(out)


def test_no_key_uses_the_embedded_engine_and_says_so_once(
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(client_mod, "_announced", False)
    monkeypatch.delenv("FW_ASR_QUIET", raising=False)
    with caplog.at_level(logging.INFO, logger="fw_asr_widgets"), fw.Client() as a, fw.Client() as b:
        assert a.uses_embedded_engine and a.base_url is None
        out = a.transcribe(shared_data / "english.wav", response_format="text")
        assert b._config.base_url == a._config.base_url  # same engine, no second notice
        assert a.base_url and a.base_url.startswith("http://127.0.0.1:")
        assert a._config.base_url == a.base_url
    assert isinstance(out, str) and counting_ok(out)
    msgs = [r.getMessage() for r in caplog.records if "embedded local engine" in r.getMessage()]
    assert len(msgs) == 1 and "FIREWORKS_API_KEY" in msgs[0] and a.base_url in msgs[0]
    assert capsys.readouterr().err.count("embedded local engine") == 1


def test_missing_local_extra_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "fw_asr_widgets.local", None)
    c = fw.Client()
    with pytest.raises(ValueError, match="allowed values"):  # field checks come first
        c.transcribe(b"x" * 10, response_format="xml")  # type: ignore[arg-type]
    with pytest.raises(fw.api.ConfigurationError) as cfg_err:
        _ = c._config
    msg = str(cfg_err.value)
    assert "FIREWORKS_API_KEY" in msg and "fw-asr-widgets[local]" in msg
