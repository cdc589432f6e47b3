"""Collecting log records in tests, from loggers that do not reach pytest's caplog."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class Records(logging.Handler):
    """Keeps every record at `level` or above, from any thread."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def attached(handler: logging.Handler, *names: str) -> Iterator[logging.Handler]:
    """`handler` added to the loggers `names` ("" is the root) for the duration."""
    loggers = [logging.getLogger(n) for n in names]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
