"""`GET /`, `GET /v1/models` and the offline `/docs` page, over real loopback HTTP."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from fw_asr_widgets.local import models, serve


@pytest.fixture(scope="module")
def url(local_server: Any) -> str:
    return str(local_server.url)


def test_root_describes_the_engine_and_links_docs(url: str) -> None:
    r = httpx.get(url + "/")
    assert r.status_code == 200
    info = r.json()
    assert info["docs"] == "/docs" and info["models"] == "/v1/models"
    assert "/v1/audio/transcriptions" in info["endpoints"]
    page = httpx.get(url + "/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in page.text and 'href="/v1/models"' in page.text


def test_models_list_is_openai_shaped_and_says_what_is_installed(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = httpx.get(url + "/v1/models")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids[:2] == ["whisper-v3", "whisper-v3-turbo"] and set(models.FIREWORKS_MODELS) <= set(
        ids
    )
    for m in body["data"]:
        assert m["object"] == "model" and isinstance(m["created"], int) and m["owned_by"]
    local = {m["id"]: m for m in body["local_models"]}
    assert local["tiny.en"]["available"] is True
    assert local["base"]["available"] is models.multilingual_available()
    one = httpx.get(url + "/v1/models/whisper-v3")
    assert one.status_code == 200 and one.json()["id"] == "whisper-v3"
    missing = httpx.get(url + "/v1/models/gpt-4")
    assert missing.status_code == 404 and "whisper-v3" in missing.json()["error"]["message"]
    # a basic install says so, and how to add other languages
    monkeypatch.setenv(models.MULTILINGUAL_ENV, "0")
    basic = httpx.get(url + "/v1/models").json()
    base = {m["id"]: m for m in basic["local_models"]}["base"]
    assert base["available"] is False and base["install"] == models.INSTALL_MULTILINGUAL
    assert all(m["multilingual"] is False and m["local_model"] == "tiny.en" for m in basic["data"])


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.refs += [v or "" for k, v in attrs if k in ("src", "href")]


def test_docs_page_works_offline(url: str) -> None:
    r = httpx.get(url + "/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    parser = _Refs()
    parser.feed(page)
    # nothing to fetch from elsewhere: no script, every link relative to this server
    assert parser.scripts == 0
    assert parser.refs and all(
        ref.startswith("/") and not ref.startswith("//") for ref in parser.refs
    )
    assert not re.search(r"https?://", page)
    # the content is there without any script: every route and its form fields
    for path in ("/v1/audio/transcriptions", "/v1/audio/translations", "/v1/audio/alignments"):
        assert path in page
    assert "timestamp_granularities" in page and "verbose_json" in page
    assert httpx.get(url + "/redoc", follow_redirects=True).url.path == "/docs"


def test_keyed_server_keeps_models_behind_the_key_and_docs_open() -> None:
    with serve(api_key="sk-info-test") as h:
        assert httpx.get(h.url + "/v1/models").status_code == 401
        ok = httpx.get(h.url + "/v1/models", headers={"Authorization": "Bearer sk-info-test"})
        assert ok.status_code == 200 and ok.json()["object"] == "list"
        assert httpx.get(h.url + "/").status_code == 200
        docs = httpx.get(h.url + "/docs")
        assert docs.status_code == 200 and "sk-info-test" not in docs.text


def test_openai_sdk_lists_and_retrieves_models(url: str) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="not-needed", base_url=url + "/v1", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert "whisper-v3" in ids and "whisper-v3-turbo" in ids
    assert client.models.retrieve("whisper-v3").owned_by
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
