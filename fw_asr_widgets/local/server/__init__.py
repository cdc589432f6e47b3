"""The embedded Fireworks-compatible audio server (FastAPI on uvicorn).

Routes (as `docs/fireworks-audio-api.md`): `POST /v1/audio/transcriptions`,
`POST /v1/audio/translations`, `POST /v1/audio/alignments` (approximate: see
`engine.align_words`), each also under `/inference/v1/audio/...` (the reference's curl
examples), WebSocket `/v1/audio/transcriptions/streaming`, plus `GET /health` and the
OpenAPI schema at `/openapi.json`; `GET /`, `GET /v1/models` and the offline `GET /docs` page
come from `_info`.

Every error body has the Fireworks shape
`{"error": {"object": "error", "type": <type>, "message": <text>}}`:

| status | type | when |
|---|---|---|
| 400 | `invalid_request_error` | bad field value or type, bad enum, malformed multipart, |
|     |                         | undecodable audio, URL as `file`, multilingual model missing |
| 401 | `authentication_error` | missing or wrong key on a server started with a key |
| 404 | `not_found_error` | unknown model (the message lists the available ones), unknown path |
| 405 | `invalid_request_error` | wrong HTTP method |
| 413 | `request_too_large` | body above `max_upload_bytes` (from Content-Length, or counted) |
| 429 | `rate_limit_error` | job queue full; carries `Retry-After` (seconds) |
| 500 | `internal_error` | unexpected failure (the server keeps serving) |
| 501 | `not_implemented_error` | streaming module missing (WebSocket denial) |

FastAPI's own 422 validation errors never appear: they are mapped to 400.
The local model that served a request is named in the response header `x-fw-asr-local-model`.

Modules: `app` (`create_app`, `Settings`), `routes` (the routes, as a router), `forms` (the
request fields, declared once: parsers and schema), `openapi` (the multipart schema generated
from `forms`), `guard` (key and size checks, WebSocket refusals), `jobs` (job slots, worker
threads, cancellation), `errors` (the Fireworks error body). `_info` (`GET /`, `/v1/models`,
`/docs`) and `batch` (the Batch API) mount into the app from `create_app`.
"""

from fw_asr_widgets.local.server.app import GIB, Settings, create_app
from fw_asr_widgets.local.server.errors import ApiError, error_body, error_response
from fw_asr_widgets.local.server.guard import MULTIPART_SLACK, GuardMiddleware, check_key
from fw_asr_widgets.local.server.jobs import JobSlots
from fw_asr_widgets.local.server.routes import MODEL_HEADER

__all__ = [
    "GIB",
    "MODEL_HEADER",
    "MULTIPART_SLACK",
    "ApiError",
    "GuardMiddleware",
    "JobSlots",
    "Settings",
    "check_key",
    "create_app",
    "error_body",
    "error_response",
]
