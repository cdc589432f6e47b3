"""`create_app` and its `Settings`: the routers and middleware put together."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fw_asr_widgets.local import _info
from fw_asr_widgets.local.server import guard, jobs, routes
from fw_asr_widgets.local.server.errors import ApiError, error_response
from fw_asr_widgets.local.server.forms import FILE_MODELS, STREAM_MODELS

log = logging.getLogger("fw_asr_widgets.local")

GIB = 1024**3


@dataclass(frozen=True)
class Settings:
    """Server settings. `api_key=None` means no authentication (loopback only)."""

    api_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    max_upload_bytes: int = GIB
    max_concurrent_jobs: int = 1
    max_queued_jobs: int = 16
    max_concurrent_streams: int = 2
    retry_after_seconds: int = 5

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_concurrent_jobs", "max_concurrent_streams"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.max_queued_jobs < 0 or self.retry_after_seconds < 1:
            raise ValueError("max_queued_jobs must be >= 0 and retry_after_seconds >= 1")

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else "'***'"
        return (
            f"Settings(api_key={key}, host={self.host!r}, port={self.port!r}, "
            f"max_upload_bytes={self.max_upload_bytes!r}, "
            f"max_concurrent_jobs={self.max_concurrent_jobs!r}, "
            f"max_queued_jobs={self.max_queued_jobs!r}, "
            f"max_concurrent_streams={self.max_concurrent_streams!r})"
        )


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.type, exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = 400 if exc.status_code == 422 else exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404:
        detail = f"no such path: {request.url.path}"
    return error_response(status, detail, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return error_response(400, "; ".join(parts) or "invalid request")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s", request.url.path)
    return error_response(500, f"internal error ({type(exc).__name__})", "internal_error")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app of the embedded engine, configured by `settings`."""
    settings = settings or Settings()
    guard.install_denial_log_filter()
    app = FastAPI(
        title="fw-asr-widgets embedded engine",
        version="1",
        description="Offline, Fireworks-compatible audio API (Whisper via faster-whisper).",
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: `_info` serves an offline page
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.slots = jobs.JobSlots(
        settings.max_concurrent_jobs, settings.max_queued_jobs, settings.retry_after_seconds
    )
    app.state.streams = {"open": 0}
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)

    app.include_router(routes.health_router)
    _info.add_routes(app, file_models=FILE_MODELS, stream_models=STREAM_MODELS)
    app.include_router(routes.router)

    from fw_asr_widgets.local import batch  # the Batch API endpoints (local/batch.py)

    batch.mount(app, settings)
    app.add_middleware(guard.GuardMiddleware, settings=settings)
    return app
