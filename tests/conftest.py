"""Shared fixtures: the real speech samples and one embedded server per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [ROOT.parent / "shared" / "data", ROOT / "fw_asr_widgets" / "samples"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """`../shared/data` (real recordings with references), or the bundled samples."""
    for c in _CANDIDATES:
        if (c / "jfk.wav").exists():
            return c
    pytest.fail("no speech samples found in ../shared/data or fw_asr_widgets/samples")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` itself: every sample, including the ones not bundled."""
    d = _CANDIDATES[0]
    if not (d / "README.md").exists():
        pytest.fail("../shared/data is missing")
    return d


JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


@pytest.fixture(scope="session")
def local_server() -> Iterator[object]:
    """One embedded Fireworks-compatible server on a free loopback port (no API key)."""
    from fw_asr_widgets.local import serve

    handle = serve()
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see a real key from the environment."""
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    os.environ.setdefault("FW_ASR_QUIET", "1")
