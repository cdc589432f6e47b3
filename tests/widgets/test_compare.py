"""compare() / CompareView without a browser: aligned cells, WER tables, messages, and
client.compare running models on the embedded engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets.compare import CompareView, align_columns, compare
from tests.widgets.test_viewer import Wire


def _tr(*segs: tuple[float, str]) -> Transcript:
    out = []
    for i, (t0, text) in enumerate(segs):
        words = [
            dict(word=" " + w, start=t0 + k * 0.3, end=t0 + k * 0.3 + 0.25)
            for k, w in enumerate(text.split())
        ]
        out.append(dict(id=i, start=t0, end=t0 + 0.3 * len(words), text=text, words=words))
    return Transcript.from_response(dict(text="", segments=out))


REF = _tr((0.0, "the cat sat on the mat"), (5.0, "and then it left"))
A = _tr((0.0, "the cat sat on the mat"), (5.0, "and then it left"))
B = _tr((0.0, "a cat sat on mat"), (5.0, "and then it just left"))
C = _tr((0.0, "the bat sat on the mat and"), (5.2, "then left"))


def test_cells_are_aligned_to_the_reference_rows() -> None:
    cols, rows = align_columns({"a": A, "b": B, "c": C}, REF)
    assert cols == ["reference", "a", "b", "c"]
    assert len(rows) == 2 and rows[1]["start"] == 5.0
    assert rows[0]["cells"][0] == [["the cat sat on the mat", "", ""]]
    assert all(k == "" for _, k, _ in rows[0]["cells"][1])
    b0 = rows[0]["cells"][2]
    assert ["a", "sub", "the"] in b0 and ["the", "del", "the"] in b0
    assert ["just", "ins", ""] in rows[1]["cells"][2]
    # c's "and" aligns with the reference's second segment, whatever c's own segments say
    c1 = [t for t, k, _ in rows[1]["cells"][3] if k != "del"]
    assert c1 == ["and", "then", "left"]
    assert ["it", "del", "it"] in rows[1]["cells"][3]


def test_wer_against_reference_and_pairwise() -> None:
    v = CompareView({"a": A, "b": B}, reference=REF)
    assert not v.pairwise and v.wer == {"a": 0.0, "b": round(B.wer(REF), 4)}
    assert v.wer["b"] == pytest.approx(3 / 10)
    p = CompareView({"a": A, "b": B, "c": C})
    assert p.pairwise and p.columns == ["a", "b", "c"]
    assert p.wer["a"]["b"] == round(B.wer(A), 4) and p.wer["b"]["a"] == round(A.wer(B), 4)
    assert p.wer["c"]["c"] == 0.0
    assert list(p.diff("a", "b").op).count("substitution") == 1
    with pytest.raises(TypeError, match="non-empty dict"):
        CompareView({})
    with pytest.raises(TypeError, match=r"transcripts\['x'\]"):
        CompareView({"x": "text"})  # type: ignore[dict-item]


def test_rows_and_audio_go_by_message(data_dir: Path) -> None:
    v = compare({"a": A, "b": B}, reference=REF, audio=data_dir / "jfk.wav")
    wire = Wire(v)
    v._on_msg(v, {"type": "ready"}, [])
    assert len(wire.of("rows")[-1][0]["rows"]) == 2
    msg, bufs = wire.wait_for("audio")
    assert msg["mime"] == "audio/wav" and bufs[0][:4] == b"RIFF"
    state = {k: v for k, v in v.get_state().items() if k not in ("_esm", "_css")}
    assert "rows" not in state and len(repr(state)) < 2_000


def test_client_compare_runs_each_model(local_server: Any, data_dir: Path) -> None:
    with fw.Client(base_url=local_server.url) as c:
        out = c.compare(data_dir / "jfk.wav", models=["whisper-v3", "whisper-v3-turbo"])
        assert list(out) == ["whisper-v3", "whisper-v3-turbo"]
        assert all(isinstance(t, Transcript) and "country" in t.text for t in out.values())
        with pytest.raises(ValueError, match="at least one model"):
            c.compare(data_dir / "jfk.wav", models=[])
        view = fw.compare(data_dir / "jfk.wav", models=["whisper-v3", "whisper-v3-turbo"], client=c)
    assert isinstance(view, fw.CompareView) and view.columns == ["whisper-v3", "whisper-v3-turbo"]
    assert view.has_audio and view.wer["whisper-v3"]["whisper-v3-turbo"] == 0.0


def test_a_text_only_reference_is_one_row() -> None:
    ref = Transcript(text="The cat sat on the mat. And then it left.")
    cols, rows = align_columns({"b": B}, ref)
    assert cols == ["reference", "b"] and len(rows) == 1
    assert rows[0]["cells"][0] == [[ref.text, "", ""]]
    kinds = [k for _, k, _ in rows[0]["cells"][1]]
    assert kinds.count("ins") == 1 and kinds.count("sub") == 1 and kinds.count("del") == 1
    assert CompareView({"b": B}, reference=ref).wer == {"b": round(B.wer(ref), 4)}
