"""Meeting diarization on two AMI snippets nothing here was tuned on: pyannote's `tst00`/`tst01`.

The twelve AMI snippets in ../shared/data are the train and development part of the debug
protocol that pyannote.audio ships with its tests; the test part (`tst00.wav`, `tst01.wav`,
`debug.test.rttm`; AMI Meeting Corpus, CC BY 4.0; pyannote.audio, MIT) is only in the
`pyannote-audio` source distribution on PyPI. This script measures the embedded engine on
them exactly as `benchmarks/accuracy.py` measures the twelve (`Client.transcribe(path,
language="en", diarize=True)`, DER of the response's segments, collar 0.25 s), beside the
previous engine, and identification and linking of the same four people across the two
snippets as `benchmarks/voices.py` measures its pairs, and prints rows for
benchmarks/RESULTS.md. It downloads (pip, once) and is not part of `python -m benchmarks`,
which never downloads. Measure with it; do not tune on it.

Run from the repo root::

    python scripts/heldout_meetings.py            # pip-downloads the sdist into a temp dir
    python scripts/heldout_meetings.py --sdist /tmp/pyannote_audio-4.0.7.tar.gz
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._util import run_child  # noqa: E402
from benchmarks.accuracy import _baseline_tree  # noqa: E402

PACKAGE = "pyannote-audio==4.0.7"
SDIST_SHA256 = "3a903dfb5ca711d134cc2522561c9158b186836f5d62e8a57c46c6648e8a8229"
MEMBERS = {  # path inside the sdist → sha256
    "pyannote_audio-4.0.7/tests/data/tst00.wav": (
        "0af781fb566501f7950479fd8bd92329276782c7ac930a03497d553b21c33397"
    ),
    "pyannote_audio-4.0.7/tests/data/tst01.wav": (
        "a40925742870d05363eb781bd2cf1501fc37883cf003389175a39b24a5b2c7c9"
    ),
    "pyannote_audio-4.0.7/tests/data/debug.test.rttm": (
        "eae147d74d3f08002a5028183538eb35e6a7c7a77fe7d87c51eec95852d33161"
    ),
}
NAMES = ["tst00", "tst01"]
FIGURE = "Held-out meetings"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sdist(given: str | None, tmp: Path) -> Path:
    if given:
        path = Path(given)
    else:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             PACKAGE, "-d", str(tmp), "-q"],
            check=True,
        )  # fmt: skip
        path = next(tmp.glob("pyannote_audio-*.tar.gz"))
    if _sha256(path.read_bytes()) != SDIST_SHA256:
        sys.exit(f"{path}: not the {PACKAGE} source distribution this script was written for")
    return path


def _extract(sdist: Path, dest: Path) -> None:
    """`tst00.wav`, `tst01.wav` and one RTTM per file into `dest` (hashes checked)."""
    with tarfile.open(sdist) as tar:
        for member, digest in MEMBERS.items():
            f = tar.extractfile(member)
            assert f is not None, member
            data = f.read()
            if _sha256(data) != digest:
                sys.exit(f"{member}: unexpected content (sha256 {_sha256(data)})")
            name = member.rsplit("/", 1)[1]
            if name.endswith(".wav"):
                (dest / name).write_bytes(data)
            else:
                lines = data.decode().splitlines()
                for file_id in NAMES:
                    mine = [ln for ln in lines if ln.split()[1:2] == [file_id]]
                    (dest / f"{file_id}.rttm").write_text("\n".join(mine) + "\n")


def voices_rows(data: Path) -> list[str]:
    """Table rows of `benchmarks/voices.py`'s identification and linking figures on the
    held-out pair (on the reference turns and on the engine's diarized transcripts): each
    person enrolled from one snippet's reference turns, identified in the other;
    `link_speakers` over both."""
    from benchmarks import voices as bench
    from fw_asr_widgets import Transcript
    from fw_asr_widgets.voices import _embed

    refs = {n: Transcript.from_rttm(data / f"{n}.rttm") for n in NAMES}
    audios = {n: _embed.load_audio(data / f"{n}.wav") for n in NAMES}
    hyps = {
        "reference turns": {n: bench._anonymous(refs[n]) for n in NAMES},
        "engine via the API": bench._engine_transcripts(NAMES, data),
    }
    rows = bench._identification((tuple(NAMES),), hyps, audios, refs=refs)
    rows += bench._linking(NAMES, hyps, audios, refs=refs)
    return [
        f"| {FIGURE} | {r.measure} | {r.ours} | {r.baseline} | {r.baseline_value} | {r.ratio} "
        f"| reported | — |"
        for r in rows
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sdist", help=f"the {PACKAGE} .tar.gz (default: pip download it)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        data = tmp / "data"
        data.mkdir()
        _extract(_sdist(args.sdist, tmp), data)
        ident = voices_rows(data)
        ours = run_child("benchmarks.accuracy:meetings_child", NAMES, None, str(data))
        base = tmp / "base"
        base.mkdir()
        ref = _baseline_tree(base)
        old = run_child("benchmarks.accuracy:meetings_child", NAMES, str(base), str(data))
    label = f"previous engine ({ref})"

    def cell(r: dict) -> str:
        return (f"{r['der']:.1%} ({r['speakers']}/{r['ref_speakers']}; {r['words']} words, "
                f"{r['words_plain']} without diarization)")  # fmt: skip

    rows = [
        f"| {FIGURE} | DER {n}.wav (collar 0.25 s; speakers found/true; words) | {cell(ours[n])} "
        f"| {label} | {cell(old[n])} | {ours[n]['der'] - old[n]['der']:+.1%} abs. | reported | — |"
        for n in NAMES
    ]
    mo = sum(ours[n]["der"] for n in NAMES) / len(NAMES)
    mb = sum(old[n]["der"] for n in NAMES) / len(NAMES)
    rows.append(
        f"| {FIGURE} | mean DER, {len(NAMES)} held-out AMI snippets (collar 0.25 s) | {mo:.1%} "
        f"| {label} | {mb:.1%} | {mo - mb:+.1%} abs. | reported | — |"
    )
    rows += ident
    print("\n".join(rows))
    for n in NAMES:
        print(f"- {n}: ours “{ours[n]['text'][:160]}”; previous “{old[n]['text'][:160]}”.")


if __name__ == "__main__":
    main()
