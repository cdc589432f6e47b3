"""The streaming multipart encoder: correct bodies, bounded chunks, exact Content-Length."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import io
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from fw_asr_widgets.api._multipart import CHUNK_SIZE, FileSource, MultipartUpload


def parse(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Parse a multipart body with the standard library: name → (filename, payload)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


def test_body_round_trips_through_a_standard_parser(tmp_path: Path) -> None:
    audio = tmp_path / 'my "clip".wav'
    payload = os.urandom(200_000)
    audio.write_bytes(payload)
    up = MultipartUpload(
        [("model", "whisper-v3"), ("prompt", "naïve café\r\nline two")],
        file=FileSource(audio),
        filename=audio.name,
    )
    body = b"".join(up)
    assert len(body) == up.content_length
    assert up.headers["Content-Length"] == str(len(body))
    parts = parse(up.content_type, body)
    assert parts["model"] == (None, b"whisper-v3")
    assert parts["prompt"][1].decode() == "naïve café\r\nline two"
    filename, data = parts["file"]
    assert data == payload
    assert filename is not None and "clip" in filename and filename.endswith(".wav")
    assert up.content_type.startswith("multipart/form-data; boundary=")


def test_fields_only_body_for_url_uploads() -> None:
    up = MultipartUpload([("file", "https://example.com/a.mp3"), ("model", "whisper-v3")])
    body = b"".join(up)
    assert len(body) == up.content_length
    assert parse(up.content_type, body)["file"] == (None, b"https://example.com/a.mp3")


def test_each_iteration_restarts_the_file(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)
    sources = [FileSource(data), FileSource(io.BytesIO(b"xx" + data))]
    # A seekable file object is replayed from the position it had when the upload was built.
    sources[1]._fileobj.seek(2)  # type: ignore[union-attr]
    sources[1] = FileSource(sources[1]._fileobj)  # type: ignore[arg-type]
    for src in sources:
        up = MultipartUpload([("a", "b")], file=src)
        first = b"".join(up)
        second = b"".join(up)
        assert first == second
        assert parse(up.content_type, first)["file"][1] == data


def test_non_seekable_stream_is_spooled_once() -> None:
    data = os.urandom(150_000)
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as wf:
            wf.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(r, "rb", buffering=0) as rf:
        assert not rf.seekable()
        src = FileSource(rf)
    writer.join()
    assert src.size == len(data)
    up = MultipartUpload([], file=src)
    for _ in range(2):  # retries replay the temporary copy
        assert parse(up.content_type, b"".join(up))["file"][1] == data
    src.close()


def test_async_iteration_matches_sync(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(os.urandom(100_000))
    up = MultipartUpload([("x", "y")], file=FileSource(f))

    async def collect() -> bytes:
        return b"".join([c async for c in up])

    assert asyncio.run(collect()) == b"".join(up)


def test_50mb_sparse_file_streams_in_bounded_chunks(tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    sparse = tmp_path / "sparse.wav"
    with open(sparse, "wb") as f:
        f.truncate(size)
    up = MultipartUpload([("model", "whisper-v3")], file=FileSource(sparse), filename="s.wav")
    assert up.content_length == size + len(
        b"".join(
            MultipartUpload(
                [("model", "whisper-v3")],
                file=FileSource(b""),
                filename="s.wav",
                boundary=up.boundary,
            )
        )
    )
    tracemalloc.start()
    try:
        total = 0
        biggest = 0
        for chunk in up:
            total += len(chunk)
            biggest = max(biggest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == up.content_length
    assert biggest <= CHUNK_SIZE
    assert peak < 4 * 1024 * 1024, f"peak traced allocation {peak} bytes"


@pytest.mark.parametrize("name", ["a.mp3", "b.flac", "c.unknownext"])
def test_file_part_content_type(name: str) -> None:
    up = MultipartUpload([], file=FileSource(b"abc"), filename=name)
    head = b"".join(up).split(b"\r\n\r\n", 1)[0].decode()
    expected = {"a.mp3": "audio/mpeg", "b.flac": "audio/flac"}.get(name, "application/octet-stream")
    assert f"Content-Type: {expected}" in head
