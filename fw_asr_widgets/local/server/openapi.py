"""OpenAPI description of the file routes' multipart bodies, generated from `forms.FIELDS`.

The routes read the form themselves (one parser, `forms.parse_request`), so FastAPI cannot
infer the bodies; `request_body` turns the same field tables into the `openapi_extra` of each
route, so the schema cannot drift from what is accepted.
"""

from __future__ import annotations

from typing import Any

from fw_asr_widgets.local.server import forms

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "object": {"type": "string"},
                "type": {"type": "string"},
                "message": {"type": "string"},
            },
        }
    },
}

ERROR_RESPONSES: tuple[tuple[str, str], ...] = (
    ("400", "invalid request"),
    ("401", "missing or invalid API key"),
    ("404", "unknown model"),
    ("413", "upload too large"),
    ("429", "job queue full"),
)


def properties(task: str) -> dict[str, Any]:
    """The multipart properties of `task`'s route, `file` first."""
    fields = sorted(forms.FIELDS[task], key=lambda f: f.name != "file")
    return {f.name: dict(f.schema) for f in fields}


def request_body(task: str) -> dict[str, Any]:
    """The route's `openapi_extra`: its multipart body and its answers."""
    err = {"content": {"application/json": {"schema": ERROR_SCHEMA}}}
    schema = {
        "type": "object",
        "required": list(forms.REQUIRED[task]),
        "properties": properties(task),
    }
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}},
        "responses": {
            "200": {
                "description": "the transcript (json, verbose_json, text, srt or vtt)",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/plain": {"schema": {"type": "string"}},
                },
            },
            **{code: {"description": desc, **err} for code, desc in ERROR_RESPONSES},
        },
    }
