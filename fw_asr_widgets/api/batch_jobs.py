"""Fireworks' Batch API for audio: submit a file now, collect the transcript later.

As documented (fireworks-audio-api.md, "Other documented facts"): submit one file with the
usual multipart fields to `POST {batch host}/v1/audio/transcriptions?endpoint_id=audio-prod`
(or `audio-turbo`; `/v1/audio/translations` alike), answered `{"account_id", "batch_id"}`;
poll `GET {batch host}/v1/accounts/{account_id}/batch_job/{batch_id}`, answered
`{"status": "processing" | "completed", "content_type", "body"}` where `body` is the reply
the synchronous API would have given.

Decisions:
- The batch host is `BATCH_HOST` for Fireworks; a client with its own server (`base_url`,
  including the embedded engine, which implements both endpoints) uses that server; an
  explicit `batch_url` wins over both.
- `endpoint_id` follows the model: `whisper-v3` -> `audio-prod`, `whisper-v3-turbo` ->
  `audio-turbo` (other names: `audio-prod`).
- Submission reuses the client's upload path (the same checks, streaming multipart body,
  auth header, retries and error classes as `transcribe`). Polls go through the same request
  loop (`AsyncClient._request`: retries, `error_from_response`).
- Status values other than `processing`/`completed`, and error shapes, are not documented:
  any other status is a failure, and so is a completed job whose body is a Fireworks error
  body (`{"error": {...}}`); both raise `BatchJobFailed` with the server's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from fw_asr_widgets.api import _config, _params
from fw_asr_widgets.errors import APIError, APIResponseValidationError
from fw_asr_widgets.transcript import Transcript

if TYPE_CHECKING:
    from fw_asr_widgets.api.client import AsyncClient

BATCH_HOST = "https://audio-batch.link.fireworks.ai"
ENDPOINT_IDS = {"whisper-v3": "audio-prod", "whisper-v3-turbo": "audio-turbo"}
PROCESSING = "processing"
COMPLETED = "completed"

__all__ = [
    "BATCH_HOST",
    "BatchJob",
    "BatchJobFailed",
    "BatchJobStatus",
    "batch_base_url",
    "get_batch_job",
    "submit_transcription",
]


class BatchJobFailed(APIError):
    """A batch job ended without a transcript (the server's reason is the message)."""


@dataclass(frozen=True)
class BatchJob:
    """A submitted job: where to poll it (`batch_url`) and its ids."""

    account_id: str
    batch_id: str
    endpoint_id: str
    batch_url: str


@dataclass(frozen=True)
class BatchJobStatus:
    """One poll's answer. `done` once the status is no longer `processing`."""

    status: str
    content_type: str | None
    body: str | None

    @property
    def done(self) -> bool:
        return self.status != PROCESSING

    def transcript(self, source: str | None = None) -> Transcript:
        """The job's transcript; raises `BatchJobFailed` if it failed or is not done."""
        if self.status == PROCESSING:
            raise BatchJobFailed("the batch job is still processing")
        data: Any = None
        if self.body is not None:
            try:
                data = json.loads(self.body)
            except ValueError:
                data = None
        if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping | str):
            err = data["error"]
            msg = err.get("message", str(err)) if isinstance(err, Mapping) else err
            raise BatchJobFailed(f"batch job {self.status}: {msg}", body=data)
        if self.status != COMPLETED:
            raise BatchJobFailed(f"batch job ended with status {self.status!r}", body=data)
        if not isinstance(data, Mapping):
            raise APIResponseValidationError(
                f"the batch job's body is not a JSON transcription (content type "
                f"{self.content_type!r})"
            )
        try:
            return Transcript.from_response(data, source=source)
        except (TypeError, ValueError) as exc:
            raise APIResponseValidationError(
                f"the batch job's body is not a transcription response: {exc}"
            ) from None


async def batch_base_url(client: AsyncClient, batch_url: str | None = None) -> str:
    """Where batch requests go: `batch_url`, else the client's own server, else Fireworks."""
    if batch_url:
        return _config.normalize_base_url(batch_url)
    cfg = await client._aconfig()
    return cfg.base_url or BATCH_HOST


async def submit_transcription(
    client: AsyncClient,
    file: Any,
    *,
    batch_url: str | None = None,
    endpoint_id: str | None = None,
    **transcribe_kwargs: Any,
) -> BatchJob:
    """Submit `file` for batch transcription with `transcribe`'s keyword arguments.

    The file is checked as `transcribe` checks it (missing, too large, not audio raise now).
    """
    import inspect

    bound = inspect.signature(type(client).transcribe).bind(client, file, **transcribe_kwargs)
    bound.apply_defaults()
    args = {k: v for k, v in bound.arguments.items() if k not in ("self", "file")}
    model = args["model"]
    fields, _fmt = _params.transcription_fields(**args)
    base = await batch_base_url(client, batch_url)
    eid = endpoint_id or ENDPOINT_IDS.get(model, "audio-prod")
    cfg = replace(await client._aconfig(), base_url=base)
    path = f"{_config.TRANSCRIPTIONS_PATH}?endpoint_id={quote(eid, safe='')}"
    upload = await client._prepare(file)
    try:
        # "text" makes _send hand back the raw body: the job ids, parsed here.
        raw = await client._send(path, cfg, model, fields, upload, "text")
    finally:
        upload.close()
    try:
        data = json.loads(str(raw))
        account, batch = str(data["account_id"]), str(data["batch_id"])
    except (ValueError, KeyError, TypeError):
        raise APIResponseValidationError(
            f"the batch submission's reply has no account_id/batch_id: {str(raw)[:120]!r}"
        ) from None
    return BatchJob(account, batch, eid, base)


async def get_batch_job(client: AsyncClient, job: BatchJob) -> BatchJobStatus:
    """Poll `job` once (retrying connection errors and 429/5xx as requests do)."""
    cfg = await client._aconfig()
    url = (
        f"{job.batch_url}/v1/accounts/{quote(job.account_id, safe='')}"
        f"/batch_job/{quote(job.batch_id, safe='')}"
    )
    headers = {**cfg.headers, **cfg.auth_headers(), "Accept": "application/json"}

    def build(http: httpx.AsyncClient) -> httpx.Request:
        return http.build_request("GET", url, headers=headers, timeout=client.timeout)

    response = await client._request(build, cfg, url=url, label=f"GET {url}")
    try:
        data = response.json()
        status = str(data["status"])
    except (ValueError, KeyError, TypeError):
        raise APIResponseValidationError(
            f"the batch job poll's reply has no status: {response.text[:120]!r}"
        ) from None
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return BatchJobStatus(status, data.get("content_type"), body)
