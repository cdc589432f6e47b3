"""Accuracy beside speed: WER (CER for Chinese) and DER of the embedded engine on every sample
with a reference, against faster-whisper called directly (same model, same options); and
meeting diarization (12 AMI snippets, the phone call, jfk.wav) through the API against the
previous engine (the package at `BASELINE_REF`, before the meeting work, exported with
`git archive` and run in the same benchmark run), with the diarizer's speed, model load time
and the memory of a 60-minute file."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._util import REPO, FigureResult, PeakRSS, Row, current_rss, data_dir, run_child

NAME = "Accuracy"

# file → (language, reference text or None for the STM, metric)
CASES: dict[str, tuple[str, str | None, str]] = {
    "jfk.wav": (
        "en",
        "And so my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country.",
        "WER",
    ),
    "english.wav": ("en", "one two three", "WER"),
    "french.aiff": ("fr", "et c'est la dictée numéro 1", "WER"),
    "chinese.flac": ("zh", "砸自己的脚", "CER"),
    "two_speakers.wav": ("en", None, "WER"),
}


def _reference(name: str) -> str:
    ref = CASES[name][1]
    if ref is not None:
        return ref
    lines = (data_dir() / "two_speakers.stm").read_text().splitlines()
    return " ".join(" ".join(line.split()[5:]) for line in lines if line.strip())


def score(name: str, text: str) -> float:
    import jiwer

    from fw_asr_widgets.transcript import normalize_text, wer

    ref = _reference(name)
    if CASES[name][2] == "CER":
        r = "".join(normalize_text(ref).split())
        h = "".join(normalize_text(text).split())
        return float(jiwer.cer(r, h)) if h else 1.0
    return wer(ref, text)


def child(names: list[str]) -> dict[str, Any]:
    from fw_asr_widgets import Client
    from fw_asr_widgets.local import models, serve
    from fw_asr_widgets.transcript import der

    out: dict[str, Any] = {}
    with serve() as srv, Client(base_url=srv.url, max_retries=0) as c:
        for name in names:
            lang = CASES[name][0]
            path = data_dir() / name
            diarize = name == "two_speakers.wav"
            tr = c.transcribe(path, language=lang, diarize=True if diarize else None)
            row: dict[str, Any] = {"ours_text": tr.text, "ours": score(name, tr.text)}
            if diarize:
                row["der"] = der(data_dir() / "two_speakers.rttm", tr)
                row["speakers"] = len(tr.speakers)
            model = models.load(models.ENGLISH if lang == "en" else models.MULTILINGUAL)
            segs, _ = model.transcribe(
                str(path),
                language=lang,
                beam_size=5,
                word_timestamps=True,
                vad_filter=True,
                condition_on_previous_text=True,
                temperature=0.0,
            )
            text = " ".join(s.text.strip() for s in segs)
            row["direct_text"] = text
            row["direct"] = score(name, text)
            out[name] = row
    return out


AMI = [f"ami_trn0{i}" for i in range(10)] + ["ami_dev00", "ami_dev01"]
MEETING_GOAL = 0.30


def _reference_rttm(name: str, folder: Path | None = None) -> tuple[str, int]:
    """RTTM text of one snippet and its speaker count: `{name}.rttm` in `folder` (default
    ../shared/data, where AMI's one RTTM holds all twelve `ami_*` snippets)."""
    if folder is None and name.startswith("ami_"):
        lines = [
            line
            for line in (data_dir() / "ami.rttm").read_text().splitlines()
            if line.split()[1:2] == [name]
        ]
    else:
        lines = ((folder or data_dir()) / f"{name}.rttm").read_text().splitlines()
    return "\n".join(lines) + "\n", len({line.split()[7] for line in lines if line.strip()})


SOLO_MIN = 0.5  # s a speaker must talk alone at a stretch to be countable from a voice alone


def _rttm_turns(rttm: str) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of each line of RTTM text."""
    return [
        (float(p[3]), float(p[3]) + float(p[4]), p[7])
        for p in map(str.split, rttm.splitlines())
        if p
    ]


def _all_heard_alone(name: str) -> bool:
    """Whether every reference speaker of `name` talks alone for `SOLO_MIN` s at a stretch.

    A diarizer that tells voices apart by embedding speech where one person talks (every
    method measured here) cannot count a speaker who is only ever heard under someone else.
    """
    rttm, _ = _reference_rttm(name)
    turns = _rttm_turns(rttm)
    names = sorted({t[2] for t in turns})
    grid = np.zeros((int(max(t[1] for t in turns) * 100) + 1, len(names)), dtype=bool)
    for s, e, spk in turns:
        grid[int(round(s * 100)) : int(round(e * 100)), names.index(spk)] = True
    alone = grid.sum(axis=1) == 1
    for i in range(len(names)):
        d = np.diff(np.r_[0, (alone & grid[:, i]).astype(np.int8), 0])
        if not np.any(np.flatnonzero(d == -1) - np.flatnonzero(d == 1) >= SOLO_MIN * 100):
            return False
    return True


def _people(rttm: str, hyp: list[tuple[float | None, float | None, str | None]]) -> int:
    """How many reference speakers are the main one (by time) of some speaker found.

    Equal to the speaker count only when the speakers found are that many different people,
    not the count reached by splitting one voice (as the voice-encoder diarizer does).
    """
    ref = _rttm_turns(rttm)
    by: dict[str, dict[str, float]] = {}
    for s, e, spk in hyp:
        if s is None or e is None or spk is None:
            continue
        for rs, re_, who in ref:
            ov = min(e, re_) - max(s, rs)
            if ov > 0:
                by.setdefault(spk, {})[who] = by.setdefault(spk, {}).get(who, 0.0) + ov
    return len({max(d, key=d.__getitem__) for d in by.values() if d})


def meetings_child(names: list[str], root: str | None, data: str | None = None) -> dict[str, Any]:
    """Each file through `Client.transcribe(..., diarize=True)`; `root`: import the package
    from there instead (the previous engine); `data`: a folder with `{name}.wav` and
    `{name}.rttm` to use instead of ../shared/data (scripts/heldout_meetings.py)."""
    import sys
    import time

    if root:
        sys.path.insert(0, root)
    from fw_asr_widgets import Client, Transcript
    from fw_asr_widgets.local import serve
    from fw_asr_widgets.transcript import der

    given = Path(data) if data else None
    folder = given or data_dir()
    out: dict[str, Any] = {}
    with serve() as srv, Client(base_url=srv.url, max_retries=0, timeout=600) as c:
        c.transcribe(data_dir() / "jfk.wav", language="en", diarize=True)  # models load
        for name in names:
            t0 = time.perf_counter()
            tr = c.transcribe(folder / f"{name}.wav", language="en", diarize=True)
            row: dict[str, Any] = {
                "seconds": time.perf_counter() - t0,
                "words": len(tr.words),
                "speakers": len(tr.speakers),
                "text": tr.text,
            }
            if name == "jfk":
                row["wer"] = score("jfk.wav", tr.text)
            else:
                plain = c.transcribe(folder / f"{name}.wav", language="en")
                row["words_plain"] = len(plain.text.split())
                rttm, n_ref = _reference_rttm(name, given)
                row["ref_speakers"] = n_ref
                row["people"] = _people(rttm, [(s.start, s.end, s.speaker) for s in tr.segments])
                try:
                    row["der"] = der(rttm, tr, collar=0.25)
                except ValueError:  # no speakers at all (an empty transcript)
                    row["der"] = 1.0
            if name == "two_speakers":
                row["wer"] = tr.wer(Transcript.from_stm(data_dir() / "two_speakers.stm"))
            out[name] = row
    return out


def speed_child(names: list[str]) -> dict[str, Any]:
    """Diarizer speed of both diarizers on `names`, and the meeting models' load time."""
    import os
    import time

    from fw_asr_widgets.audio import decode
    from fw_asr_widgets.local import diarize as dz
    from fw_asr_widgets.local import speakers

    out: dict[str, Any] = {"threads": os.cpu_count()}
    t0 = time.perf_counter()
    speakers.load_models()
    out["load_s"] = time.perf_counter() - t0
    audios = [decode(data_dir() / f"{n}.wav") for n in names]
    total = sum(a.size for a in audios) / 16_000
    for key, fn in (("meeting", dz.diarize), ("voice", dz.diarize_voice_encoder)):
        fn(audios[0][:16_000])
        t0, c0 = time.perf_counter(), time.process_time()
        for a in audios:
            fn(a)
        out[key] = {
            "audio_s": total,
            "wall": time.perf_counter() - t0,
            "cpu": time.process_time() - c0,
        }
    return out


def long_child(minutes: float) -> dict[str, Any]:
    """Peak RSS growth of `diarize` on `minutes` of speech, in a fresh interpreter (the audio
    is decoded before the measurement: it is the input, held by the engine anyway)."""
    import gc
    import time

    from benchmarks.engine import build_long_wav
    from fw_asr_widgets.audio import decode
    from fw_asr_widgets.local import speakers
    from fw_asr_widgets.local.diarize import diarize

    speakers.load_models()
    diarize(decode(data_dir() / "jfk.wav"))  # warm-up: sessions and first-run allocations
    with tempfile.TemporaryDirectory() as d:
        path = build_long_wav(Path(d) / "long.wav", minutes)
        audio = decode(path)
    gc.collect()
    base = current_rss()
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        turns = diarize(audio)
        dt = time.perf_counter() - t0
    return {
        "growth": mem.peak - base,
        "audio_bytes": int(audio.nbytes),
        "wall": dt,
        "speakers": len({t.speaker for t in turns}),
    }


BASELINE_REF = "75152b9"
"""The engine before the meeting work (Silero VAD + the voice-encoder diarizer, turns from
Whisper's segments): the "previous engine" of the meeting rows. `FW_ASR_BASELINE_REF` picks
another commit (e.g. a branch's merge base, to compare a change with main)."""


def _baseline_tree(dest: Path) -> str:
    """Export the package at the baseline commit (the previous engine) into `dest`."""
    ref = os.environ.get("FW_ASR_BASELINE_REF") or BASELINE_REF
    base = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "archive", base, "fw_asr_widgets"], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return base[:10]


def run_meetings(res: FigureResult, quick: bool) -> None:
    names = ["ami_trn00", "two_speakers", "jfk"] if quick else [*AMI, "two_speakers", "jfk"]
    ours = run_child("benchmarks.accuracy:meetings_child", names, None, timeout=3600)
    with tempfile.TemporaryDirectory() as d:
        ref = _baseline_tree(Path(d))
        old = run_child("benchmarks.accuracy:meetings_child", names, d, timeout=3600)
    base_label = f"previous engine ({ref})"
    ami = [n for n in names if n.startswith("ami_")]
    for n in ami:
        o, b = ours[n], old[n]
        res.rows.append(
            Row(
                NAME,
                f"DER {n}.wav (collar 0.25 s; speakers found/true; words)",
                f"{o['der']:.1%} ({o['speakers']}/{o['ref_speakers']}; {o['words']} words)",
                base_label,
                f"{b['der']:.1%} ({b['speakers']}/{b['ref_speakers']}; {b['words']} words)",
                f"{o['der'] - b['der']:+.1%} abs.",
                "reported",
                None,
            )
        )
    if ami:
        mo = sum(ours[n]["der"] for n in ami) / len(ami)
        mb = sum(old[n]["der"] for n in ami) / len(ami)
        co = sum(ours[n]["speakers"] == ours[n]["ref_speakers"] for n in ami)
        cb = sum(old[n]["speakers"] == old[n]["ref_speakers"] for n in ami)
        eo = sum(ours[n]["words"] == 0 for n in ami)
        eb = sum(old[n]["words"] == 0 for n in ami)
        po_empty = sum(ours[n]["words_plain"] == 0 for n in ami)
        pb_empty = sum(old[n]["words_plain"] == 0 for n in ami)
        res.rows += [
            Row(NAME, f"mean DER, {len(ami)} AMI snippets (collar 0.25 s)", f"{mo:.1%}",
                base_label, f"{mb:.1%}", f"{mo - mb:+.1%} abs.", f"≤ {MEETING_GOAL:.0%}",
                mo <= MEETING_GOAL),
            Row(NAME, "AMI snippets with an empty transcript", str(eo), base_label, str(eb),
                "—", "0", eo == 0),
            Row(NAME, "AMI snippets with an empty transcript without diarization "
                "(`transcribe(path, language='en')`)", str(po_empty), base_label, str(pb_empty),
                "—", "0", po_empty == 0),
            Row(NAME, "AMI snippets with the right speaker count", f"{co} of {len(ami)}",
                base_label, f"{cb} of {len(ami)}", "—", "≥ 9 of 12", co >= 9),
        ]  # fmt: skip
        po = sum(ours[n]["people"] == ours[n]["speakers"] == ours[n]["ref_speakers"] for n in ami)
        pb = sum(old[n]["people"] == old[n]["speakers"] == old[n]["ref_speakers"] for n in ami)
        res.rows.append(
            Row(NAME, "AMI snippets with the right speaker count, each speaker found a different "
                "reference person (main speaker by time)", f"{po} of {len(ami)}", base_label,
                f"{pb} of {len(ami)}", "—", "reported", None)
        )  # fmt: skip
        alone = [n for n in ami if _all_heard_alone(n)]
        ca = sum(ours[n]["speakers"] == ours[n]["ref_speakers"] for n in alone)
        res.rows.append(
            Row(NAME, f"AMI snippets whose every speaker talks alone ≥ {SOLO_MIN} s at a stretch "
                "(the most a count from voices heard alone can get right); ours right among them",
                f"{len(alone)} of {len(ami)}; {ca} of {len(alone)}", "reference (ami.rttm)",
                "—", "—", "reported", None)
        )  # fmt: skip
    o, b = ours["two_speakers"], old["two_speakers"]
    res.rows += [
        Row(NAME, "DER two_speakers.wav, API segments (collar 0.25 s)",
            f"{o['der']:.1%} ({o['speakers']} speakers)", base_label,
            f"{b['der']:.1%} ({b['speakers']} speakers)", f"{o['der'] - b['der']:+.1%} abs.",
            "≤ 10%", o["der"] <= 0.10),
        Row(NAME, "WER two_speakers.wav with diarize=True", f"{o['wer']:.1%}", base_label,
            f"{b['wer']:.1%}", f"{o['wer'] - b['wer']:+.1%} abs.", "≤ 16%", o["wer"] <= 0.16),
        Row(NAME, "WER jfk.wav with diarize=True", f"{ours['jfk']['wer']:.1%}", base_label,
            f"{old['jfk']['wer']:.1%}", "—", "0%", ours["jfk"]["wer"] == 0.0),
    ]  # fmt: skip
    for n in names:
        res.notes.append(f"{n}: ours “{ours[n]['text'][:160]}”; previous “{old[n]['text'][:160]}”.")
    res.notes.append(
        "Meetings: `Client.transcribe(path, language='en', diarize=True)` against the embedded "
        "server (and once more without `diarize` for the empty-transcript row); DER from the "
        "response's segments with `fw_asr_widgets.transcript.der` (collar "
        "±0.25 s around reference boundaries, overlap scored; an empty transcript counts as "
        "100%). The previous engine is the package before the meeting work (`BASELINE_REF`, "
        "git archive), run in a child process of the same run."
    )

    sp = run_child("benchmarks.accuracy:speed_child", ami or ["ami_trn00"], timeout=3600)
    if not quick:
        for minutes in (10.0, 60.0):
            sp[f"long_{minutes:g}"] = run_child(
                "benchmarks.accuracy:long_child", minutes, timeout=3600
            )
    m, v = sp["meeting"], sp["voice"]
    res.rows.append(
        Row(NAME, f"diarizer speed, {len(ami or ['x'])} × 30 s (2 cores, busy machine)",
            f"{m['audio_s'] / m['wall']:.0f}× real time ({m['wall']:.1f} s; model load "
            f"{sp['load_s']:.2f} s)", "voice-encoder diarizer (previous)",
            f"{v['audio_s'] / v['wall']:.0f}× real time ({v['wall']:.1f} s)",
            f"{m['wall'] / v['wall']:.1f}× time", "reported", None)
    )  # fmt: skip
    if "long_60" in sp:
        g10, g60 = sp["long_10"]["growth"], sp["long_60"]["growth"]
        res.rows.append(
            Row(NAME, "diarizer peak RSS growth, 60 min vs 10 min of audio (fresh processes)",
                f"{g60 / 2**20:.0f} MiB vs {g10 / 2**20:.0f} MiB ({g60 / max(g10, 1):.2f}×); "
                f"{60 * 60 / sp['long_60']['wall']:.0f}× real time",
                "the 60-min audio array itself", f"{sp['long_60']['audio_bytes'] / 2**20:.0f} MiB",
                "—", "growth < the audio itself", g60 < sp["long_60"]["audio_bytes"])
        )  # fmt: skip


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    run_meetings(res, quick)
    names = ["jfk.wav"] if quick else list(CASES)
    names = [n for n in names if (data_dir() / n).exists()]
    m = run_child("benchmarks.accuracy:child", names, timeout=1200)
    for name in names:
        r = m[name]
        metric = CASES[name][2]
        goal = {"jfk.wav": 0.15, "two_speakers.wav": 0.25}.get(name)
        res.rows.append(
            Row(
                NAME,
                f"{metric} {name} ({CASES[name][0]})",
                f"{r['ours']:.1%}",
                "faster-whisper direct",
                f"{r['direct']:.1%}",
                f"{r['ours'] - r['direct']:+.1%} abs.",
                f"≤ {goal:.0%}" if goal is not None else "reported",
                (r["ours"] <= goal) if goal is not None else None,
            )
        )
        res.notes.append(f"{name}: ours “{r['ours_text']}”; direct “{r['direct_text']}”.")
        if "der" in r:
            res.rows.append(
                Row(
                    NAME,
                    "DER two_speakers.wav (collar 0.25 s)",
                    f"{r['der']:.1%} ({r['speakers']} speakers)",
                    "faster-whisper direct",
                    "no diarization",
                    "—",
                    "≤ 20%",
                    r["der"] <= 0.20,
                )
            )
    res.notes.append(
        "Ours: `Client.transcribe(path, language=…)` against the embedded server (tiny.en for "
        "English, the multilingual Whisper base for fr/zh; two_speakers.wav with diarize=True); "
        "baseline: `WhisperModel.transcribe` of the same local model with beam 5, VAD and word "
        "timestamps on the whole file. WER after the package's normalisation (NFKC, lower case, "
        "punctuation removed; digits are not spelled out, so '1, 2, 3' against 'one two three' "
        "would count as errors); Chinese is scored as CER on characters (spaces removed). "
        "two_speakers WER is against the STM's words, DER against the RTTM "
        "(fw_asr_widgets.transcript.der, collar 0.25 s)."
    )
    return res
