"""What a `file` argument may be, and the name it is known by in errors and results."""

from __future__ import annotations

import os
from typing import IO, Union

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
