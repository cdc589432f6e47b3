"""Fixtures for the corpus tests: a synthetic corpus on disk and an engine with two job slots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.corpus._gen import make_corpus

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

N_FILES = int(os.environ.get("FW_CORPUS_TEST_FILES", "200"))
"""The resume test's corpus size (the issue asks for 200: 190 speech files, 10 corrupt)."""

FAST = {"temperature": 0.0, "language": "en"}
"""Transcription options the tests use: no temperature fallback (fewer decodes per file)."""


@pytest.fixture(scope="session")
def big_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[Path]]:
    """N_FILES files: 95 % cut/mixed/resampled speech, 5 % corrupt."""
    root = tmp_path_factory.mktemp("corpus-src")
    n_bad = max(3, N_FILES // 20)
    good, bad = make_corpus(root, N_FILES - n_bad, n_bad, seed=19)
    return root, good, bad


@pytest.fixture(scope="session")
def engine() -> Iterator[object]:
    """An embedded engine running two jobs at once (the corpus tests' server)."""
    from fw_asr_widgets.local import serve

    handle = serve(max_concurrent_jobs=2, max_queued_jobs=64)
    try:
        yield handle
    finally:
        handle.close()
