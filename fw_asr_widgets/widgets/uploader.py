"""`Uploader`: drop or pick audio files of any size (or type a path/URL) and transcribe them.

Length (over 500 lines): the slice protocol, the per-file jobs and their cancellation are one
state machine over the same locks; the messages are documented here, next to it.

Browser → kernel messages are capped (~10 MB in Jupyter, ~1 MB in Colab), so files travel in
acknowledged slices of `SLICE_BYTES`:

- browser → kernel: ``{"type": "slice", "file_id", "index", "final", "name", "size"}`` with the
  slice bytes as the one buffer; the browser keeps at most `WINDOW` slices unacknowledged.
- kernel → browser: ``{"type": "slice_ack", "file_id", "index"}`` after the slice is on disk,
  or ``{"type": "slice_error", "file_id", "message"}`` (the browser stops sending that file).
- browser → kernel: ``{"type": "path", "value"}`` (a path on the kernel's machine or an
  http(s) URL), ``{"type": "cancel", "file_id"}`` and ``{"type": "hello"}`` (a view rendered).

An upload whose page went away (reloaded or closed mid-upload) sends nothing more: when a view
renders or a new file starts, uploads with no slice for `STALE_SECONDS` are failed as
interrupted and their partial temp files deleted.

Ordering rules: a slice whose index was already written is a duplicate: it is acknowledged
again and its bytes are ignored (idempotent retries). A slice from the future (index beyond
the next expected one) means bytes were lost: the file fails with a clear error and its temp
file is deleted. Slices go to a temp file in a private temp directory; the file is deleted
once transcribed, on error, on cancel and on `close()` (unless `keep_audio=True`, which keeps
it until `close()` so a viewer can play it; see `audio_paths`).

Transcription runs on a thread pool (`concurrency` files at once), so the cell returns at
once and results arrive between cells. The `files` trait holds only small per-file status
(id, name, size, progress, state, error, summary, served_by, started_at, estimate): never
bytes, never the API key.

Decisions:
- The settings line names what will transcribe (`planned_model_label`: with the embedded engine
  "embedded engine (Whisper tiny.en)", not the Fireworks name it is asked for); each finished
  row names what did (`served_by`, from the engine's `x-fw-asr-local-model` report).
- Errors speak of the user's file by its name: a browser upload's temp path never shows, nor
  an errno; an undecodable file gets one plain sentence (`errors` holds the same text).
- While the server works there is no progress to report, so a row shows the time elapsed and
  an estimate: the file's duration (probed before sending) divided by a speed factor, at first
  `ASSUMED_SPEED`, then the speed measured on this uploader's finished files. `started_at` is
  the kernel's wall clock (epoch seconds); the page counts from it.
- Slices may reach `_on_slice` out of order: the page keeps `window` slices in flight, and a
  kernel that hands a widget's messages to several threads (JupyterLab's kernel subshells)
  lets a later slice take the lock first. A slice ahead of the expected one, by less than the
  window, is held (at most `window` slices of memory) and written, then acknowledged, when
  its turn comes. A larger gap cannot come from a page that honours the window, so it fails
  the file; so does a gap that is never filled (`STALE_SECONDS`, as for an abandoned page).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import traitlets

from fw_asr_widgets.api._files import is_url
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets._base import (
    FwWidget,
    bundle,
    friendly_error,
    planned_model_label,
    resolve_client,
    served_model_label,
)

__all__ = ["SLICE_BYTES", "WINDOW", "Uploader"]

SLICE_BYTES = 512 * 1024
"""Bytes per browser → kernel slice (well under Colab's ~1 MB message limit)."""

WINDOW = 3
"""Slices the browser may have in flight before it waits for an acknowledgement."""

STALE_SECONDS = 10.0
"""An unfinished upload with no slice for this long is abandoned (its page went away)."""

ASSUMED_SPEED = 8.0
"""Seconds of audio transcribed per second before one is measured (the embedded engine with
diarization on a shared 2-core machine: a 3-minute file in about 24 s)."""

_PROGRESS_STEP = 0.02

ResultCallback = Callable[[str, Transcript], Any]


@dataclass
class _Upload:
    id: str
    name: str
    size: int
    path: Path | None = None
    fh: Any = None
    next_index: int = 0
    received: int = 0
    progress_sent: float = 0.0
    source: str = ""
    temp: bool = True
    failed: bool = False
    last_slice: float = field(default_factory=time.monotonic)
    ahead: dict[int, tuple[bool, memoryview]] = field(default_factory=dict)
    """Slices that arrived before `next_index`: index -> (final, bytes)."""


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def _summary(tr: Transcript) -> str:
    n_spk = len(tr.speakers)
    dur = tr.duration or (tr.segments[-1].end if tr.segments else 0.0)
    parts = [f"{len(tr.segments)} segments", f"{dur:.1f} s"]
    if n_spk:
        parts.append(f"{n_spk} speaker{'s' if n_spk != 1 else ''}")
    return ", ".join(parts)


class Uploader(FwWidget):
    """Drag-and-drop / file-picker / path-or-URL uploader that transcribes in the background.

    >>> up = Uploader(diarize=True)        # no key: the embedded engine
    >>> up                                 # drop files in the page; the cell returns at once
    >>> up.to_pandas()                     # later: one DataFrame, with a `source` column

    Results: `transcripts` (source → Transcript), `errors` (source → message), `to_pandas()`,
    `on_result(callback)` (called as ``callback(source, transcript)`` from a worker thread).
    """

    _esm = bundle("uploader.js")
    _css = bundle("uploader.css")

    files = traitlets.List(traitlets.Dict()).tag(sync=True)
    slice_size = traitlets.Int(SLICE_BYTES).tag(sync=True)
    window = traitlets.Int(WINDOW).tag(sync=True)
    settings = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        client: Any = None,
        diarize: bool = False,
        model: str = "whisper-v3",
        language: str | None = None,
        concurrency: int = 2,
        *,
        keep_audio: bool = False,
        **transcribe_kwargs: Any,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be ≥ 1, not {concurrency!r}")
        super().__init__()
        self._client = client
        self.diarize = bool(diarize)
        self.model_name = model
        self.language = language
        self.keep_audio = keep_audio
        self.transcribe_kwargs = dict(transcribe_kwargs)
        self.transcripts: dict[str, Transcript] = {}
        self.errors: dict[str, str] = {}
        self.audio_paths: dict[str, Path] = {}
        self._callbacks: list[ResultCallback] = []
        self._uploads: dict[str, _Upload] = {}
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._tmpdir = Path(tempfile.mkdtemp(prefix="fw-asr-upload-"))
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fw-asr-up")
        self._inflight: set[Future[Any]] = set()
        self._closed = False
        self._counter = itertools.count(1)
        self._speed = ASSUMED_SPEED
        self.settings = " · ".join(
            [planned_model_label(self.client, model, language), *(["diarize"] if diarize else [])]
        )
        self.on_msg(self._on_msg)

    # -- public API -----------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The API client (created on first use: the embedded engine when there is no key)."""
        if self._client is None:
            self._client = resolve_client(None)
        return self._client

    def on_result(self, callback: ResultCallback) -> ResultCallback:
        """Call ``callback(source, transcript)`` for every finished file (usable as decorator)."""
        if not callable(callback):
            raise TypeError("on_result needs a callable taking (source, transcript)")
        self._callbacks.append(callback)
        return callback

    def add(self, value: str | os.PathLike[str]) -> str:
        """Transcribe a file on the kernel's machine or an http(s) URL; returns its row id."""
        text = os.fspath(value).strip()
        fid = uuid.uuid4().hex[:12]
        if not text:
            raise ValueError("give a file path or an http(s) URL")
        if is_url(text):
            name = text.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or text
            rec = _Upload(id=fid, name=name, size=0, temp=False)
            rec.source = self._unique_source(text)
            self._add_row(rec, state="queued", progress=1.0)
            self._submit(rec, text)
            return fid
        path = Path(text).expanduser()
        rec = _Upload(id=fid, name=path.name or text, size=0, temp=False)
        rec.source = self._unique_source(str(path))
        if not path.is_file():
            self._add_row(rec, state="error", progress=0.0)
            why = "is a directory" if path.is_dir() else "no such file"
            self._fail(rec, f"{path}: {why}")
            return fid
        rec.size = path.stat().st_size
        rec.path = path
        self._add_row(rec, state="queued", progress=1.0)
        self._submit(rec, str(path))
        return fid

    def to_pandas(self, level: str = "segment") -> Any:
        """All results as one DataFrame with a leading `source` column (in finishing order)."""
        import pandas as pd

        with self._lock:
            items = list(self.transcripts.items())
        frames = []
        for source, tr in items:
            df = tr.to_pandas(level=level)
            if "source" in df.columns:  # newer Transcript frames carry it already
                df = df.drop(columns="source")
            df.insert(0, "source", source)
            frames.append(df)
        if not frames:
            return pd.DataFrame(columns=["source"])
        out = pd.concat(frames, ignore_index=True)
        if "speaker" in out.columns:
            out["speaker"] = out["speaker"].astype("category")
        out["source"] = out["source"].astype("category")
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Block until queued transcriptions finish; False on timeout.

        Only for scripts and tests: in a notebook cell, uploads from the page are not received
        while the cell runs, so wait in a later cell or use `on_result`.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        """Stop workers, delete every temp file, close the widget."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self._pool.shutdown(wait=False, cancel_futures=True)
            with self._lock:
                for fut in list(self._inflight):  # requests in flight: cancel, close sockets
                    fut.cancel()
                for rec in self._uploads.values():
                    self._close_file(rec)
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self.audio_paths.clear()
        super().close()

    # -- rows -------------------------------------------------------------------------------

    def _unique_source(self, name: str) -> str:
        with self._lock:
            taken = set(self.transcripts) | {r.source for r in self._uploads.values()}
            if name not in taken:
                return name
            stem, dot, ext = name.rpartition(".")
            for k in itertools.count(2):
                cand = f"{stem} ({k}).{ext}" if dot and stem else f"{name} ({k})"
                if cand not in taken:
                    return cand
        raise AssertionError("unreachable")  # pragma: no cover

    def _add_row(self, rec: _Upload, **fields: Any) -> None:
        row = {
            "id": rec.id,
            "name": rec.name,
            "source": rec.source,
            "size": rec.size,
            "size_text": _human(rec.size) if rec.size else "",
            "progress": 0.0,
            "state": "uploading",
            "error": "",
            "summary": "",
            "served_by": "",
            "started_at": 0.0,
            "estimate": 0.0,
        }
        row.update(fields)
        with self._lock:
            self._uploads[rec.id] = rec
            self._set_files([*self.files, row])

    def _update_row(self, fid: str, **fields: Any) -> None:
        with self._lock:
            self._set_files([{**r, **fields} if r["id"] == fid else r for r in self.files])

    def _set_files(self, rows: list[dict[str, Any]]) -> None:
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
        order = ("uploading", "queued", "transcribing", "done", "error")
        with self.hold_sync():
            self.files = rows
            self.status = " · ".join(f"{counts[k]} {k}" for k in order if counts.get(k))

    def _row(self, fid: str) -> dict[str, Any] | None:
        return next((r for r in self.files if r["id"] == fid), None)

    # -- slices ---------------------------------------------------------------------------

    def _post(self, content: dict[str, Any]) -> None:
        if self.comm is not None:
            self.send(content)

    def _close_file(self, rec: _Upload, *, delete: bool = True) -> None:
        if rec.fh is not None:
            try:
                rec.fh.close()
            finally:
                rec.fh = None
        if delete and rec.temp and rec.path is not None:
            rec.path.unlink(missing_ok=True)

    def _fail(self, rec: _Upload, message: str) -> None:
        rec.failed = True
        rec.ahead.clear()
        self._close_file(rec)
        with self._lock:
            self.errors[rec.source] = message
            self.audio_paths.pop(rec.source, None)
        self._update_row(rec.id, state="error", error=message)

    def _drop_abandoned(self) -> None:
        """Fail unfinished uploads that have had no slice for `STALE_SECONDS`."""
        now = time.monotonic()
        for rec in list(self._uploads.values()):
            if rec.fh is not None and not rec.failed and now - rec.last_slice >= STALE_SECONDS:
                if rec.ahead:
                    msg = (
                        f"upload stalled at {_human(rec.received)} of {_human(rec.size)}: "
                        f"slice {rec.next_index} never arrived; drop the file again"
                    )
                else:
                    msg = (
                        f"interrupted after {_human(rec.received)} of {_human(rec.size)}: the "
                        "page was reloaded or closed during the upload; drop the file again"
                    )
                self._fail(rec, msg)

    def _slice_error(self, fid: str, message: str) -> None:
        self._post({"type": "slice_error", "file_id": fid, "message": message})

    def _window(self) -> int:
        return min(max(1, int(self.window)), 64)

    def _on_slice(self, content: dict[str, Any], buffers: list[Any]) -> None:
        fid = content.get("file_id")
        index = content.get("index")
        if not isinstance(fid, str) or not fid or not isinstance(index, int) or index < 0:
            return  # malformed: nothing to attribute it to
        rec = self._uploads.get(fid)
        if rec is None:
            self._drop_abandoned()
            name = os.path.basename(str(content.get("name") or "upload"))[:200] or "upload"
            size = content.get("size")
            if not isinstance(size, int) or size < 0:
                self._slice_error(fid, "slice without a valid file size")
                return
            rec = _Upload(id=fid, name=name, size=size)
            rec.source = self._unique_source(name)
            self._add_row(rec)
            if index >= self._window():
                msg = f"slice {index} arrived before slice 0: upload out of order"
                self._fail(rec, msg)
                self._slice_error(fid, msg)
                return
            suffix = Path(name).suffix[:16]
            fd, tmp = tempfile.mkstemp(prefix="up-", suffix=suffix, dir=self._tmpdir)
            rec.path = Path(tmp)
            rec.fh = os.fdopen(fd, "wb")
        if rec.failed:
            self._slice_error(fid, self.errors.get(rec.source, "upload failed"))
            return
        if index < rec.next_index:  # duplicate: acknowledge again, write nothing
            self._post({"type": "slice_ack", "file_id": fid, "index": index})
            return
        if rec.fh is None:  # already complete; a late slice with a new index
            self._slice_error(fid, f"slice {index} arrived after the final slice")
            return
        data = memoryview(buffers[0]) if buffers else memoryview(b"")
        final = bool(content.get("final"))
        if index > rec.next_index:
            if index - rec.next_index >= self._window():
                msg = (
                    f"slice {index} arrived while slice {rec.next_index} was expected: "
                    "upload out of order"
                )
                self._fail(rec, msg)
                self._slice_error(fid, msg)
                return
            # Its turn comes when the gap fills; a copy, as the message's buffer is not ours.
            rec.ahead[index] = (final, memoryview(bytes(data)))
            rec.last_slice = time.monotonic()
            return
        self._write_slice(rec, final, data)
        while not rec.failed and rec.fh is not None and rec.next_index in rec.ahead:
            final, data = rec.ahead.pop(rec.next_index)
            self._write_slice(rec, final, data)

    def _write_slice(self, rec: _Upload, final: bool, data: memoryview) -> None:
        """Write the expected slice `rec.next_index`, acknowledge it, finish on the last."""
        fid, index = rec.id, rec.next_index
        if rec.received + data.nbytes > rec.size:
            msg = f"received more than the declared {rec.size} bytes"
            self._fail(rec, msg)
            self._slice_error(fid, msg)
            return
        assert rec.fh is not None
        rec.fh.write(data)
        rec.last_slice = time.monotonic()
        rec.received += data.nbytes
        rec.next_index += 1
        self._post({"type": "slice_ack", "file_id": fid, "index": index})
        progress = rec.received / rec.size if rec.size else 1.0
        if final:
            self._close_file(rec, delete=False)
            if rec.received != rec.size:
                self._fail(rec, f"upload ended after {rec.received} of {rec.size} bytes")
                return
            self._update_row(fid, progress=1.0, state="queued")
            if self.keep_audio and rec.path is not None:
                self.audio_paths[rec.source] = rec.path
            self._submit(rec, str(rec.path))
        elif progress - rec.progress_sent >= _PROGRESS_STEP:
            rec.progress_sent = progress
            self._update_row(fid, progress=round(progress, 4))

    def _on_msg(self, _widget: Any, content: Any, buffers: list[Any] | None) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "slice":
            # One slice at a time: a kernel may hand a widget's messages to more than one
            # thread (JupyterLab's kernel subshells). The lock keeps each slice's bookkeeping
            # whole; `_on_slice` puts slices that overtake each other back in order.
            with self._lock:
                self._on_slice(content, list(buffers or []))
        elif kind == "path":
            with contextlib.suppress(ValueError):  # an empty box: nothing to do
                self.add(str(content.get("value", "")))
        elif kind == "hello":
            self._drop_abandoned()
        elif kind == "cancel":
            rec = self._uploads.get(str(content.get("file_id")))
            if rec is not None and not rec.failed and rec.fh is not None:
                self._fail(rec, "cancelled")

    # -- transcription ------------------------------------------------------------------------

    def _submit(self, rec: _Upload, target: str) -> None:
        with self._lock:
            self._pending += 1
        try:
            self._pool.submit(self._run, rec, target)
        except RuntimeError:  # pool shut down (widget closed)
            self._done_one()

    def _done_one(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _transcribe(self, target: str, kwargs: dict[str, Any]) -> Any:
        """`client.transcribe(target, **kwargs)`; with our sync `Client`, as a future on its
        loop that `close()` can cancel (so no request outlives the widget)."""
        from fw_asr_widgets.api.client import Client

        client = self.client
        if not isinstance(client, Client):
            return client.transcribe(target, **kwargs)
        fut = client._submit("transcribe", target, **kwargs)
        with self._lock:
            self._inflight.add(fut)
            if self._closed:
                fut.cancel()
        try:
            return fut.result()
        except CancelledError:
            raise RuntimeError("cancelled: the uploader was closed") from None
        finally:
            with self._lock:
                self._inflight.discard(fut)

    @staticmethod
    def _audio_seconds(target: str) -> float:
        """Duration of the file `target` from its header (0.0: unknown, a URL, undecodable)."""
        if is_url(target):
            return 0.0
        try:
            from fw_asr_widgets.audio import probe

            info = probe(target)
        except Exception:  # undecodable: the request reports it properly
            return 0.0
        return float(info.duration or 0.0)

    def _user_error(self, rec: _Upload, exc: BaseException) -> str:
        """One plain sentence about `rec` by the user's file name (no temp path, no errno)."""
        from fw_asr_widgets.audio import AudioDecodeError

        name = rec.name
        if isinstance(exc, AudioDecodeError):
            detail = str(exc).lower()
            if "empty" in detail:
                return f"{name} is empty (0 bytes)."
            if "no audio stream" in detail:
                return f"{name} has no audio track."
            if "no such file" in detail:
                return f"{name} is no longer there (moved or deleted?)."
            return (
                f"{name} is not an audio or video file that can be read (or it is damaged). "
                "Try WAV, MP3, FLAC, OGG, M4A or MP4."
            )
        return _scrub_paths(friendly_error(exc), rec, self._tmpdir)

    def _run(self, rec: _Upload, target: str) -> None:
        try:
            audio_seconds = self._audio_seconds(target)
            started = time.time()
            self._update_row(
                rec.id,
                state="transcribing",
                started_at=round(started, 3),
                estimate=round(audio_seconds / self._speed, 1) if audio_seconds > 0 else 0.0,
            )
            kwargs: dict[str, Any] = {
                "model": self.model_name,
                "response_format": "verbose_json",
                "timestamp_granularities": ["word", "segment"],
                **self.transcribe_kwargs,
            }
            if self.language:
                kwargs["language"] = self.language
            if self.diarize:
                kwargs["diarize"] = True
            tr = self._transcribe(target, kwargs)
            if not isinstance(tr, Transcript):
                raise TypeError(f"the client returned {type(tr).__name__}, not a Transcript")
            took = time.time() - started
            if audio_seconds > 0 and took > 0:
                self._speed = max(0.5, audio_seconds / took)
            tr = tr.with_source(rec.source)
            served = served_model_label(self.client, self.model_name, tr)
            with self._lock:
                self.transcripts[rec.source] = tr
                self.errors.pop(rec.source, None)
            self._update_row(
                rec.id, state="done", progress=1.0, summary=_summary(tr), served_by=served
            )
            for cb in list(self._callbacks):
                try:
                    cb(rec.source, tr)
                except Exception as exc:
                    self._update_row(rec.id, error=f"on_result callback failed: {exc!r}")
        except Exception as exc:
            self._fail(rec, self._user_error(rec, exc))
        finally:
            if rec.temp and not (self.keep_audio and rec.source in self.audio_paths):
                self._close_file(rec)
            self._done_one()


_ERRNO = re.compile(r"\s*\((?:[A-Za-z_.]*Error: )?\[Errno -?\d+\][^)]*\)|\[Errno -?\d+\]\s*")


def _scrub_paths(message: str, rec: _Upload, tmpdir: Path) -> str:
    """`message` with `rec`'s temp path (and the temp folder) replaced by the file's name and
    errno codes removed."""
    if rec.temp and rec.path is not None:
        for form in (str(rec.path), rec.path.name):
            message = message.replace(form, rec.name)
    message = message.replace(str(tmpdir), "<upload>")
    return _ERRNO.sub("", message).strip()
