"""The `fw-asr` command line, run as a user would: in a subprocess, on real audio."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fw_asr_widgets.cli import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    NOTEBOOK_INSTALL,
)
from fw_asr_widgets.transcript import wer
from tests.conftest import JFK_REFERENCE

ROOT = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "FW_ASR_QUIET": "1"}
    for var in ("FIREWORKS_API_KEY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                "https_proxy", "all_proxy"):  # fmt: skip
        env.pop(var, None)
    return {**env, **extra}


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = cli_env() if env is None else env
    return subprocess.run(
        [sys.executable, "-m", "fw_asr_widgets.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


@pytest.mark.parametrize("sub", ["", "transcribe", "translate", "stream", "serve", "demo"])
def test_help(sub: str) -> None:
    res = run_cli(*([sub] if sub else []), "--help")
    assert res.returncode == 0, res.stderr
    assert "usage: fw-asr" in res.stdout
    if not sub:
        assert "Exit codes" in res.stdout


def test_usage_errors() -> None:
    res = run_cli("transcribe", "x.wav", "-o", "out.docx")
    assert res.returncode == EXIT_USAGE
    assert "unknown output format" in res.stderr
    assert run_cli().returncode == EXIT_USAGE  # no command


def test_transcribe_folder_to_parquet_with_a_corrupt_file(
    tmp_path: Path, data_dir: Path, local_server: object
) -> None:
    """20 files, concurrency 4, one Parquet with `source`; a corrupt file is reported, others go on."""
    folder = tmp_path / "calls"
    folder.mkdir()
    samples = ["english.wav", "jfk.wav"]
    for i in range(19):
        name = samples[i % 2]
        shutil.copy(data_dir / name, folder / f"{i:02d}_{name}")
    # Seeded random bytes (some random strings hold valid MPEG frame headers by chance).
    (folder / "10_broken.mp3").write_bytes(np.random.default_rng(7).bytes(4096))
    out = tmp_path / "all.parquet"
    res = run_cli(
        "transcribe",
        str(folder),
        "-o",
        str(out),
        "--concurrency",
        "4",
        "--base-url",
        local_server.url,  # type: ignore[attr-defined]
        "--quiet",
    )
    assert res.returncode == EXIT_FAILED, res.stderr
    assert "1 of 20 file(s) failed" in res.stderr
    assert "10_broken.mp3" in res.stderr
    df = pd.read_parquet(out)
    assert "source" in df.columns
    sources = set(df["source"])
    assert len(sources) == 19
    assert not any("broken" in s for s in sources)
    jfk_rows = df[df["source"].str.endswith("01_jfk.wav")]
    assert wer(JFK_REFERENCE, " ".join(jfk_rows["text"])) <= 0.15


def test_transcribe_single_file_to_srt(
    tmp_path: Path, data_dir: Path, local_server: object
) -> None:
    out = tmp_path / "jfk.srt"
    res = run_cli(
        "transcribe", str(data_dir / "jfk.wav"), "-o", str(out),
        "--base-url", local_server.url, "-q",  # type: ignore[attr-defined]
    )  # fmt: skip
    assert res.returncode == EXIT_OK, res.stderr
    text = out.read_text()
    assert text.startswith("1\n00:00:")
    assert "-->" in text and "country" in text


def test_stream_prints_the_transcript(data_dir: Path, local_server: object) -> None:
    """Piped, each final segment is printed once with its times; the transcript is not
    printed a second time after them."""
    res = run_cli(
        "stream", str(data_dir / "jfk.wav"), "--speed", "0",
        "--base-url", local_server.url,  # type: ignore[attr-defined]
    )  # fmt: skip
    assert res.returncode == EXIT_OK, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines and all(re.match(r"\[ *\d+\.\d\d → +\d+\.\d\d\] ", ln) for ln in lines), lines
    said = " ".join(ln.split("] ", 1)[1] for ln in lines)
    assert wer(JFK_REFERENCE, said) <= 0.2
    assert res.stdout.lower().count("your country can do for you") == 1, res.stdout


def test_demo_runs_offline(tmp_path: Path) -> None:
    """The README's main job: a diarized DataFrame of the bundled call with two speakers."""
    res = run_cli("demo", "--out", "out", cwd=tmp_path)
    assert res.returncode == EXIT_OK, res.stderr
    assert "SPEAKER_00" in res.stdout and "SPEAKER_01" in res.stdout
    assert "Talk time per speaker" in res.stdout
    srt = (tmp_path / "out" / "two_speakers.srt").read_text()
    assert "[SPEAKER_0" in srt
    page = (tmp_path / "out" / "two_speakers.html").read_text()
    assert "data:audio/" in page and "SPEAKER_01" in page
    assert NOTEBOOK_INSTALL in res.stdout  # the one notebook install command


# --- exit codes: every code in the README's table, in real subprocesses --------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readme_exit_code_table_matches_the_cli() -> None:
    """The README lists exactly the codes the CLI has; each has a subprocess test here."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("Exit codes:") :].split("\n\n")[0]
    codes = {int(c) for c in re.findall(r"`(\d+)`", table)}
    assert codes == {EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_INTERRUPTED} == {
        0, 1, 2, 3, 130
    }  # fmt: skip
    assert "connection error" in table


@pytest.mark.parametrize("command", ["transcribe", "translate"])
def test_unreachable_base_url_exits_3(command: str, data_dir: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    res = run_cli(command, str(data_dir / "jfk.wav"), str(data_dir / "english.wav"),
                  "--base-url", url, "-q", timeout=120)  # fmt: skip
    assert res.returncode == EXIT_AUTH, res.stderr
    assert "Traceback" not in res.stderr
    assert f"could not reach {url}" in res.stderr
    assert res.stderr.count("could not reach") == 1  # the batch stopped at the first one


def test_unreachable_fireworks_host_exits_3(data_dir: Path) -> None:
    """A key and no --base-url: requests go to the Fireworks host, here through a proxy on a
    closed loopback port (so nothing leaves the machine); the key never shows."""
    key = "fw-test-key-never-printed-1234567890"
    env = cli_env(FIREWORKS_API_KEY=key, HTTPS_PROXY=f"http://127.0.0.1:{closed_port()}")
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    res = run_cli("transcribe", str(data_dir / "jfk.wav"), "-q", env=env, timeout=120)
    assert res.returncode == EXIT_AUTH, res.stderr
    assert "could not reach https://audio-prod" in res.stderr and "fireworks.ai" in res.stderr
    assert "Traceback" not in res.stderr
    assert key not in res.stderr + res.stdout


def test_wrong_key_exits_3(data_dir: Path) -> None:
    """A server that requires a key rejects a wrong one: exit 3, no traceback, no key shown."""
    from fw_asr_widgets.local import serve

    with serve(api_key="the-right-key-0123456789") as server:
        res = run_cli("transcribe", str(data_dir / "jfk.wav"), "-q", "--base-url", server.url,
                      env=cli_env(FIREWORKS_API_KEY="a-wrong-key-0123456789"))  # fmt: skip
    assert res.returncode == EXIT_AUTH, res.stderr
    assert "Traceback" not in res.stderr
    assert "a-wrong-key-0123456789" not in res.stderr + res.stdout


@pytest.mark.parametrize("kind", ["missing", "not audio"])
def test_stream_rejects_a_bad_file_before_starting_anything(kind: str, tmp_path: Path) -> None:
    """Like `transcribe`: one clear line, exit 1, no traceback, and no engine started."""
    path = tmp_path / "call.wav"
    if kind == "not audio":
        path.write_text("this is a text file, not audio\n" * 20)
    env = cli_env()
    env.pop("FW_ASR_QUIET")  # the engine would announce itself if it were started
    t0 = time.monotonic()
    res = run_cli("stream", str(path), env=env, timeout=120)
    assert res.returncode == EXIT_FAILED, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith(f"fw-asr: {path}: ")
    assert ("no such file" if kind == "missing" else "not a recognised audio file") in res.stderr
    assert "embedded local engine" not in res.stderr
    assert time.monotonic() - t0 < 60  # generous; the point is that no engine was loaded
    assert res.stdout == ""


def test_interrupt_exits_130(data_dir: Path, local_server: object) -> None:
    """SIGINT (Ctrl-C) to a running `fw-asr stream`: exit 130 with a one-line message."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fw_asr_widgets.cli", "stream", str(data_dir / "jfk.wav"),
         "--speed", "1", "--base-url", local_server.url],  # type: ignore[attr-defined]
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
        # A shell that runs this suite in the background ignores SIGINT for its children.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        time.sleep(3)  # the 11 s file is being streamed in real time
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "interrupted" in err and "Traceback" not in err


# --- output: argument order, no bar in piped output, notice on its own line ----------------


def test_piped_batch_prints_results_in_argument_order_without_a_bar(
    data_dir: Path, local_server: object
) -> None:
    """The longest file first: it finishes last but is printed first. Piped stderr gets no
    progress bar (tqdm printed its 100% line twice and interleaved it with transcripts)."""
    files = [data_dir / "two_speakers.wav", data_dir / "jfk.wav", data_dir / "english.wav"]
    res = run_cli("transcribe", *map(str, files), "--concurrency", "3",
                  "--base-url", local_server.url)  # type: ignore[attr-defined]  # fmt: skip
    assert res.returncode == EXIT_OK, res.stderr
    headers = [ln[3:] for ln in res.stdout.splitlines() if ln.startswith("== ")]
    assert headers == [str(f) for f in files], res.stdout
    assert "%|" not in res.stderr and "file/s" not in res.stderr, res.stderr
    assert "%|" not in res.stdout


def test_terminal_notice_is_a_line_of_its_own(data_dir: Path) -> None:
    """On a terminal the embedded engine's notice comes before the bar, not glued onto it."""
    import fcntl
    import pty
    import struct
    import termios

    env = cli_env()
    env.pop("FW_ASR_QUIET")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fw_asr_widgets.cli", "transcribe", str(data_dir / "jfk.wav")],
            stdout=subprocess.PIPE, stderr=slave, env=env, text=True,
        )  # fmt: skip
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        out = proc.communicate(timeout=240)[0]
    finally:
        os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == EXIT_OK, err
    assert "country" in out
    pieces = [p.strip() for p in re.split(r"[\r\n]", err) if "embedded local engine" in p]
    assert len(pieces) == 1 and pieces[0].startswith("fw-asr-widgets: no FIREWORKS_API_KEY"), err
    assert "0/1 [" in err  # the bar was shown on the terminal, after the notice
    assert err.index("embedded local engine") < err.index("0/1 [")


def test_no_key_and_no_engine_installed_exits_3(data_dir: Path) -> None:
    """Without the `local` extra and without a key: exit 3 with the fix named, no traceback."""
    code = (
        "import sys; sys.modules['fw_asr_widgets.local'] = None\n"
        "from fw_asr_widgets.cli import main\n"
        f"sys.exit(main(['transcribe', {str(data_dir / 'jfk.wav')!r}]))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=cli_env(), timeout=120)  # fmt: skip
    assert res.returncode == EXIT_AUTH, res.stderr
    assert "Traceback" not in res.stderr
    assert "fw-asr-widgets[local]" in res.stderr and "FIREWORKS_API_KEY" in res.stderr


def test_stream_on_a_terminal_ends_with_the_transcript_once(
    data_dir: Path, local_server: object
) -> None:
    """On a terminal the live line is revised in place and then replaced by the final text:
    what stays on screen is the transcript once (it used to stay twice)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fw_asr_widgets.cli", "stream", str(data_dir / "jfk.wav"),
             "--speed", "0", "--base-url", local_server.url],  # type: ignore[attr-defined]
            stdout=slave, stderr=subprocess.PIPE, env=cli_env(), text=True,
        )  # fmt: skip
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        err = proc.communicate(timeout=240)[1]
    finally:
        os.close(master)
    assert proc.returncode == EXIT_OK, err
    screen = b"".join(chunks).decode(errors="replace")
    # What a terminal shows: per line (the terminal sends \r\n), the text after its last \r.
    visible = [ln.rstrip("\r").split("\r")[-1].strip() for ln in screen.split("\n")]
    visible = [v for v in visible if v]
    assert len(visible) == 1, visible
    assert wer(JFK_REFERENCE, visible[0]) <= 0.2
