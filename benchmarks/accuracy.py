"""Accuracy beside speed: WER (CER for Chinese) and DER of the embedded engine on every sample
with a reference, against faster-whisper called directly (same model, same options)."""

from __future__ import annotations

from typing import Any

from benchmarks._util import FigureResult, Row, data_dir, run_child

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


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
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
