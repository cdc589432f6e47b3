"""Upload: peak RSS growth and throughput of `Client.transcribe()` sending 100 MB / 1 GB files
to a loopback endpoint that discards the body, against a raw `httpx` streamed multipart upload
and the `openai` SDK, each in a fresh interpreter."""

from __future__ import annotations

import socket
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

from benchmarks._util import FigureResult, PeakRSS, Row, fmt_mb, run_child, timer

NAME = "Upload"
RESPONSE = b'{"text": ""}'
MB = 1000**2


def make_sparse_wav(path: Path, size: int) -> Path:
    """A valid 16 kHz mono PCM16 WAV of exactly `size` bytes: header, then sparse zeros."""
    data = size - 44
    header = b"RIFF" + struct.pack("<I", size - 8) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header += b"data" + struct.pack("<I", data)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(size)
    return path


# ---------------------------------------------------------------------------------------------
# The discarding endpoint: a raw threaded HTTP/1.1 server (Content-Length or chunked bodies)


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.scratch = bytearray(1 << 20)

    def _fill(self) -> bool:
        n = self.sock.recv_into(self.scratch)
        if n == 0:
            return False
        self.buf += memoryview(self.scratch)[:n]
        return True

    def readline(self) -> bytes | None:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            if not self._fill():
                return None

    def discard(self, n: int) -> None:
        take = min(n, len(self.buf))
        del self.buf[:take]
        n -= take
        view = memoryview(self.scratch)
        while n > 0:
            got = self.sock.recv_into(view[: min(n, len(view))])
            if got == 0:
                raise ConnectionError("client closed mid-body")
            n -= got


def _serve_conn(sock: socket.socket) -> None:
    conn = _Conn(sock)
    try:
        while True:
            request = conn.readline()
            if not request:
                return
            headers: dict[str, str] = {}
            while True:
                line = conn.readline()
                if line is None:
                    return
                if not line:
                    break
                k, _, v = line.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            if headers.get("expect", "").lower() == "100-continue":
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if "chunked" in headers.get("transfer-encoding", "").lower():
                while True:
                    size_line = conn.readline()
                    if size_line is None:
                        return
                    size = int(size_line.split(b";")[0], 16)
                    conn.discard(size + 2)
                    if size == 0:
                        break
            else:
                conn.discard(int(headers.get("content-length", "0")))
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(RESPONSE)}\r\n\r\n".encode()
                + RESPONSE
            )
    except (ConnectionError, OSError, ValueError):
        return
    finally:
        sock.close()


class DiscardServer:
    """`with DiscardServer() as url:` a loopback endpoint answering `{"text": ""}` to anything."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=_serve_conn, args=(s,), daemon=True).start()

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Client side (runs in a fresh interpreter)


def _upload_ours(path: str, url: str) -> None:
    from fw_asr_widgets import Client

    with Client(base_url=url, max_retries=0) as c:
        c.transcribe(path, model="whisper-v3")


def _upload_httpx(path: str, url: str) -> None:
    import httpx

    with httpx.Client(timeout=600) as c, open(path, "rb") as f:
        r = c.post(
            url + "/v1/audio/transcriptions",
            files={"file": (Path(path).name, f, "audio/wav")},
            data={"model": "whisper-v3"},
        )
        r.raise_for_status()


def _upload_openai(path: str, url: str) -> None:
    import openai

    c = openai.OpenAI(base_url=url + "/v1", api_key="not-a-key", max_retries=0, timeout=600)
    with open(path, "rb") as f:
        c.audio.transcriptions.create(model="whisper-v3", file=f)
    c.close()


def _upload_httpx_async(path: str, url: str, chunk: int = 64 * 1024) -> None:
    """httpx.AsyncClient posting the raw file as an async generator of `chunk`-byte reads
    (the shape of our client's request body, without the multipart framing)."""
    import asyncio

    import httpx

    size = Path(path).stat().st_size

    async def body() -> Any:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                yield block

    async def main() -> None:
        async with httpx.AsyncClient(timeout=600) as c:
            r = await c.post(
                url + "/v1/audio/transcriptions",
                content=body(),
                headers={"Content-Length": str(size), "Content-Type": "audio/wav"},
            )
            r.raise_for_status()

    asyncio.run(main())


_KINDS = {
    "ours": _upload_ours,
    "httpx": _upload_httpx,
    "openai": _upload_openai,
    "httpx_async_64k": _upload_httpx_async,
    "httpx_async_1m": lambda p, u: _upload_httpx_async(p, u, 1024 * 1024),
}


def child_upload(kind: str, path: str, warm: str, url: str, reps: int) -> dict[str, Any]:
    """Warm up on a small file (imports, connection code), then measure `reps` uploads: the
    best throughput and the largest RSS growth."""
    fn = _KINDS[kind]
    fn(warm, url)
    size = Path(path).stat().st_size
    best, growth = float("inf"), 0
    for _ in range(reps):
        with PeakRSS() as mem, timer() as t:
            fn(path, url)
        best, growth = min(best, t[0]), max(growth, mem.growth)
    return {"seconds": best, "growth": growth, "mbps": size / MB / best}


def _chunk_kib() -> int:
    from fw_asr_widgets.api import _multipart

    return _multipart.CHUNK_SIZE // 1024


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    sizes = [100 * MB] if quick else [100 * MB, 1000 * MB]
    reps = 3
    with tempfile.TemporaryDirectory(prefix="fw-bench-upload-") as tmp, DiscardServer() as url:
        warm = str(make_sparse_wav(Path(tmp) / "warm.wav", 1 * MB))
        for size in sizes:
            label = f"{size // MB} MB" if size < 1000 * MB else "1 GB"
            path = str(make_sparse_wav(Path(tmp) / f"upload-{size}.wav", size))
            m = {
                k: run_child("benchmarks.upload:child_upload", k, path, warm, url, reps)
                for k in ("ours", "httpx", "openai", "httpx_async_64k", "httpx_async_1m")
            }
            ours, raw, oai = m["ours"], m["httpx"], m["openai"]
            big = size >= 1000 * MB
            res.rows.append(
                Row(
                    NAME,
                    f"RSS growth, {label}",
                    fmt_mb(ours["growth"]),
                    "raw httpx / openai SDK",
                    f"{fmt_mb(raw['growth'])} / {fmt_mb(oai['growth'])}",
                    f"{ours['growth'] / oai['growth']:.3f}× openai"
                    if oai["growth"] >= 2**20
                    else "—",
                    "< 64 MiB at 1 GB" if big else "(goal at 1 GB)",
                    (ours["growth"] < 64 * 2**20) if big else None,
                )
            )
            tp_ratio = ours["mbps"] / raw["mbps"]
            res.notes.append(
                f"{label}, for comparison: a bare httpx.AsyncClient upload of the file as an "
                "async generator (the shape of our client's request body, which its multipart "
                f"encoder reads in {_chunk_kib()} KiB chunks) runs at "
                f"{m['httpx_async_64k']['mbps']:.0f} MB/s with 64 KiB reads and "
                f"{m['httpx_async_1m']['mbps']:.0f} MB/s with 1 MiB reads."
            )
            res.rows.append(
                Row(
                    NAME,
                    f"throughput, {label}",
                    f"{ours['mbps']:.0f} MB/s",
                    "raw httpx / openai SDK",
                    f"{raw['mbps']:.0f} / {oai['mbps']:.0f} MB/s",
                    f"{tp_ratio:.2f}× httpx",
                    "≥ 0.9× raw httpx",
                    tp_ratio >= 0.9,
                )
            )
    res.notes.append(
        "Each client runs in a fresh interpreter: a 1 MB warm-up upload, then 3 uploads (best "
        "throughput, largest RSS growth reported); RSS growth is the kernel's peak-RSS "
        "high-water mark (VmHWM, reset just before each upload) minus RSS before it. "
        "Files are valid 16 kHz PCM16 WAVs (header + sparse zeros) so the client's probe "
        "accepts them. The endpoint is a raw threaded HTTP/1.1 server on loopback that reads and "
        'drops the body and answers {"text": ""}; it runs in the parent process.'
    )
    res.notes.append(
        "Baselines: httpx.Client.post(files={'file': open(path,'rb')}) (httpx streams file "
        "fields in 64 KiB reads); openai.OpenAI(base_url=…).audio.transcriptions.create("
        "file=open(path,'rb'))."
    )
    return res
