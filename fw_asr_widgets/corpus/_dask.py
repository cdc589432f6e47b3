"""`transcribe_corpus(cluster=dask_client)`: the same run spread over Dask workers.

Decisions:
- The files are cut into chunks (about four per worker, at most `batch_size` files each)
  and each chunk is one task. A task transcribes its chunk with the in-process machinery
  (`run_sync`) and writes its own parts into `out`, so `out` must be a folder every worker
  can reach (a shared or network file system). The caller only gathers counts.
- Each worker process keeps one `Client` between tasks. With no key and no `base_url` that
  client starts the worker's own embedded engine (workers need `fw-asr-widgets[local]`).
- The API key never enters a task: tasks carry only the base URL and the transcription
  options, so task reprs, the dashboard and logs cannot show it. The key goes to the
  workers once, in a `WorkerPlugin` whose repr is redacted and which keeps it in this
  module (not in the worker's environment). It travels pickled over the scheduler's comm:
  use TLS (`distributed` security settings) for a cluster beyond one machine, or give the
  workers `FIREWORKS_API_KEY` themselves and no key here.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from fw_asr_widgets.api._config import ENV_KEY, Secret
from fw_asr_widgets.corpus._dataset import DatasetWriter
from fw_asr_widgets.corpus._sources import SourceFile
from fw_asr_widgets.corpus._work import CorpusBar, Sink, _async_client, iter_chunks, run_sync

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - the corpus extra brings distributed
    WorkerPlugin = object  # type: ignore[assignment,misc]

PLUGIN_NAME = "fw-asr-widgets-api-key"
_worker_key: Secret | None = None
_clients: dict[tuple[str | None, bool, float, int], Any] = {}
_clients_lock = threading.Lock()


class ApiKeyPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Hands the Fireworks key to each worker once (kept in memory, never in a task)."""

    name = PLUGIN_NAME

    def __init__(self, key: str) -> None:
        self._key = Secret(key)

    def setup(self, worker: Any = None) -> None:
        global _worker_key
        _worker_key = self._key

    def teardown(self, worker: Any = None) -> None:
        global _worker_key
        _worker_key = None

    def __repr__(self) -> str:
        return "ApiKeyPlugin(key='***')"

    __str__ = __repr__


def _worker_client(base_url: str | None, timeout: float, max_retries: int) -> Any:
    """This worker process's client (created once; the embedded engine starts with it)."""
    import os

    from fw_asr_widgets.api.client import Client

    key = _worker_key.get() if _worker_key is not None else os.environ.get(ENV_KEY)
    cache = (base_url, bool(key), timeout, max_retries)
    with _clients_lock:
        c = _clients.get(cache)
        if c is None:
            c = Client(key, base_url=base_url, timeout=timeout, max_retries=max_retries)
            _clients[cache] = c
        return c


def transcribe_chunk(
    chunk: list[SourceFile],
    out: str,
    base_url: str | None,
    kw: dict[str, Any],
    concurrency: int,
    batch_size: int,
    flush_seconds: float,
    timeout: float,
    max_retries: int,
) -> dict[str, Any]:
    """Worker side: transcribe `chunk`, write its parts into `out`, return the counts."""
    client = _worker_client(base_url, timeout, max_retries)
    sink = Sink(DatasetWriter(out), batch_size, flush_seconds)
    return run_sync(client.async_client, chunk, sink, concurrency, kw, CorpusBar(0, False))


def run_on_cluster(
    dask_client: Any,
    client: Any,
    todo: list[SourceFile],
    out: str,
    concurrency: int,
    kw: dict[str, Any],
    progress: bool,
    batch_size: int,
    flush_seconds: float,
) -> dict[str, Any]:
    """Run `todo` as tasks on `dask_client`'s workers; gather the counts with a bar."""
    import os

    from distributed import as_completed

    base_url, key, timeout, max_retries = None, None, 600.0, 2
    if client is not None:
        ac = _async_client(client)
        # The key is read from the client's private config on purpose: no public attribute
        # hands the key out (see SECURITY.md); it goes to the workers only in the plugin.
        raw = ac._raw_config
        base_url = raw.base_url
        key = raw.api_key.get() if raw.api_key is not None else None
        timeout, max_retries = ac.timeout, ac.max_retries
    else:
        key = os.environ.get(ENV_KEY) or None
    if key:
        dask_client.register_plugin(ApiKeyPlugin(key), name=PLUGIN_NAME)
    counts: dict[str, Any] = {"ok": 0, "failed": 0, "audio_seconds": 0.0, "errors": {}}
    if not todo:
        return counts
    n_workers = max(1, len(dask_client.scheduler_info().get("workers", {})))
    size = max(1, min(batch_size, math.ceil(len(todo) / (n_workers * 4))))
    chunks = list(iter_chunks(todo, size))
    out_abs = os.path.abspath(out)
    futures = [
        dask_client.submit(
            transcribe_chunk,
            ch,
            out_abs,
            base_url,
            kw,
            concurrency,
            batch_size,
            flush_seconds,
            timeout,
            max_retries,
            pure=False,
        )
        for ch in chunks
    ]
    bar = CorpusBar(len(todo), progress)
    try:
        for _fut, res in as_completed(futures, with_results=True):
            n = int(res["ok"]) + int(res["failed"])
            bar.update(n, float(res["audio_seconds"]), int(res["failed"]))
            for k in ("ok", "failed", "audio_seconds"):
                counts[k] += res[k]
            for k, v in res["errors"].items():
                counts["errors"][k] = counts["errors"].get(k, 0) + v
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    finally:
        bar.close()
    return counts
