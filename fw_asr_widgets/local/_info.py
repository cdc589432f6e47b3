"""The engine's self-description: `GET /`, `GET /v1/models`, and an offline `GET /docs`.

Decisions:
- `/docs` is a plain HTML page generated from the app's own OpenAPI schema, with no script
  and no external host: FastAPI's Swagger UI loads its JavaScript and CSS from a CDN, so it
  was a blank page offline, and no PyPI package in reach ships the Swagger UI assets without
  adding a dependency. `/redoc` (also CDN-based) redirects to `/docs`. The full schema stays
  at `/openapi.json`.
- `/` and `/docs` are open without the API key, like `/health`: they are static
  descriptions a browser opens directly (it cannot send the key header). `/v1/models` needs
  the key, as on OpenAI and Fireworks.
- `/v1/models` is the OpenAI list shape (`object: "list"`, `data` of `{id, object: "model",
  created, owned_by}`); each model adds `endpoints`, `multilingual` (false on a basic
  install: English only) and `local_model` (what decodes it here). A top-level
  `local_models` says which Whisper models this install has (`available`) and how to add
  the missing one.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from fw_asr_widgets import _wire
from fw_asr_widgets.local import models

OPEN_PATHS = frozenset({"/", "/docs"})
FILE_ENDPOINTS = ("/v1/audio/transcriptions", "/v1/audio/translations", "/v1/audio/alignments")
STREAM_ENDPOINT = "/v1/audio/transcriptions/streaming"
OWNER = "fw-asr-widgets (embedded engine)"

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1f2328}
code,pre{font:13px ui-monospace,monospace;background:#f4f5f7;border-radius:4px}
code{padding:0 .25em}pre{padding:.6em;overflow:auto}
.op{border:1px solid #d0d7de;border-radius:6px;padding:.2rem 1rem;margin:1rem 0}
.m{font-weight:700;padding:0 .4em;border-radius:4px;background:#dbeafe}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.2em .4em;
text-align:left;vertical-align:top}
"""


def local_models() -> list[dict[str, Any]]:
    """The Whisper models this engine can run, and whether this install has them."""
    multi = models.multilingual_available()
    return [
        {"id": models.ENGLISH, "available": True, "languages": ["en"], "extra": "local"},
        {
            "id": models.MULTILINGUAL,
            "available": multi,
            "languages": "all Whisper languages, and translation to English",
            "extra": "multilingual",
            **({} if multi else {"install": models.INSTALL_MULTILINGUAL}),
        },
    ]


def model_list(file_models: tuple[str, ...], stream_models: tuple[str, ...]) -> dict[str, Any]:
    """The `/v1/models` body."""
    multi = models.multilingual_available()
    data = []
    for name in dict.fromkeys((*file_models, *stream_models)):
        endpoints = [*(FILE_ENDPOINTS if name in file_models else ()), STREAM_ENDPOINT]
        if name not in stream_models:
            endpoints.remove(STREAM_ENDPOINT)
        data.append(
            {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": OWNER,
                "endpoints": endpoints,
                "multilingual": multi,
                "local_model": (
                    f"{models.ENGLISH} for English, {models.MULTILINGUAL} for other languages"
                    if multi
                    else models.ENGLISH
                ),
            }
        )
    return {"object": "list", "data": data, "local_models": local_models()}


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _fields_table(schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    if not props:
        return ""
    required = set(schema.get("required") or ())
    rows = []
    for name, p in props.items():
        kind = p.get("format") or p.get("type") or ""
        notes = []
        if p.get("enum"):
            notes.append("one of " + ", ".join(f"<code>{_e(v)}</code>" for v in p["enum"]))
        if "default" in p:
            notes.append(f"default <code>{_e(p['default'])}</code>")
        if p.get("description"):
            notes.append(_e(p["description"]))
        rows.append(
            f"<tr><td><code>{_e(name)}</code>{' (required)' if name in required else ''}</td>"
            f"<td>{_e(kind)}</td><td>{'; '.join(notes)}</td></tr>"
        )
    return "<table><tr><th>field</th><th>type</th><th>notes</th></tr>" + "".join(rows) + "</table>"


def docs_html(spec: dict[str, Any]) -> str:
    """A self-contained HTML description of the OpenAPI `spec` (no scripts, no external URL)."""
    info = spec.get("info") or {}
    parts = [
        f"<h1>{_e(info.get('title', 'API'))}</h1>",
        f"<p>{_e(info.get('description', ''))}</p>",
        '<p>Machine-readable schema: <a href="/openapi.json">/openapi.json</a> · models: '
        '<a href="/v1/models">/v1/models</a> · health: <a href="/health">/health</a></p>',
    ]
    for path, ops in (spec.get("paths") or {}).items():
        for method, op in ops.items():
            parts.append('<div class="op">')
            parts.append(
                f'<h2><span class="m">{_e(method.upper())}</span> <code>{_e(path)}</code></h2>'
            )
            if op.get("summary"):
                parts.append(f"<p><b>{_e(op['summary'])}</b></p>")
            if op.get("description"):
                parts.append(f"<pre>{_e(op['description'])}</pre>")
            content = (op.get("requestBody") or {}).get("content") or {}
            for ctype, body in content.items():
                parts.append(f"<p>Body: <code>{_e(ctype)}</code></p>")
                parts.append(_fields_table(body.get("schema") or {}))
            codes = ", ".join(f"<code>{_e(c)}</code>" for c in (op.get("responses") or {}))
            if codes:
                parts.append(f"<p>Responses: {codes}</p>")
            parts.append("</div>")
    parts.append(
        '<div class="op"><h2><span class="m">WEBSOCKET</span> '
        f"<code>{STREAM_ENDPOINT}</code></h2><p>Streaming transcription: send 16 kHz mono "
        "PCM16 audio as binary messages, receive JSON transcript updates (Fireworks "
        "streaming protocol). Not part of the OpenAPI schema.</p></div>"
    )
    parts.append(
        "<h2>Example</h2><pre>curl -F file=@audio.wav -F response_format=verbose_json "
        "-F timestamp_granularities=word,segment "
        "$BASE/v1/audio/transcriptions</pre><p>where <code>$BASE</code> is this page's "
        "address without <code>/docs</code>.</p>"
    )
    return _page(str(info.get("title", "API")) + " – docs", "".join(parts))


def root_info(file_models: tuple[str, ...], stream_models: tuple[str, ...]) -> dict[str, Any]:
    """The `GET /` body (JSON form)."""
    return {
        "name": "fw-asr-widgets embedded engine",
        "what": "An offline, Fireworks-compatible audio API (Whisper via faster-whisper)",
        "docs": "/docs",
        "openapi": "/openapi.json",
        "health": "/health",
        "models": "/v1/models",
        "endpoints": [*FILE_ENDPOINTS, STREAM_ENDPOINT],
        "file_models": list(file_models),
        "stream_models": list(stream_models),
        "multilingual": models.multilingual_available(),
    }


def _root_html(info: dict[str, Any]) -> str:
    links = "".join(f"<li><code>{_e(p)}</code></li>" for p in info["endpoints"])
    lang = (
        "English and other languages"
        if info["multilingual"]
        else f"English only (add other languages with <code>{_e(models.INSTALL_MULTILINGUAL)}"
        "</code>)"
    )
    body = (
        f"<h1>{_e(info['name'])}</h1><p>{_e(info['what'])}. Languages: {lang}.</p>"
        '<p><a href="/docs">API documentation</a> · <a href="/v1/models">models</a> · '
        '<a href="/health">health</a> · <a href="/openapi.json">OpenAPI schema</a></p>'
        f"<p>Endpoints:</p><ul>{links}</ul>"
        f"<p>Models: {', '.join(f'<code>{_e(m)}</code>' for m in info['stream_models'])}</p>"
    )
    return _page(info["name"], body)


def add_routes(
    app: FastAPI, *, file_models: tuple[str, ...], stream_models: tuple[str, ...]
) -> None:
    """Register `GET /`, `GET /v1/models`, `GET /v1/models/{id}`, `GET /docs`, `GET /redoc`.

    Create `app` with `docs_url=None, redoc_url=None` so these replace FastAPI's CDN pages.
    """

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> Response:
        info = root_info(file_models, stream_models)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_root_html(info))
        return JSONResponse(info)

    @app.get("/v1/models", summary="List the models this engine serves")
    async def list_models() -> dict[str, Any]:
        """OpenAI-compatible model list, plus the local Whisper models and their availability."""
        return model_list(file_models, stream_models)

    @app.get("/v1/models/{model_id}", summary="Describe one model")
    async def get_model(model_id: str) -> Response:
        """One entry of `/v1/models`; 404 (listing the served models) for an unknown id."""
        listing = model_list(file_models, stream_models)
        for m in listing["data"]:
            if m["id"] == model_id:
                return JSONResponse(m)
        names = ", ".join(m["id"] for m in listing["data"])
        message = f"model {model_id!r} not found; available: {names}"
        return JSONResponse(_wire.error_body(message, "not_found_error"), status_code=404)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(docs_html(app.openapi()))

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> RedirectResponse:
        return RedirectResponse("/docs")
