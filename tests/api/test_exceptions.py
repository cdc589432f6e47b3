"""`error_from_response`: the one place an HTTP error is made from a response."""

from __future__ import annotations

import inspect

import httpx

import fw_asr_widgets as fw
from fw_asr_widgets.api import _params
from fw_asr_widgets.api._exceptions import error_from_response

KEY = "fw_test_key_0123456789"


def test_html_body_request_id_and_retry_after() -> None:
    response = httpx.Response(
        429,
        text="<html><body><h1>Slow down</h1><script>x()</script></body></html>",
        headers={"retry-after": "7", "cf-ray": "abc-123"},
    )
    err = error_from_response(response)
    assert isinstance(err, fw.RateLimitError)
    assert err.message.startswith("Slow down") and "script" not in str(err)
    assert err.retry_after == 7.0 and err.request_id == "abc-123" and err.status_code == 429


def test_secrets_removed_and_key_hint_only_on_auth_errors() -> None:
    body = {"error": {"message": f"bad key {KEY}"}}
    err = error_from_response(
        httpx.Response(401, json=body), secrets=[KEY], key_hint="check the key"
    )
    assert isinstance(err, fw.AuthenticationError)
    assert KEY not in str(err) and err.message.endswith("(check the key)") and err.body is None
    other = error_from_response(
        httpx.Response(400, json={"detail": "nope"}), secrets=[KEY], key_hint="check the key"
    )
    assert isinstance(other, fw.BadRequestError) and other.message == "nope"
    assert "check the key" not in str(other) and other.body == {"detail": "nope"}


def test_empty_body_gives_the_reason_phrase() -> None:
    err = error_from_response(httpx.Response(503, content=b""))
    assert isinstance(err, fw.ServerError) and "Service Unavailable" in str(err)


def test_options_are_declared_once_in_the_typeddicts() -> None:
    for method, options in (
        (fw.Client.transcribe, _params.TranscribeOptions),
        (fw.Client.translate, _params.TranslateOptions),
        (fw.Client.align, _params.AlignOptions),
    ):
        sig = inspect.signature(method)
        kw = [n for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY]
        assert set(kw) == set(options.__annotations__), method.__name__
        assert sig.parameters["model"].default == "whisper-v3"
    assert _params.RESPONSE_FORMATS == ("json", "text", "srt", "verbose_json", "vtt")
