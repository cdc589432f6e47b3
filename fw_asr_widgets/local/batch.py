"""The Fireworks Batch API on the embedded engine: submit now, poll for the result.

`POST /v1/audio/transcriptions?endpoint_id=...` (and `/v1/audio/translations`) with the
usual multipart fields answers `{"account_id": "local", "batch_id": ...}` at once; the job
runs in the background in the engine's job slots (`JobSlots`, the same worker threads and
concurrency limit as synchronous requests). `GET /v1/accounts/{account_id}/batch_job/{id}`
answers `{"status": "processing" | "completed", "content_type", "body"}`, `body` being
exactly what the synchronous request would have answered.

Decisions:
- A request with `endpoint_id` in its query is routed here by a small ASGI middleware that
  rewrites the path (inside the key check and upload cap of `GuardMiddleware`); without
  `endpoint_id` the synchronous route answers as before. Any `endpoint_id` is accepted.
- The request is validated before it is accepted (bad fields are a 400 now, like the sync
  route). A job that fails later (audio that does not decode, ...) ends with status
  `failed` and the Fireworks error body as `body` (Fireworks' own failure shape is not
  documented; the client treats any status but processing/completed as a failure).
- Uploads are spooled to a temporary file (memory stays flat), deleted when the job ends.
  Finished jobs are kept (results in memory) until `MAX_JOBS` newer ones push them out.
- Batch jobs wait for a slot without the 429 queue limit: a batch is queued by design.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

    from fw_asr_widgets.local.server import Settings

ACCOUNT_ID = "local"
MAX_JOBS = 100_000
_SUBMIT_PATHS = {
    "/v1/audio/transcriptions": "/v1/_batch/audio/transcriptions",
    "/v1/audio/translations": "/v1/_batch/audio/translations",
}


@dataclass
class BatchJobRecord:
    batch_id: str
    status: str = "processing"
    content_type: str | None = None
    body: str | None = None
    created: float = field(default_factory=time.time)
    task: asyncio.Task[None] | None = None


class BatchRouter:
    """Routes POSTs that carry `endpoint_id` in the query to the batch submit routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope["path"] in _SUBMIT_PATHS
            and b"endpoint_id=" in scope.get("query_string", b"")
        ):
            scope = dict(scope)
            scope["path"] = _SUBMIT_PATHS[scope["path"]]
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the batch routes and the router middleware to the engine's app."""
    from fw_asr_widgets.local import engine, server

    jobs: OrderedDict[str, BatchJobRecord] = OrderedDict()
    app.state.batch_jobs = jobs
    slots: server.JobSlots = app.state.slots

    async def _work(job: BatchJobRecord, spool: Any, req: Any, filename: str | None) -> None:
        try:
            try:
                spool.seek(0)
                result = await slots.run(server._run_file, spool, req)
                response = server.shape_response(req, result.response, result.model_name)
                job.content_type = response.media_type
                job.body = bytes(response.body).decode("utf-8")
                job.status = "completed"
            except server.AudioDecodeError as exc:
                job.body = json.dumps(server.error_body(server.decode_error_message(filename, exc)))
                job.status = "failed"
            except engine.EngineInputError as exc:
                job.body = json.dumps(server.error_body(str(exc)))
                job.status = "failed"
            except Exception as exc:
                server.log.exception("batch job %s failed", job.batch_id)
                job.body = json.dumps(
                    server.error_body(f"internal error ({type(exc).__name__})", "internal_error")
                )
                job.status = "failed"
            if job.status == "failed":
                job.content_type = "application/json"
        finally:
            job.task = None
            spool.close()

    async def _submit(request: Request, task: str) -> JSONResponse:
        try:
            form = await request.form(max_files=4, max_fields=64)
        except server._TooLargeError:
            raise
        except Exception as exc:
            detail = getattr(exc, "detail", None) or exc
            raise server._bad(f"malformed multipart body: {detail}") from None
        try:
            req = server.parse_file_request(form, task)
            upload = server.parse_file_field(form)
            if upload.size == 0:
                raise server._bad(
                    f"the uploaded file {upload.filename or 'file'!r} is empty (0 bytes)"
                )
            # The spool outlives this request: the job closes (and so deletes) it.
            spool = tempfile.TemporaryFile(prefix="fw-asr-batch-")  # noqa: SIM115
            try:
                upload.file.seek(0)
                await asyncio.to_thread(shutil.copyfileobj, upload.file, spool, 1 << 20)
            except BaseException:
                spool.close()
                raise
        finally:
            await form.close()
        job = BatchJobRecord(uuid.uuid4().hex)
        jobs[job.batch_id] = job
        while len(jobs) > MAX_JOBS:
            old_id, old = next(iter(jobs.items()))
            if old.task is not None:
                break
            jobs.pop(old_id)
        job.task = asyncio.create_task(_work(job, spool, req, upload.filename))
        return JSONResponse({"account_id": ACCOUNT_ID, "batch_id": job.batch_id})

    @app.post("/v1/_batch/audio/transcriptions", include_in_schema=False)
    async def batch_transcriptions(request: Request) -> JSONResponse:
        return await _submit(request, "transcribe")

    @app.post("/v1/_batch/audio/translations", include_in_schema=False)
    async def batch_translations(request: Request) -> JSONResponse:
        return await _submit(request, "translate")

    @app.get("/v1/accounts/{account_id}/batch_job/{batch_id}", summary="Poll a batch job")
    async def batch_job(account_id: str, batch_id: str) -> JSONResponse:
        """Fireworks Batch API poll: `{"status", "content_type", "body"}`."""
        job = jobs.get(batch_id)
        if account_id != ACCOUNT_ID or job is None:
            raise server.ApiError(404, f"no batch job {batch_id!r} for account {account_id!r}")
        return JSONResponse(
            {"status": job.status, "content_type": job.content_type, "body": job.body}
        )

    app.add_middleware(BatchRouter)
