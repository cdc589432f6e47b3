"""Schemathesis against the served OpenAPI schema: no request it generates gets a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.generation.modes import GenerationMode  # noqa: E402


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_schema_no_server_errors(local_server: Any, mode: GenerationMode) -> None:
    url = str(local_server.url)
    spec = httpx.get(url + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    labels = []
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        labels.append(op.label)
        if mode is GenerationMode.NEGATIVE and op.label.startswith("GET "):
            continue  # no parameters: nothing to make invalid

        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            r = case.call(base_url=url, timeout=120)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, f"{case.operation.label}: {r.status_code} {r.text[:300]}"
            if r.status_code >= 400:
                assert r.json()["error"]["object"] == "error"

        check()
    assert {"POST /v1/audio/transcriptions", "POST /v1/audio/translations"} <= set(labels)
    assert statuses  # requests were really made
