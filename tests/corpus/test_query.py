"""open_corpus over a dataset written through the real Sink/DatasetWriter path (no engine):
views, talk time per file (matching df.asr.talk_time), search semantics, live reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.corpus._dataset import DatasetWriter
from fw_asr_widgets.corpus._sources import SourceFile
from fw_asr_widgets.corpus._work import Sink


def _tr(lines: list[tuple[str, float, str]]) -> fw.Transcript:
    """Segments (speaker, start, text), words 0.3 s apart."""
    segs, words = [], []
    for i, (spk, start, text) in enumerate(lines):
        ws = text.split()
        seg_words = [
            {"word": w, "start": start + 0.3 * k, "end": start + 0.3 * k + 0.25, "speaker_id": spk}
            for k, w in enumerate(ws)
        ]
        words += seg_words
        segs.append(
            {"id": i, "start": start, "end": start + 0.3 * len(ws), "text": " " + text,
             "speaker_id": spk, "words": seg_words}
        )  # fmt: skip
    return fw.Transcript.from_response(
        {"text": " ".join(t for _, _, t in lines), "segments": segs, "words": words,
         "duration": 60.0, "language": "en"}
    )  # fmt: skip


CALLS = {
    "a.wav": [
        ("SPEAKER_00", 0.0, "Hello, I would like a refund please."),
        ("SPEAKER_01", 3.0, "Sure, which order?"),
        ("SPEAKER_00", 5.0, "Order twelve. The refund was promised."),
    ],
    "b.wav": [
        ("SPEAKER_00", 0.0, "No refunds here, only exchanges."),
        ("SPEAKER_01", 2.0, "Then I want a refund manager!"),
    ],
}


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    out = tmp_path / "c"
    sink = Sink(DatasetWriter(out), batch_size=1, flush_seconds=60)
    for i, (name, lines) in enumerate(CALLS.items()):
        sf = SourceFile(f"/calls/{name}", 100, 1, f"{i:064x}")
        sink.add_transcript(sf, _tr(lines), model="whisper-v3")
    sink.flush()
    return out


def test_views_talk_time_and_sql(corpus_dir: Path) -> None:
    corpus = fw.open_corpus(corpus_dir)
    assert len(corpus) == 2
    assert corpus.summary()["words"] == sum(len(t.split()) for v in CALLS.values() for *_, t in v)
    tt = corpus.talk_time()
    assert list(tt.columns) == ["path", "file_id", "speaker", "seconds", "share", "turns",
                                "words", "wpm"]  # fmt: skip
    for name, lines in CALLS.items():
        mine = tt[tt.path == f"/calls/{name}"].set_index("speaker")
        ref = _tr(lines).to_pandas().asr.talk_time()
        for spk in ref.index:
            assert mine.loc[spk, "seconds"] == pytest.approx(ref.loc[spk, "seconds"])
            assert mine.loc[spk, "turns"] == ref.loc[spk, "turns"]
            assert mine.loc[spk, "share"] == pytest.approx(ref.loc[spk, "share"])
    df = corpus.sql("SELECT speaker, sum(duration) AS s FROM segments GROUP BY 1 ORDER BY 1").df()
    assert list(df["speaker"]) == ["SPEAKER_00", "SPEAKER_01"]
    segs = corpus.to_pandas("segments")
    assert isinstance(segs["speaker"].dtype, pd.CategoricalDtype)
    assert {"file_id", "path", "attempt", "segment_id", "start", "text"} <= set(segs.columns)


def test_search_words_phrases_prefixes_speakers_files(corpus_dir: Path) -> None:
    corpus = fw.open_corpus(corpus_dir)
    hits = corpus.search("Refund")
    assert list(hits["text"]) == ["refund", "refund", "refund"]  # "refund," "refunds" differ
    assert list(hits["path"]) == ["/calls/a.wav", "/calls/a.wav", "/calls/b.wav"]
    first = hits.iloc[0]
    assert first["start"] == pytest.approx(0.0 + 0.3 * 5)
    assert first["before"] == "Hello, I would like a"
    assert first["after"] == "please. Sure, which order? Order twelve. The refund"  # 8 words
    near = corpus.search("refund", context=2)
    assert near.iloc[0]["after"] == "please. Sure,"  # context crosses segments
    assert near.iloc[1]["before"] == "twelve. The"
    assert len(corpus.search("refund*")) == 4  # + "refunds"
    phrase = corpus.search("a refund")
    assert list(phrase["text"]) == ["a refund", "a refund"]
    assert set(phrase["speaker"]) == {"SPEAKER_00", "SPEAKER_01"}
    assert phrase.iloc[0]["end"] == pytest.approx(1.5 + 0.25)
    assert len(corpus.search("refund", speaker="SPEAKER_01")) == 1
    assert len(corpus.search("refund", within="/calls/b.wav")) == 1
    assert len(corpus.search("refund", within="*a.wav")) == 2
    files = corpus.sql("SELECT file_id FROM files WHERE path LIKE ?", ["%b.wav"]).df()
    assert len(corpus.search("refund", within=files)) == 1
    assert len(corpus.search("refund", limit=1)) == 1
    assert corpus.search("nothing like this").empty
    with pytest.raises(ValueError, match="no word"):
        corpus.search(" ,, ")


def test_a_corpus_being_written_is_read_as_it_grows(corpus_dir: Path) -> None:
    corpus = fw.open_corpus(corpus_dir)
    sink = Sink(DatasetWriter(corpus_dir), batch_size=10, flush_seconds=60)
    sink.add_transcript(SourceFile("/calls/c.wav", 1, 1, "c" * 64), _tr([("S", 0, "refund")]))
    assert len(corpus.search("refund")) == 3  # buffered, not written yet
    sink.flush()
    assert len(corpus.search("refund")) == 4
    with pytest.raises(FileNotFoundError, match="not a corpus"):
        fw.open_corpus(corpus_dir / "nope")
