"""The engine's own routes, as a router: `/health`, the three file routes (each also under
`/inference/v1/...`, the reference's curl paths) and the streaming WebSocket.

Routes find the settings, job slots and stream count on `app.state` (set by `create_app`), so
they are plain module-level functions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from fw_asr_widgets import _wire
from fw_asr_widgets.audio import AudioDecodeError
from fw_asr_widgets.local import engine, models
from fw_asr_widgets.local.server import guard, jobs
from fw_asr_widgets.local.server.errors import ApiError, bad
from fw_asr_widgets.local.server.forms import FileRequest, parse_request, parse_stream_params
from fw_asr_widgets.local.server.openapi import request_body

if TYPE_CHECKING:
    from fw_asr_widgets.local.server.app import Settings

MODEL_HEADER = _wire.MODEL_HEADER

health_router = APIRouter()
"""`GET /health`, mounted before `_info`'s routes (the schema lists it first)."""
router = APIRouter()
"""The file routes and the streaming WebSocket."""


@health_router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Liveness and load: open to everyone (no key), reveals nothing sensitive."""
    slots: jobs.JobSlots = request.app.state.slots
    return {
        "status": "ok",
        "jobs_running": slots.active,
        "jobs_in_flight": slots.in_flight,
        "jobs_cancelled": slots.cancelled,
        "streams_open": request.app.state.streams["open"],
        "multilingual": models.multilingual_available(),
    }


_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


def decode_error_message(filename: str | None, exc: AudioDecodeError) -> str:
    """A plain message for undecodable audio (no FFmpeg error numbers, no temp paths)."""
    detail = str(exc)
    prefix = f"{exc.source}: "  # the source may be a temp file's name or descriptor number
    if exc.source is not None and detail.startswith(prefix):
        detail = detail[len(prefix) :]
    detail = _ERRNO.sub("", detail).replace(": 'None'", "")
    return f"could not decode the uploaded file {filename or 'file'!r} as audio: {detail}"


def shape_response(req: FileRequest, full: dict[str, Any], model_name: str) -> Response:
    """Render the verbose dict in the requested `response_format`."""
    headers = {MODEL_HEADER: model_name}
    fmt = req.response_format
    if fmt == "json":
        return JSONResponse({"text": full["text"]}, headers=headers)
    if fmt == "text":
        return PlainTextResponse(full["text"], headers=headers)
    if fmt == "srt":
        return PlainTextResponse(
            engine.to_srt(full), headers=headers, media_type="application/x-subrip"
        )
    if fmt == "vtt":
        return PlainTextResponse(engine.to_vtt(full), headers=headers, media_type="text/vtt")
    body: dict[str, Any] = {
        "task": full["task"],
        "language": full["language"],
        "duration": full["duration"],
        "text": full["text"],
    }
    want_words = "word" in req.granularities
    if want_words:
        body["words"] = full["words"]
    if "segment" in req.granularities:
        segs = []
        for s in full["segments"]:
            s = dict(s)
            if not want_words:
                s.pop("words", None)
            segs.append(s)
        body["segments"] = segs
    return JSONResponse(body, headers=headers)


async def file_job(request: Request, task: str) -> Response:
    """Parse the form of a `task` request, run it in a job slot, shape the answer."""
    settings: Settings = request.app.state.settings
    slots: jobs.JobSlots = request.app.state.slots
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise bad(
            "the body must be multipart/form-data with a 'file' part "
            f"(got content-type {ctype or 'none'!r})"
        )
    slots.enter()
    try:
        try:
            form = await request.form(max_files=4, max_fields=64)
        except guard.TooLargeError:
            raise
        except Exception as exc:
            detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or exc
            raise bad(f"malformed multipart body: {detail}") from None
        try:
            req, upload = parse_request(form, task)
            if upload.size is not None and upload.size > settings.max_upload_bytes:
                raise ApiError(
                    413,
                    f"file too large: the limit is {settings.max_upload_bytes} bytes",
                    "request_too_large",
                )
            if upload.size == 0:
                raise bad(f"the uploaded file {upload.filename or 'file'!r} is empty (0 bytes)")
            upload.file.seek(0)
            try:
                result = await slots.run(jobs.run_file, upload.file, req, request=request)
            except engine.JobCancelled:
                raise ApiError(
                    499, "the client closed the connection; the job was cancelled", "cancelled"
                ) from None
            except AudioDecodeError as exc:
                raise bad(decode_error_message(upload.filename, exc)) from None
            except engine.EngineInputError as exc:
                raise bad(str(exc)) from None
            return shape_response(req, result.response, result.model_name)
        finally:
            await form.close()
    finally:
        slots.leave()


async def transcriptions(request: Request) -> Response:
    """Fireworks `POST /v1/audio/transcriptions` (multipart)."""
    return await file_job(request, "transcribe")


async def translations(request: Request) -> Response:
    """Fireworks `POST /v1/audio/translations` (multipart); `language` names the source."""
    return await file_job(request, "translate")


async def alignments(request: Request) -> Response:
    """Fireworks `POST /v1/audio/alignments`: `file` + `text` -> word and segment times.

    Decision: the local engine transcribes (prompted with `text`) and times the given
    words from the recognised ones (`engine.align_words`); `alignment_model` and
    `preprocessing` are validated and accepted. `task` is `"align"` in verbose_json.
    """
    return await file_job(request, "align")


FILE_ROUTES = (
    ("transcriptions", "transcribe", transcriptions, "Transcribe an audio file"),
    ("translations", "translate", translations, "Translate an audio file to English text"),
    ("alignments", "align", alignments, "Align a given transcript to an audio file"),
)
"""(path name, task, endpoint, summary) of each file route; each is served under `/v1/audio/`
(in the schema, its body generated from the task's field table) and `/inference/v1/audio/`."""

for _name, _task, _endpoint, _summary in FILE_ROUTES:
    router.add_api_route(
        f"/v1/audio/{_name}",
        _endpoint,
        methods=["POST"],
        openapi_extra=request_body(_task),
        summary=_summary,
    )
    router.add_api_route(
        f"/inference/v1/audio/{_name}", _endpoint, methods=["POST"], include_in_schema=False
    )


@router.websocket("/v1/audio/transcriptions/streaming")
async def streaming(websocket: WebSocket) -> None:
    """Fireworks streaming transcription.

    Authentication: header `Authorization: <key>` / `Bearer <key>`, or (for browsers) the
    query parameter `Authorization=<key>`. Rejections happen BEFORE the handshake is
    accepted, as an HTTP denial response with the Fireworks error body (401 bad key,
    404 unknown model, 400 bad parameter, 429 too many streams, 501 streaming missing);
    if the ASGI server cannot send denial responses, the socket is closed with code 1008.

    Query parameters checked here: `model` (default `whisper-v3`; any Fireworks name),
    `response_format` (`verbose_json` default, or `json`), `language` (None or `en`: the
    live engine is tiny.en, English only), `temperature` (float in [0, 1]),
    `timestamp_granularities` (repeated or comma-separated `word`/`segment`; none given:
    no times), `text_timeout_seconds` (a number of seconds > 0), `skip_vad` (`true` /
    `false` in any case, `1` / `0`), `vad_kwargs` (accepted as sent: a JSON object of
    Silero options is used, anything else ignored), `diarize` (`true` / `false`: this
    engine's live speaker labels, an extension). Other parameters are ignored.

    Then, after `await websocket.accept()`, the exact call is::

        await streaming.serve_stream(websocket, model=<tiny.en WhisperModel>, params=params)

    with `params: dict[str, str]` holding the query parameters (first value of each,
    `Authorization` removed, `model`/`response_format` filled with their defaults,
    `language` lower-cased, `timestamp_granularities` joined with commas).
    """
    settings: Settings = websocket.app.state.settings
    streams: dict[str, int] = websocket.app.state.streams
    qp = websocket.query_params
    header = websocket.headers.get("authorization") or qp.get("Authorization")
    if not guard.check_key(settings.api_key, header):
        await guard.deny(websocket, 401, "missing or invalid API key")
        return
    try:
        params = parse_stream_params(qp)
    except ApiError as exc:
        await guard.deny(websocket, exc.status, exc.message, exc.type)
        return
    try:
        from fw_asr_widgets.local import streaming as streaming_mod
    except ImportError:
        await guard.deny(websocket, 501, "streaming is not available in this build")
        return
    if streams["open"] >= settings.max_concurrent_streams:
        await guard.deny(
            websocket,
            429,
            f"too many open streams (limit {settings.max_concurrent_streams}); retry later",
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )
        return
    streams["open"] += 1
    try:
        import anyio.to_thread

        model = await anyio.to_thread.run_sync(models.load, models.ENGLISH)
        await websocket.accept()
        await streaming_mod.serve_stream(websocket, model=model, params=params)
    finally:
        streams["open"] -= 1
