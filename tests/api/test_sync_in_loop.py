"""The sync Client inside a running event loop: `asyncio.run(...)` and a real Jupyter kernel."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import fw_asr_widgets as fw

ROOT = Path(__file__).resolve().parents[2]


def test_sync_client_inside_a_running_loop(local_server: Any, shared_data: Path) -> None:
    async def cell() -> Any:
        asyncio.get_running_loop()  # we really are inside a loop, as in a notebook cell
        with fw.Client(base_url=local_server.url) as client:
            return client.transcribe(shared_data / "english.wav")

    tr = asyncio.run(cell())
    assert isinstance(tr, fw.Transcript)
    assert "two" in tr.text.lower() or "2" in tr.text


def test_sync_errors_propagate_from_the_loop_thread(shared_data: Path) -> None:
    async def cell() -> None:
        # Nothing listens on port 9 of loopback: a connection error, raised in this thread.
        with fw.Client(base_url="http://127.0.0.1:9", max_retries=0) as client:
            client.transcribe(shared_data / "english.wav")

    with pytest.raises(fw.APIConnectionError, match="127.0.0.1:9"):
        asyncio.run(cell())


@pytest.mark.slow
def test_sync_client_in_a_real_kernel(local_server: Any, shared_data: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            textwrap.dedent(
                f"""
                import asyncio, fw_asr_widgets as fw
                asyncio.get_running_loop()  # the kernel's loop is running in this cell
                client = fw.Client(base_url={local_server.url!r})
                """
            )
        ),
        nbformat.v4.new_code_cell(
            f"print(client.transcribe({str(shared_data / 'english.wav')!r}, "
            "response_format='text'))"
        ),
    ]
    runner = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    runner.execute()
    out = "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert "two" in out.lower() or "2" in out, nb.cells[1].outputs
