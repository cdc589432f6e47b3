"""Nothing is downloaded at run time: in a fresh process with every non-loopback connection
and name lookup refused, and empty model caches, the embedded engine starts and transcribes
English (and French when the multilingual model is installed) from installed packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fw_asr_widgets.local.models import multilingual_available

SCRIPT = """
import json, socket, sys
LOCAL = {"127.0.0.1", "::1", "localhost", None, ""}
attempts = []
_connect, _connect_ex, _gai = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

def _host(addr):
    return addr[0] if isinstance(addr, tuple) else None

def connect(self, addr):
    if self.family != socket.AF_UNIX and _host(addr) not in LOCAL:
        attempts.append(repr(addr))
        raise OSError("network disabled by the test")
    return _connect(self, addr)

def connect_ex(self, addr):
    if self.family != socket.AF_UNIX and _host(addr) not in LOCAL:
        attempts.append(repr(addr))
        return 101
    return _connect_ex(self, addr)

def getaddrinfo(host, *a, **k):
    h = host.decode() if isinstance(host, bytes) else host
    if h not in LOCAL:
        attempts.append(f"lookup {h}")
        raise socket.gaierror("network disabled by the test")
    return _gai(host, *a, **k)

socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo

import fw_asr_widgets as fw
client = fw.Client()  # no key, no base_url: the embedded engine
out = {"en": client.transcribe(sys.argv[1]).text}
if sys.argv[2]:
    out["fr"] = client.transcribe(sys.argv[2], language="fr").text
out["attempts"] = attempts
print("RESULT " + json.dumps(out))
"""


def test_engine_runs_with_the_network_refused(
    data_dir: Path, shared_data: Path, tmp_path: Path
) -> None:
    french = str(shared_data / "french.aiff") if multilingual_available() else ""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGINGFACE", "TRANSFORMERS", "FIREWORKS_API_KEY"))
    }
    env.update(HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    env["FW_ASR_QUIET"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(data_dir / "jfk.wav"), french],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    out = json.loads(line[len("RESULT ") :])
    assert out["attempts"] == []
    assert "fellow americans" in out["en"].lower()
    if french:
        assert out["fr"].strip(), out
