"""File inputs: what a `file` argument may be, its name in errors and results, and
`prepare_upload`, which checks it and makes it re-readable before anything is sent."""

from __future__ import annotations

import asyncio
import io
import os
from dataclasses import dataclass, field
from typing import IO, Union

import httpx

from fw_asr_widgets.api import _config
from fw_asr_widgets.api._multipart import FileSource
from fw_asr_widgets.errors import FileTooLargeError

FileInput = Union[str, "os.PathLike[str]", bytes, IO[bytes]]
"""A path, the audio bytes, a binary file object, or an http(s) URL string."""


def source_name(file: object) -> str:
    """A readable name for a `file` argument (used in errors and `Transcript.source`)."""
    if isinstance(file, str):
        return file
    if isinstance(file, os.PathLike):
        return os.fsdecode(file)
    if isinstance(file, bytes | bytearray | memoryview):
        return "<bytes>"
    name = getattr(file, "name", None)
    return name if isinstance(name, str) else "<file object>"


def is_url(value: str) -> bool:
    """Whether a string `file` argument is an http(s) URL (sent as a form field, not read)."""
    low = value[:8].lower()
    return low.startswith("http://") or low.startswith("https://")


@dataclass
class Upload:
    """A prepared `file` argument: a URL form field, or a re-readable file part."""

    name: str
    url: str | None = None
    source: FileSource | None = None
    filename: str = "audio"
    extra: list[tuple[str, str]] = field(default_factory=list)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


_CONTAINER_EXT = {"mov,mp4,m4a,3gp,3g2,mj2": "m4a", "matroska,webm": "webm", "ogg": "ogg"}


def _ext_for(container: str) -> str:
    return _CONTAINER_EXT.get(container, container.split(",")[0] or "bin")


async def prepare_upload(file: object) -> Upload:
    """`prepare_upload_sync(file)`, in a worker thread unless `file` is a URL (no I/O)."""
    if isinstance(file, str) and is_url(file):
        return prepare_upload_sync(file)
    return await asyncio.to_thread(prepare_upload_sync, file)


def prepare_upload_sync(file: object) -> Upload:
    """Check `file` and make it re-readable (blocking: runs in a worker thread).

    Raises `FileNotFoundError`, `IsADirectoryError`, `FileTooLargeError` (over
    `MAX_UPLOAD_BYTES`), `AudioDecodeError` (not audio), `TypeError` (text-mode file or an
    unsupported type) before anything is sent.
    """
    from fw_asr_widgets.audio import probe

    limit = _config.MAX_UPLOAD_BYTES
    name = source_name(file)
    if isinstance(file, str) and is_url(file):
        parts = httpx.URL(file)
        if not parts.host:
            raise ValueError(f"file URL has no host: {file!r}")
        return Upload(name=name, url=file)
    if isinstance(file, str | os.PathLike):
        path = os.fspath(file)
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such audio file", path)
        if os.path.isdir(path):
            raise IsADirectoryError(21, "Is a directory, not an audio file", path)
        size = os.stat(path).st_size
        if size > limit:
            raise FileTooLargeError(name, size, limit)
        probe(path)
        return Upload(
            name=name, source=FileSource(path), filename=os.path.basename(path) or "audio"
        )
    if isinstance(file, bytes | bytearray | memoryview):
        src = FileSource(bytes(file))
        if src.size > limit:
            raise FileTooLargeError(name, src.size, limit)
        info = probe(src.probe_target())
        return Upload(name=name, source=src, filename=f"audio.{_ext_for(info.container)}")
    if hasattr(file, "read"):
        if isinstance(file, io.TextIOBase):
            raise TypeError(f"{name}: open the file in binary mode ('rb'), not text mode")
        src = FileSource(file)  # type: ignore[arg-type]
        if src.size > limit:
            src.close()
            raise FileTooLargeError(name, src.size, limit)
        try:
            info = probe(src.probe_target())
        except BaseException:
            src.close()
            raise
        src.rewind()
        base = os.path.basename(name) if not name.startswith("<") else ""
        return Upload(name=name, source=src, filename=base or f"audio.{_ext_for(info.container)}")
    recorded = recorded_bytes(file)
    if recorded is not None:
        upload = prepare_upload_sync(recorded)
        upload.name = f"<{type(file).__name__} recording>"
        return upload
    raise TypeError(
        "file must be a path, bytes, a binary file object, an http(s) URL or an ipywebrtc "
        f"recording, not {type(file).__name__}"
    )


def recorded_bytes(file: object) -> bytes | None:
    """The bytes of an ipywebrtc `AudioRecorder` (via its `.audio` widget) or `Audio` widget.

    Duck-typed on `.value` so the API layer needs no widget import. None if `file` is not one.
    """
    inner = getattr(file, "audio", None)
    holder = inner if inner is not None and hasattr(inner, "value") else file
    value = getattr(holder, "value", None)
    if not isinstance(value, bytes | bytearray | memoryview):
        return None
    if len(value) == 0:
        from fw_asr_widgets.audio import AudioDecodeError

        raise AudioDecodeError("the recording is empty: record something first", source=None)
    return bytes(value)
