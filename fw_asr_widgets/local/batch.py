"""The Fireworks Batch API on the embedded engine: submit now, poll for the result.

`POST /v1/audio/transcriptions?endpoint_id=...` (and `/v1/audio/translations`) with the
usual multipart body answers `{"account_id": "local", "batch_id": ...}` at once.
`GET /v1/accounts/{account_id}/batch_job/{batch_id}` answers `{"status": "processing" |
"completed" | "failed", "content_type", "body"}`, `body` being exactly what the synchronous
request would have answered.

Decisions:
- A job is the synchronous request, replayed. The submitted body is spooled to a temporary
  file untouched (memory stays flat; deleted when the job ends) and later sent through the
  app's own synchronous route in-process, so a batch job runs in the engine's job slots and
  worker threads, validates its fields and shapes its answer exactly as a request would.
  This module therefore needs nothing from `server` (one `mount` call there adds it).
- The middleware sits inside `GuardMiddleware`: the key check and the upload cap apply to
  submissions and polls like to any request; replays go straight to the routes.
- At most `max_concurrent_jobs` replays run at once (the others wait their turn instead of
  meeting the synchronous route's 429 queue limit); a 429 all the same is retried.
- A replay answered with an error status ends the job `failed` with the Fireworks error
  body as `body` (Fireworks' own failure shape is undocumented; the client treats any
  status but processing/completed as a failure). Finished jobs are kept in memory until
  `MAX_JOBS` newer ones push them out.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fw_asr_widgets import _wire

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCOUNT_ID = "local"
MAX_JOBS = 100_000
SUBMIT_PATHS = frozenset({"/v1/audio/transcriptions", "/v1/audio/translations"})
_POLL = re.compile(r"^/v1/accounts/([^/]+)/batch_job/([^/]+)/?$")
_RETRY_SECONDS = 0.5


@dataclass
class BatchJobRecord:
    """One job: its state and, once done, the synchronous answer."""

    batch_id: str
    status: str = "processing"
    content_type: str | None = None
    body: str | None = None
    created: float = field(default_factory=time.time)
    task: asyncio.Task[None] | None = None


def _error(message: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return _wire.error_body(message, type_)


async def _json(send: Send, status: int, data: dict[str, Any]) -> None:
    body = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BatchMiddleware:
    """Answers batch submissions and polls; everything else passes through."""

    def __init__(self, app: ASGIApp, max_running: int = 1) -> None:
        self.app = app
        self.jobs: OrderedDict[str, BatchJobRecord] = OrderedDict()
        self.max_running = max(1, max_running)
        self._sem: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if (
                scope.get("method") == "POST"
                and path in SUBMIT_PATHS
                and b"endpoint_id=" in scope.get("query_string", b"")
            ):
                await self._submit(scope, receive, send)
                return
            m = _POLL.match(path)
            if m and scope.get("method") == "GET":
                await self._poll(m.group(1), m.group(2), send)
                return
        await self.app(scope, receive, send)

    # -- submit ---------------------------------------------------------------------------
    async def _submit(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        if not ctype.startswith("multipart/form-data"):
            await _json(send, 400, _error("the body must be multipart/form-data with a 'file'"))
            return
        spool = tempfile.TemporaryFile(prefix="fw-asr-batch-")  # noqa: SIM115 (the job closes it)
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    spool.close()
                    return
                chunk = message.get("body", b"")
                if chunk:
                    await asyncio.to_thread(spool.write, chunk)
                    size += len(chunk)
                if not message.get("more_body", False):
                    break
        except BaseException:  # the guard's upload cap, a cancelled request
            spool.close()
            raise
        job = BatchJobRecord(uuid.uuid4().hex)
        self.jobs[job.batch_id] = job
        while len(self.jobs) > MAX_JOBS:
            old_id, old = next(iter(self.jobs.items()))
            if old.task is not None:
                break
            self.jobs.pop(old_id)
        replay_headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
        replay_headers.append((b"content-length", str(size).encode()))
        replay = {
            **scope,
            "query_string": b"",
            "headers": replay_headers,
            "raw_path": scope["path"].encode(),
        }
        job.task = asyncio.create_task(self._run(job, replay, spool))
        await _json(send, 200, {"account_id": ACCOUNT_ID, "batch_id": job.batch_id})

    # -- run --------------------------------------------------------------------------------
    async def _run(self, job: BatchJobRecord, scope: Scope, spool: Any) -> None:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_running)
        try:
            async with self._sem:
                while True:
                    status, ctype, body = await self._replay(scope, spool)
                    if status != 429:
                        break
                    await asyncio.sleep(_RETRY_SECONDS)
            job.content_type = ctype
            job.body = body.decode("utf-8", errors="replace")
            job.status = "completed" if 200 <= status < 300 else "failed"
        except Exception as exc:  # never leave a job processing forever
            job.content_type = "application/json"
            job.body = json.dumps(
                _error(f"internal error ({type(exc).__name__})", "internal_error")
            )
            job.status = "failed"
        finally:
            job.task = None
            spool.close()

    async def _replay(self, scope: Scope, spool: Any) -> tuple[int, str | None, bytes]:
        """Send the spooled body through the synchronous route; collect its answer."""
        await asyncio.to_thread(spool.seek, 0)
        done = asyncio.Event()
        sent_all = False

        async def receive() -> Message:
            nonlocal sent_all
            if not sent_all:
                chunk = await asyncio.to_thread(spool.read, 1 << 20)
                more = bool(chunk)
                if not more:
                    sent_all = True
                return {"type": "http.request", "body": chunk, "more_body": more}
            await done.wait()  # the client of a replay never goes away
            return {"type": "http.disconnect"}

        status = 500
        ctype: str | None = None
        parts: list[bytes] = []

        async def send(message: Message) -> None:
            nonlocal status, ctype
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-type":
                        ctype = v.decode("latin-1").split(";")[0].strip()
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        try:
            await self.app(scope, receive, send)
        finally:
            done.set()
        return status, ctype, b"".join(parts)

    # -- poll -------------------------------------------------------------------------------
    async def _poll(self, account_id: str, batch_id: str, send: Send) -> None:
        job = self.jobs.get(batch_id)
        if account_id != ACCOUNT_ID or job is None:
            msg = f"no batch job {batch_id!r} for account {account_id!r}"
            await _json(send, 404, _error(msg, "not_found_error"))
            return
        await _json(
            send, 200, {"status": job.status, "content_type": job.content_type, "body": job.body}
        )


def mount(app: Any, settings: Any) -> None:
    """Add the Batch API to the engine's app (before its guard middleware is added)."""
    app.add_middleware(BatchMiddleware, max_running=int(settings.max_concurrent_jobs))
