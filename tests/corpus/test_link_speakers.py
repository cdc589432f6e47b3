"""Corpus.link_speakers on real meeting audio: the AMI snippets whose people recur
(ami_trn07/ami_trn08: four people; ami_dev00/ami_dev01: two), at the reference turns."""

from __future__ import annotations

from pathlib import Path

import pytest

import fw_asr_widgets as fw
from fw_asr_widgets.corpus._dataset import DatasetWriter
from fw_asr_widgets.corpus._sources import SourceFile
from fw_asr_widgets.corpus._work import Sink
from fw_asr_widgets.transcript import Transcript

pytest.importorskip("onnxruntime")

FILES = ("ami_trn07", "ami_trn08", "ami_dev00", "ami_dev01")


@pytest.fixture
def corpus_dir(tmp_path: Path, shared_data: Path) -> Path:
    out = tmp_path / "meetings.transcripts"
    sink = Sink(DatasetWriter(out), batch_size=2, flush_seconds=60)
    rttm = shared_data / "ami.rttm"
    for i, name in enumerate(FILES):
        tr = Transcript.from_rttm(rttm, file_id=name)
        sink.add_transcript(SourceFile(str(shared_data / f"{name}.wav"), 1, 1, f"{i:064x}"), tr)
    gone = Transcript.from_rttm(rttm, file_id="ami_trn00")  # its audio was deleted since
    sink.add_transcript(SourceFile(str(tmp_path / "deleted.wav"), 1, 1, f"{9:064x}"), gone)
    sink.flush()
    return out


def test_the_same_person_gets_one_voice_in_every_file(corpus_dir: Path) -> None:
    corpus = fw.open_corpus(corpus_dir)
    m = corpus.link_speakers(progress=False)
    assert list(m.columns) == ["file_id", "path", "speaker", "voice", "score", "seconds", "error"]
    ok = m[m.error.isna()]
    # The reference speaker ids are the AMI corpus' person ids, the same in every file.
    # Purity: no voice label holds two people.
    per_voice = ok.groupby("voice")["speaker"].nunique()
    assert (per_voice == 1).all(), ok[["path", "speaker", "voice", "score"]]
    # Coverage: the dev pair's two people (a minute of speech each) are linked; the trn07/08
    # people speak alone for under 4 s each, and at least one of them is linked (see
    # benchmarks/RESULTS.md, "Voices": the same figure for fw.link_speakers).
    per_person = ok.groupby("speaker")["voice"].nunique()
    dev = ok[ok.path.str.contains("ami_dev")]
    assert set(dev.speaker) and all(per_person[p] == 1 for p in set(dev.speaker))
    trn = ok[ok.path.str.contains("ami_trn")]
    assert any(per_person[p] == 1 for p in set(trn.speaker))
    # The file whose audio is gone: one row saying so, nothing lost of the others.
    bad = m[m.error.notna()]
    assert len(bad) == 1 and bad.iloc[0].path.endswith("deleted.wav")
    assert bad.iloc[0].voice is None or bad.iloc[0].voice != bad.iloc[0].voice
    # The map is a view SQL joins to the segments.
    talk = corpus.sql(
        "SELECT voice, count(DISTINCT file_id) AS files FROM segments"
        " JOIN speaker_map USING (file_id, speaker) WHERE voice IS NOT NULL GROUP BY 1"
    ).df()
    linked = {v for v, g in ok.groupby("voice") if g.path.nunique() == 2}
    assert set(talk[talk.files == 2].voice) == linked and len(linked) >= 3


def test_linking_again_embeds_only_new_files_and_names_enrolled_voices(
    corpus_dir: Path, shared_data: Path
) -> None:
    corpus = fw.open_corpus(corpus_dir)
    first = corpus.link_speakers(progress=False)
    parts = sorted((corpus_dir / "voiceprints").glob("part-*.parquet"))
    # Enrol one person of dev00 from its reference turns and link again: that voice takes
    # the name in both files of the pair.
    dev00 = Transcript.from_rttm(shared_data / "ami.rttm", file_id="ami_dev00")
    person = dev00.speakers[0]
    bank = fw.Voices().enroll_from(dev00, person, name="Ann", audio=shared_data / "ami_dev00.wav")
    again = corpus.link_speakers(voices=bank, progress=False)
    # Only the failed file is tried again: one more part, holding just its error row.
    new_parts = sorted((corpus_dir / "voiceprints").glob("part-*.parquet"))
    assert len(new_parts) == len(parts) + 1
    named = again[again.voice == "Ann"]
    assert set(named.speaker) == {person}
    assert {Path(p).stem for p in named.path} == {"ami_dev00", "ami_dev01"}
    assert len(again) == len(first)
