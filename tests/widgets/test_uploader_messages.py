"""Uploader message handling without a browser: slices injected through the message handler.

Transcriptions go to the embedded engine over real loopback HTTP (`local_server` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fw_asr_widgets.widgets.uploader import SLICE_BYTES, Uploader

SLICE = 64 * 1024  # small slices: many messages from a 1 MB file


@pytest.fixture
def client(local_server: Any) -> Any:
    from fw_asr_widgets.api.client import Client

    c = Client(base_url=local_server.url)
    yield c
    c.close()


class Wire:
    """Captures what the widget sends and drives its message handler like the browser."""

    def __init__(self, up: Uploader) -> None:
        self.up = up
        self.sent: list[dict[str, Any]] = []
        up.send = lambda content, buffers=None: self.sent.append(content)  # type: ignore[method-assign]

    def slice(
        self,
        fid: str,
        data: bytes,
        index: int,
        *,
        name: str,
        size: int | None = None,
        final: bool = False,
    ) -> None:
        part = data[index * SLICE : (index + 1) * SLICE]
        msg = {
            "type": "slice",
            "file_id": fid,
            "index": index,
            "final": final,
            "name": name,
            "size": len(data) if size is None else size,
        }
        self.up._on_msg(self.up, msg, [part])

    def upload(self, fid: str, data: bytes, name: str, order: list[int] | None = None) -> None:
        total = max(1, -(-len(data) // SLICE))
        for i in order if order is not None else range(total):
            self.slice(fid, data, i, name=name, final=i == total - 1)

    def acks(self, fid: str) -> list[int]:
        return [m["index"] for m in self.sent if m["type"] == "slice_ack" and m["file_id"] == fid]

    def errors(self, fid: str) -> list[str]:
        return [
            m["message"] for m in self.sent if m["type"] == "slice_error" and m["file_id"] == fid
        ]


def row(up: Uploader, fid: str) -> dict[str, Any]:
    return next(r for r in up.files if r["id"] == fid)


def temp_files(up: Uploader) -> list[Path]:
    return list(up._tmpdir.iterdir())


def test_slices_acked_transcribed_and_temp_file_removed(client: Any, data_dir: Path) -> None:
    data = (data_dir / "two_speakers.wav").read_bytes()
    up = Uploader(client=client, diarize=True, language="en")
    wire = Wire(up)
    seen: list[str] = []
    up.on_result(lambda source, tr: seen.append(source))
    total = -(-len(data) // SLICE)
    # Duplicates in the middle (a retried slice) are re-acknowledged and written once.
    order = [0, 1, 2, 2, 1, *range(3, total)]
    wire.upload("f1", data, "two_speakers.wav", order=order)
    assert wire.acks("f1") == order
    assert wire.errors("f1") == []
    assert up.wait(timeout=240)
    r = row(up, "f1")
    assert r["state"] == "done", r
    assert r["progress"] == 1.0 and r["size"] == len(data)
    assert seen == ["two_speakers.wav"]
    tr = up.transcripts["two_speakers.wav"]
    assert tr.source == "two_speakers.wav"
    words = " ".join(s.text for s in tr.segments).lower()
    assert len(tr.segments) >= 3
    assert "sheila" in words and "new jersey" in words
    df = up.to_pandas()
    assert list(df.columns[:1]) == ["source"]
    assert set(df["source"]) == {"two_speakers.wav"} and len(df) == len(tr.segments)
    assert df["speaker"].nunique() == 2
    assert temp_files(up) == []  # deleted once transcribed
    # traits hold only small status: no bytes, no key
    state = json.dumps(up.get_state(), default=str)
    assert len(state) < 50_000 and "RIFF" not in state
    up.close()


def test_slices_overtaking_each_other_within_the_window_are_put_back_in_order(
    client: Any, data_dir: Path
) -> None:
    """A kernel that runs a widget's messages on several threads may deliver slice 2 before
    slice 1 (the page keeps `window` slices in flight): the file must still arrive whole."""
    data = (data_dir / "jfk.wav").read_bytes()
    total = -(-len(data) // SLICE)
    assert total >= 6
    up = Uploader(client=client, language="en", keep_audio=True)
    assert up.window == 3
    wire = Wire(up)
    # Slice 0 comes after 1 and 2 (a new file's first message is not slice 0); then each
    # window of three arrives back to front.
    order = [1, 2, 0]
    for first in range(3, total, 3):
        order += reversed(range(first, min(total, first + 3)))
    assert sorted(order) == list(range(total))
    wire.upload("f1", data, "jfk.wav", order=order)
    assert wire.errors("f1") == []
    # Acknowledged only when written, so always in file order: the page's window holds.
    assert wire.acks("f1") == list(range(total))
    assert up.wait(timeout=120)
    assert row(up, "f1")["state"] == "done"
    assert up.audio_paths["jfk.wav"].read_bytes() == data
    assert "ask not" in up.transcripts["jfk.wav"].text.lower()
    up.close()


def test_slices_from_several_threads_arrive_whole(data_dir: Path) -> None:
    """The browser's window, with each slice handed to its own thread (kernel subshells)."""
    import threading

    data = (data_dir / "two_speakers.wav").read_bytes()
    total = -(-len(data) // SLICE)
    for attempt in range(5):
        up = Uploader(client=object(), keep_audio=True)
        wire = Wire(up)
        fid = f"t{attempt}"
        written: list[bytes] = []
        up._submit = lambda rec, target, out=written: out.append(Path(target).read_bytes())  # type: ignore[method-assign]
        for first in range(0, total, up.window):
            batch = range(first, min(total, first + up.window))
            threads = [
                threading.Thread(
                    target=wire.slice,
                    args=(fid, data, i),
                    kwargs={"name": "a.wav", "final": i == total - 1},
                )
                for i in reversed(batch)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert wire.errors(fid) == []
        assert sorted(wire.acks(fid)) == list(range(total))
        assert written == [data]
        up.close()


def test_out_of_order_slice_fails_the_file_with_clear_error(data_dir: Path) -> None:
    data = (data_dir / "two_speakers.wav").read_bytes()
    up = Uploader(client=object())  # never reached
    wire = Wire(up)
    wire.slice("f2", data, 0, name="a.wav")
    assert len(temp_files(up)) == 1
    wire.slice("f2", data, 2, name="a.wav")  # ahead, within the window: held
    assert wire.acks("f2") == [0] and wire.errors("f2") == []
    wire.slice("f2", data, 4, name="a.wav")  # slice 1 lost: beyond what the page has in flight
    assert wire.acks("f2") == [0]
    assert wire.errors("f2") == ["slice 4 arrived while slice 1 was expected: upload out of order"]
    r = row(up, "f2")
    assert r["state"] == "error" and "out of order" in r["error"]
    assert up.errors["a.wav"] == r["error"]
    assert temp_files(up) == []  # removed on error
    assert up._uploads["f2"].ahead == {}  # held slices released
    # Further slices of the failed file are refused, not written.
    wire.slice("f2", data, 1, name="a.wav")
    assert wire.acks("f2") == [0] and len(wire.errors("f2")) == 2
    # A file whose first message is not among the first window of slices fails too.
    wire.slice("f3", data, 3, name="b.wav")
    assert row(up, "f3")["state"] == "error"
    assert "before slice 0" in wire.errors("f3")[0]
    up.close()


def test_gap_that_never_fills_fails_the_file_once_stale(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fw_asr_widgets.widgets.uploader as uploader_mod

    data = (data_dir / "two_speakers.wav").read_bytes()
    up = Uploader(client=object())
    wire = Wire(up)
    wire.slice("f4", data, 0, name="c.wav")
    wire.slice("f4", data, 2, name="c.wav")
    up._on_msg(up, {"type": "hello"}, [])  # a view renders: still fresh, nothing dropped
    assert row(up, "f4")["state"] == "uploading"
    monkeypatch.setattr(uploader_mod, "STALE_SECONDS", 0.0)
    up._on_msg(up, {"type": "hello"}, [])
    r = row(up, "f4")
    assert r["state"] == "error"
    assert r["error"] == (
        f"upload stalled at 64.0 KB of {len(data) / 1024:.1f} KB: slice 1 never arrived; "
        "drop the file again"
    )
    assert temp_files(up) == []
    up.close()


def test_size_mismatch_cancel_and_close_remove_temp_files(data_dir: Path) -> None:
    data = (data_dir / "jfk.wav").read_bytes()
    up = Uploader(client=object())
    wire = Wire(up)
    # more bytes than declared
    wire.slice("big", data, 0, name="x.wav", size=10)
    assert (
        row(up, "big")["state"] == "error" and "more than the declared" in row(up, "big")["error"]
    )
    # final slice while bytes are missing
    wire.slice("short", data, 0, name="y.wav", size=SLICE * 2, final=True)
    assert "ended after" in row(up, "short")["error"]
    # cancel mid-way
    wire.slice("c", data, 0, name="z.wav")
    assert len(temp_files(up)) == 1
    up._on_msg(up, {"type": "cancel", "file_id": "c"}, [])
    assert row(up, "c")["state"] == "error" and row(up, "c")["error"] == "cancelled"
    assert temp_files(up) == []
    # close() removes whatever is still being uploaded, and the directory itself
    wire.slice("open", data, 0, name="w.wav")
    tmpdir = up._tmpdir
    assert any(tmpdir.iterdir())
    up.close()
    assert not tmpdir.exists()


def test_corrupt_file_errors_while_another_succeeds(
    client: Any, data_dir: Path, tmp_path: Path
) -> None:
    up = Uploader(client=client, concurrency=2, language="en")
    wire = Wire(up)
    junk = bytes(range(256)) * 400  # 100 KB of non-audio named .wav
    wire.upload("bad", junk, "broken.wav")
    wire.upload("good", (data_dir / "jfk.wav").read_bytes(), "jfk.wav")
    missing = up.add(tmp_path / "nope.wav")  # typed path that does not exist
    assert up.wait(timeout=240)
    assert row(up, "bad")["state"] == "error"
    bad = row(up, "bad")["error"]  # a message, shown in the page
    # the user's file name and a plain sentence: no temp path, no errno
    assert bad.startswith("broken.wav is not an audio or video file"), bad
    assert "fw-asr-upload" not in bad and "up-" not in bad and "Errno" not in bad
    assert str(up._tmpdir) not in bad and "Error" not in bad
    assert up.errors["broken.wav"] == bad
    assert "broken.wav" in up.errors and "broken.wav" not in up.transcripts
    assert row(up, "good")["state"] == "done"
    # the engine named the model that served the file (the client points at its URL)
    assert row(up, "good")["served_by"].endswith("(Whisper tiny.en)"), row(up, "good")
    assert row(up, missing)["state"] == "error" and "no such file" in row(up, missing)["error"]
    text = up.transcripts["jfk.wav"].text.lower()
    assert "ask not what your country" in text
    df = up.to_pandas()
    assert set(df["source"]) == {"jfk.wav"}
    assert temp_files(up) == []
    up.close()


def test_same_name_twice_gets_distinct_sources_and_path_message(
    client: Any, data_dir: Path
) -> None:
    up = Uploader(client=client, language="en")
    wire = Wire(up)
    data = (data_dir / "english.wav").read_bytes()  # 2.7 s: quick
    wire.upload("a", data, "english.wav")
    assert up.wait(timeout=240)
    wire.upload("b", data, "english.wav")
    # a path typed into the page's text box
    up._on_msg(up, {"type": "path", "value": str(data_dir / "english.wav")}, [])
    assert up.wait(timeout=240)
    assert sorted(up.transcripts) == sorted(
        ["english.wav", "english (2).wav", str(data_dir / "english.wav")]
    )
    assert (data_dir / "english.wav").exists()  # typed paths are never deleted
    assert len(up.to_pandas()["source"].unique()) == 3
    up.close()


def test_state_never_holds_the_key(local_server: Any, data_dir: Path) -> None:
    from fw_asr_widgets.api.client import Client

    secret = "fw-test-secret-key-0123456789"
    c = Client(api_key=secret, base_url=local_server.url)
    up = Uploader(client=c, diarize=True, language="en")
    Wire(up).upload("k", (data_dir / "english.wav").read_bytes()[: SLICE * 2], "e.wav")
    state = json.dumps(up.get_state(), default=str)
    assert secret not in state and "RIFF" not in state
    host = urlsplit(local_server.url).netloc
    # not the engine: a server at a URL; what is asked of it is named with its host
    assert up.settings == f"whisper-v3 at {host} · en · diarize"
    up.close()
    c.close()


def test_defaults_and_bad_arguments() -> None:
    assert SLICE_BYTES == 512 * 1024
    with pytest.raises(ValueError, match="concurrency"):
        Uploader(client=object(), concurrency=0)
    up = Uploader(client=object())
    with pytest.raises(ValueError):
        up.add("   ")
    with pytest.raises(TypeError):
        up.on_result("not callable")  # type: ignore[arg-type]
    assert up.to_pandas().columns.tolist() == ["source"]
    up.close()


def test_app_shows_the_latest_upload_in_viewer_and_timeline(client: Any, data_dir: Path) -> None:
    from fw_asr_widgets import app

    panel = app(client=client, language="en", diarize=False)
    assert panel.uploader.keep_audio and panel.timeline._links  # linked to the viewer
    assert panel.viewer.n_segments == 0
    Wire(panel.uploader).upload("j", (data_dir / "jfk.wav").read_bytes(), "jfk.wav")
    assert panel.uploader.wait(timeout=240)
    assert panel.viewer.n_segments >= 1 and panel.viewer.title == "jfk.wav"
    assert panel.viewer.has_audio  # the kept upload plays in the viewer
    assert panel.timeline.n_spans >= 1 and panel.timeline.duration > 10
    assert "jfk.wav" in panel.latest.value
    kept = panel.uploader.audio_paths["jfk.wav"]
    assert kept.exists()
    panel.close()
    assert not kept.exists()  # closing the panel deletes kept audio


def test_upload_abandoned_by_its_page_is_dropped_when_a_view_renders(
    client: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page reloaded mid-upload: the next rendered view (or new file) ends the stuck upload."""
    from fw_asr_widgets.widgets import uploader as uploader_mod

    data = (data_dir / "jfk.wav").read_bytes()
    up = Uploader(client=client)
    wire = Wire(up)
    wire.slice("gone", data, 0, name="a.wav")
    wire.slice("gone", data, 1, name="a.wav")
    up._on_msg(up, {"type": "hello"}, [])  # a second view, the upload still active: kept
    assert row(up, "gone")["state"] == "uploading" and len(temp_files(up)) == 1

    monkeypatch.setattr(uploader_mod, "STALE_SECONDS", 0.0)
    up._on_msg(up, {"type": "hello"}, [])  # the page came back; "gone" sent nothing since
    r = row(up, "gone")
    assert r["state"] == "error" and "interrupted after 128.0 KB" in r["error"]
    assert "drop the file again" in r["error"] and temp_files(up) == []
    wire.slice("gone", data, 2, name="a.wav")  # a straggler is refused, not written
    assert wire.errors("gone") and temp_files(up) == []

    # The same file dropped again uploads and transcribes normally.
    wire.upload("again", data, "a.wav")
    assert up.wait(120)
    assert row(up, "again")["state"] == "done"
    assert "country" in up.transcripts[row(up, "again")["source"]].text
    up.close()
