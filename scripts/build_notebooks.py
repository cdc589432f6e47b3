"""Write the notebooks in `notebooks/` from the cell sources below and execute them in place.

    python scripts/build_notebooks.py            # write and execute all (stores outputs)
    python scripts/build_notebooks.py --no-exec  # write only

Decisions:
- nbval markers are cell tags, not comments in the code a reader sees: `nbval-check-output`
  on cells whose output must stay the same (the tests run `pytest --nbval-lax notebooks/`),
  `nbval-ignore-output` on cells whose output changes (widgets).
- Outputs are stored so the notebooks read well on GitHub and nbviewer: widget state goes
  into the notebook metadata (`application/vnd.jupyter.widget-state+json`), and a widget's
  text/plain fallback says what it is instead of `<… object at 0x…>`.
- A saved output must not carry run-specific noise: the build fails on stderr output or a
  loopback address with a port in any output (both would be stale for the next reader).
- Every notebook starts with the one install command (`pip install -e ".[notebooks]"`, the
  same as in the README, `fw-asr demo`'s hint, Binder and CI).

Edit the sources here, not the .ipynb files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"
sys.path.insert(0, str(ROOT))

from fw_asr_widgets.cli import NOTEBOOK_INSTALL  # noqa: E402

CHECK = ["nbval-check-output"]
IGNORE = ["nbval-ignore-output"]

INSTALL = (
    f"Runs offline on the embedded engine. Install from a clone with `{NOTEBOOK_INSTALL}`, "
    "then `jupyter lab notebooks/`."
)

Cell = tuple[str, str] | tuple[str, str, list[str]]

SETUP = """\
import os

# The one setting: a Fireworks API key uses the Fireworks service; none uses the embedded
# offline engine (no network, no key), which speaks the same protocol.
FIREWORKS_API_KEY = os.environ.get("FIREWORKS_API_KEY")

import pandas as pd
import fw_asr_widgets as fw

pd.set_option("display.max_colwidth", 80)
client = fw.Client(api_key=FIREWORKS_API_KEY)
print("engine:", "Fireworks" if FIREWORKS_API_KEY else "embedded (offline)")"""

NOTEBOOKS: dict[str, list[Cell]] = {
    "01_quickstart.ipynb": [
        (
            "md",
            "# Quickstart: a file to a transcript, a DataFrame and a viewer\n\n"
            "Transcribe a recording, look at its segments and words as pandas DataFrames, "
            "export subtitles, and read it in an interactive viewer synced to the audio. "
            "Without `FIREWORKS_API_KEY` everything runs on the embedded offline engine.\n\n"
            + INSTALL,
        ),
        ("code", SETUP),
        ("md", "## Transcribe\n`verbose_json` with word and segment timestamps gives timed words."),
        (
            "code",
            'audio = fw.samples.path("jfk.wav")\n'
            "tr = client.transcribe(\n"
            "    audio,\n"
            '    response_format="verbose_json",\n'
            '    timestamp_granularities=["word", "segment"],\n'
            ")\n"
            "tr",
        ),
        ("code", "print(tr.text)", CHECK),
        ("md", '## DataFrames\nOne row per segment, or per word (`level="word"`).'),
        (
            "code",
            'tr.to_pandas()[["start", "end", "duration", "text"]].round(1)',
            CHECK,
        ),
        (
            "code",
            'words = tr.to_pandas(level="word")\nwords[["start", "end", "text"]].round(1).head(8)',
        ),
        # Word times move by a few ms with the machine (threads, load): check the words.
        ("code", '" ".join(words["text"].head(8))', CHECK),
        (
            "md",
            "## How good is it?\nWord error rate against the reference text "
            "(lower-cased, punctuation removed).",
        ),
        ("code", 'print(f"WER: {tr.wer(fw.samples.JFK_TEXT):.1%}")'),
        ("md", '## Subtitles\n`tr.save("talk.srt")` picks the format from the suffix.'),
        ("code", "print(tr.to_srt())"),
        (
            "md",
            "## Viewer\nClick a line or a word to seek; the playing word is highlighted; "
            "search, rename speakers, export.",
        ),
        ("code", "fw.TranscriptViewer(tr, audio=audio)", IGNORE),
    ],
    "02_live_recorder.ipynb": [
        (
            "md",
            "# Live recorder: speak, watch the transcript, then analyse it\n\n"
            "Press **Start**, allow the microphone, speak, press **Stop**. The transcript "
            "updates live (grey text is still being revised). The cell returns at once; "
            "streaming goes on in the background.\n\n"
            "The microphone needs a secure context (https, or http on localhost). VS Code "
            "notebooks cannot open the microphone: use the uploader there.\n\n" + INSTALL,
        ),
        ("code", SETUP),
        ("code", 'rec = fw.Recorder(client=client, language="en")\nrec', IGNORE),
        (
            "md",
            "## What was said\n`rec.transcript` is the live `Transcript`; `rec.audio` the "
            "recorded audio (16 kHz). If nothing was recorded yet (for example when the "
            "notebook runs unattended), a file is streamed as if live instead, through the "
            "same streaming API.",
        ),
        (
            "code",
            "tr = rec.transcript\n"
            "if not tr.segments:\n"
            '    tr = client.stream_file(fw.samples.path("jfk.wav"), speed=None)\n'
            "print(tr.text)",
        ),
        ("code", 'df = tr.to_pandas(level="word")\nlen(df) > 0', CHECK),
        (
            "code",
            "df = tr.to_pandas()\n"
            'print(f"{len(tr.words)} words in {df.duration.sum():.1f} s of speech")\n'
            'df[["start", "end", "text"]].round(1)',
        ),
        ("md", "## Where was a word said?"),
        ("code", 'tr.to_pandas(level="word").asr.search("country")'),
        (
            "md",
            "The recorder above stays ready: scroll up, press **Start** and speak, then run "
            "the cells in this section again to analyse your own words. When you are done, "
            "`rec.close()` stops the stream and frees the microphone.",
        ),
    ],
    "03_meeting_analysis.ipynb": [
        (
            "md",
            "# Meeting analysis: who spoke, how long, who interrupted whom\n\n"
            "A diarized transcript of a real two-speaker phone call becomes DataFrames; the "
            "`df.asr` accessor answers the usual questions in one line each.\n\n" + INSTALL,
        ),
        ("code", SETUP),
        (
            "code",
            'audio = fw.samples.path("two_speakers.wav")\n'
            "tr = client.transcribe(audio, diarize=True, min_speakers=2, max_speakers=2)\n"
            "segments = tr.to_pandas()\n"
            'segments[["start", "end", "speaker", "text"]].round(1)',
        ),
        ("code", "sorted(segments.speaker.dropna().unique())", CHECK),
        ("md", "## Talk time and speaking rate"),
        ("code", "segments.asr.talk_time().round(2)"),
        ("md", "## Turns and interruptions"),
        ("code", "segments.asr.turns().round(2).head(10)"),
        ("code", "segments.asr.interruptions().round(2)"),
        (
            "md",
            "Overlapping speech is where interruptions live. The recognised segments above "
            "do not overlap (each recognised word gets one speaker), so none show there; the "
            "recording's reference turns (RTTM) do overlap:",
        ),
        (
            "code",
            'rttm = fw.samples.path("two_speakers.rttm")\n'
            "reference_turns = fw.Transcript.load(rttm).to_pandas()\n"
            'reference_turns.asr.overlaps()[["start", "end", "duration", "speaker_a", "speaker_b"]]'
            ".round(2)",
            CHECK,
        ),
        ("code", "reference_turns.asr.interruptions().round(2)", CHECK),
        ("md", "## Pauses between speakers (0.3 s or more)"),
        ("code", "segments.asr.silences(min_gap=0.3).round(2)"),
        ("md", "## Who spoke when"),
        (
            "code",
            "import matplotlib.pyplot as plt\n\n"
            "fig, ax = plt.subplots(figsize=(9, 1.8))\n"
            "speakers = sorted(segments.speaker.dropna().unique())\n"
            "for i, spk in enumerate(speakers):\n"
            "    rows = segments[segments.speaker == spk]\n"
            "    ax.broken_barh(list(zip(rows.start, rows.duration)), (i - 0.4, 0.8))\n"
            "ax.set_yticks(range(len(speakers)), speakers)\n"
            'ax.set_xlabel("seconds")\n'
            "plt.show()",
        ),
        (
            "md",
            "## Against the reference\nThe recording comes with who-spoke-when (RTTM) and "
            "what-was-said (STM) references: diarization error rate and word error rate.",
        ),
        (
            "code",
            'reference = fw.Transcript.load(fw.samples.path("two_speakers.stm"))\n'
            'print(f"WER: {tr.wer(reference):.1%}")\n'
            "print(f\"DER: {tr.der(fw.samples.path('two_speakers.rttm')):.1%}\")",
        ),
        ("md", "## Export"),
        (
            "code",
            'tr.save("two_speakers.srt")\nprint(open("two_speakers.srt").read()[:400])',
        ),
        ("code", "fw.Timeline(tr)", IGNORE),
    ],
    "04_batch_and_translation.ipynb": [
        (
            "md",
            "# Batch transcription, translation and comparing models\n\n"
            "A folder of recordings to one DataFrame with a `source` column; French speech "
            "translated to English; two models compared by word error rate.\n\n" + INSTALL,
        ),
        ("code", SETUP),
        ("md", "## A folder of files → one DataFrame"),
        (
            "code",
            "from pathlib import Path\n\n"
            'folder = Path(fw.samples.path("jfk.wav")).parent\n'
            'files = sorted(str(p) for p in folder.glob("*.wav"))\n'
            "frames = []\n"
            "for result in client.transcribe_many(files, concurrency=2, progress=False):\n"
            "    if result.error is not None:\n"
            '        print("failed:", result.source, result.error)\n'
            "        continue\n"
            "    df = result.transcript.to_pandas()\n"
            '    df["source"] = Path(result.source).name\n'
            "    frames.append(df)\n"
            "batch = pd.concat(frames, ignore_index=True)\n"
            'batch[["source", "start", "end", "text"]].round(1)',
        ),
        ("code", 'sorted(batch["source"].unique())', CHECK),
        (
            "md",
            "## Translation\nAny language to English. On the embedded engine this uses the "
            "multilingual Whisper model, which the notebook install command includes.",
        ),
        (
            "code",
            'fr = fw.samples.path("french.aiff")\n'
            'print("French:", client.transcribe(fr, language="fr").text)\n'
            'print("English:", client.translate(fr).text)',
        ),
        (
            "md",
            "## Comparing models\n`client.compare` runs a file through each model; "
            "`fw.compare` shows the transcripts word-aligned in columns against the reference "
            "(differences coloured, a click on a row plays it) with each model's WER. On the "
            "embedded engine both names are served by the same local model, so they agree; "
            "on Fireworks they differ. Notebook 05 walks through it on a two-speaker call.",
        ),
        (
            "code",
            'jfk = fw.samples.path("jfk.wav")\n'
            'runs = client.compare(jfk, models=["whisper-v3", "whisper-v3-turbo"])\n'
            'reference = fw.Transcript(text=fw.samples.REFERENCES["jfk.wav"])\n'
            "view = fw.compare(runs, reference=reference, audio=jfk)\n"
            "view.wer",
        ),
        ("code", "view", IGNORE),
    ],
}

# -- 05: correcting a transcript and comparing models (one self-contained block) ---------------
NOTEBOOKS["05_editing_and_comparison.ipynb"] = [
    (
        "md",
        "# Correcting a transcript and comparing models\n\n"
        "Open a transcript in the editor, fix words, turns and speakers by ear and keyboard, "
        "undo what you did not mean, and keep the corrected transcript and a log of every "
        "edit. Then see where models disagree, word by word, against a reference.\n\n" + INSTALL,
    ),
    ("code", SETUP),
    ("md", "## A transcript with mistakes\nA two-speaker phone call and its reference (STM)."),
    (
        "code",
        'audio = fw.samples.path("two_speakers.wav")\n'
        'ref = fw.Transcript.from_stm(fw.samples.path("two_speakers.stm"))\n'
        'rttm = fw.samples.path("two_speakers.rttm")\n'
        "tr = client.transcribe(audio, diarize=True, min_speakers=2, max_speakers=2)\n"
        'print(f"WER {tr.wer(ref):.1%}   DER {tr.der(rttm):.1%}")',
    ),
    (
        "md",
        "## The editor\n"
        "Click a word to hear it; double-click (or Enter) to retype it. With a word focused: "
        "**Delete** removes it, **+** inserts one after it, **S** splits the segment before it, "
        "**M** merges the segment with the next, **Shift+←/→** selects words and **P** then "
        "a speaker's number gives them (or the whole segment) to that speaker (**0**: a new "
        "one). **Ctrl+Z** / "
        "**Shift+Ctrl+Z** undo and redo; **Esc** or **Ctrl+Space** plays and pauses, "
        "**Ctrl+←** jumps back 3 s, **[** and **]** change the speed, **N** goes to the next "
        "word the model was unsure of (underlined; the slider sets the threshold). **?** lists "
        "the keys. The kernel keeps the edits: re-running a cell or reloading the page "
        "loses nothing.",
    ),
    (
        "code",
        "editor = fw.TranscriptViewer(\n    tr, audio=audio, editable=True\n)\neditor",
        IGNORE,
    ),
    (
        "md",
        "## Where the transcript differs from the reference\n"
        "`tr.diff(ref)` aligns the words (jiwer's alignment): positions are the segment and "
        "the word inside it, as the editor takes them.",
    ),
    (
        "code",
        "d = tr.diff(ref)\n"
        'd[d.op != "match"][["op", "a_word", "b_word", "a_start", "a_segment", "a_word_index"]]',
    ),
    (
        "md",
        "## The same corrections from Python\n"
        "Every operation of the page is a method (`edit_word`, `insert_word`, `delete_word`, "
        "`split`, `merge`, `set_speaker`, `undo`, `redo`); open views update. Applied from "
        "the last word backwards, each position stays valid.",
    ),
    (
        "code",
        "ops, after = [], None  # after: the transcript's word before a missing one\n"
        "for r in d.itertuples():\n"
        '    if r.op == "substitution":\n'
        "        ops.append(lambda r=r: editor.edit_word(r.a_segment, r.a_word_index, r.b_word))\n"
        '    elif r.op == "deletion":\n'
        "        ops.append(lambda r=r: editor.delete_word(r.a_segment, r.a_word_index))\n"
        '    elif r.op == "insertion":\n'
        "        seg, k = after or (0, -1)\n"
        "        ops.append(lambda r=r, seg=seg, k=k: editor.insert_word(seg, k + 1, r.b_word))\n"
        '    if r.op != "insertion":\n'
        "        after = (r.a_segment, r.a_word_index)\n"
        "for op in reversed(ops):\n"
        "    op()\n"
        "fixed = editor.transcript\n"
        'print(f"WER {fixed.wer(ref):.1%}   DER {fixed.der(rttm):.1%}")',
    ),
    (
        "code",
        "wer_after = editor.transcript.wer(ref)\n"
        'print(f"WER after the corrections: {wer_after:.1%}")',
        CHECK,
    ),
    ("md", "Every edit is logged (undo and redo too), with its time and position."),
    (
        "code",
        "editor.undo()\n"
        "editor.redo()\n"
        'editor.edits[["operation", "segment", "word", "start", "before", "after"]].tail(8)',
        IGNORE,
    ),
    (
        "code",
        'editor.transcript.save("two_speakers_corrected.srt")\n'
        'print(open("two_speakers_corrected.srt").read()[:300])',
    ),
    (
        "md",
        "## Comparing models\n"
        "`client.compare` runs each model on the file; `fw.compare` aligns the transcripts in "
        "columns (substitutions orange, insertions green, missing words struck through), "
        "scores each against the reference and plays a row when you click it. On the "
        "embedded engine both model names are served by the same local model.",
    ),
    (
        "code",
        'runs = client.compare(audio, models=["whisper-v3", "whisper-v3-turbo"], diarize=True)\n'
        'runs["corrected"] = editor.transcript\n'
        "view = fw.compare(runs, reference=ref, audio=audio)\n"
        "view.wer",
    ),
    ("code", "view", IGNORE),
    (
        "md",
        "Without a reference the widget shows how far the transcripts are from each other "
        "(each row taken as the reference).",
    ),
    ("code", "fw.compare(runs, audio=audio)", IGNORE),
]


# -- 06: a corpus (one self-contained block) ---------------------------------------------------
NOTEBOOKS["06_corpus.ipynb"] = [
    (
        "md",
        "# A folder of recordings as one dataset\n\n"
        "`fw.transcribe_corpus` writes every file of a folder into a Parquet dataset (files, "
        "segments and words tables), resumable after a crash or Ctrl-C; `fw.open_corpus` "
        "queries it with DuckDB and searches it. Here the folder is the package's own sample "
        "recordings; the same calls take 5,000 calls.\n\n" + INSTALL,
    ),
    ("code", SETUP),
    ("md", "## Transcribe the folder"),
    (
        "code",
        "import tempfile\n"
        "from pathlib import Path\n\n"
        'folder = Path(fw.samples.path("jfk.wav")).parent\n'
        'out = Path(tempfile.mkdtemp()) / "samples.transcripts"\n'
        "run = fw.transcribe_corpus(folder, out=out, client=client, progress=False)\n"
        'print(run.ok, "files transcribed,", run.failed, "failed")',
    ),
    (
        "md",
        "Run it again: every file is already in the dataset (keyed by the SHA-256 of its "
        "bytes), so nothing is transcribed twice.",
    ),
    (
        "code",
        "again = fw.transcribe_corpus(folder, out=out, client=client, progress=False)\n"
        'print(again.skipped, "already done")',
        CHECK,
    ),
    ("md", "## Query it"),
    (
        "code",
        "corpus = fw.open_corpus(out)\n"
        "corpus.sql(\n"
        '    "SELECT parse_filename(path) AS file, count(*) AS segments, "\n'
        '    "round(sum(duration), 1) AS seconds FROM segments GROUP BY file ORDER BY file"\n'
        ").df()",
    ),
    (
        "code",
        'hits = corpus.search("country")\n'
        'hits.assign(file=[Path(p).name for p in hits["path"]])[["file", "start", "end", "text"]]',
    ),
    ("md", "Click a hit to hear it (the audio is read from its file when you click)."),
    ("code", 'corpus.search_widget("country")', IGNORE),
]


def build(name: str, cells: list[Cell]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src, *tags in cells:
        cell = (
            nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        )
        if tags:
            cell.metadata["tags"] = list(tags[0])
        nb.cells.append(cell)
    return nb


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
DEFAULT_REPR = re.compile(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>")
LOOPBACK_PORT = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]):\d+")


def tidy_outputs(nb: nbformat.NotebookNode, name: str) -> None:
    """Give widget outputs a readable text fallback; refuse run-specific noise in outputs.

    Raises `SystemExit` naming the cell if an output is stderr, holds a loopback address with
    a port, or shows a widget whose state was not saved.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            where = f"{name} cell {i}"
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                raise SystemExit(f"{where}: stderr output would be saved: {out['text']!r}")
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                if data[WIDGET_VIEW]["model_id"] not in state:
                    raise SystemExit(f"{where}: widget shown but its state was not saved")
                plain = data.get("text/plain", "")
                data["text/plain"] = DEFAULT_REPR.sub(
                    lambda m: f"{m.group(1)}: an interactive widget (run the notebook to use it)",
                    plain,
                )
            if LOOPBACK_PORT.search(json.dumps(out)):
                raise SystemExit(f"{where}: an output holds a loopback address with a port")
    if LOOPBACK_PORT.search(json.dumps(nb.metadata)):
        raise SystemExit(f"{name}: the saved widget state holds a loopback address with a port")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-exec", action="store_true")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        if args.names and name not in args.names:
            continue
        nb = build(name, cells)
        if not args.no_exec:
            NotebookClient(
                nb,
                timeout=600,
                resources={"metadata": {"path": str(OUT)}},
                store_widget_state=True,
            ).execute()
            tidy_outputs(nb, name)
        # Stable cell ids and no execution timestamps keep diffs small between rebuilds.
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"
            cell.metadata.pop("execution", None)
        nbformat.write(nb, OUT / name)
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
