"""Read and write transcripts as SRT, WebVTT, RTTM, STM, JSON, text, CSV and Parquet.

Conventions (one place, so that writers and parsers agree):
- Times are written to the millisecond (rounded); parsers return exactly those values. CSV
  too: `start`, `end`, `duration` to 3 decimals (no `2.4800000000000004`), `confidence` to 4.
- Cue text has its whitespace collapsed to single spaces; wrapped lines are joined with a
  space when parsed back.
- Speakers: SRT prefixes each cue with `[Speaker] `, WebVTT uses `<v Speaker>` voice tags,
  RTTM/STM use their speaker field (`<NA>` in RTTM for a segment without speaker).
- Parsers take the file *content* as `str` (or `bytes`), or a `pathlib.Path` to read.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fw_asr_widgets import _subtitles
from fw_asr_widgets._subtitles import clean as _clean
from fw_asr_widgets._subtitles import ms as _ms
from fw_asr_widgets.errors import TranscriptFormatError
from fw_asr_widgets.transcript._segment import Segment, response_fields, segment_fields

if TYPE_CHECKING:
    import pandas as pd

    from fw_asr_widgets.transcript._model import Transcript

__all__ = [
    "SAVE_SUFFIXES",
    "TranscriptFormatError",
    "load",
    "read_json",
    "read_rttm",
    "read_srt",
    "read_stm",
    "read_vtt",
    "save",
    "write_csv",
    "write_rttm",
    "write_srt",
    "write_stm",
    "write_text",
    "write_vtt",
]

SAVE_SUFFIXES = (".srt", ".vtt", ".rttm", ".stm", ".json", ".txt", ".csv", ".parquet")
LOAD_SUFFIXES = SAVE_SUFFIXES


# ---------------------------------------------------------------------- helpers
def _content(src: str | bytes | PathLike[str], what: str) -> str:
    if isinstance(src, PathLike):
        try:
            return Path(src).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise TranscriptFormatError(f"cannot read {what} file {src}: {exc}") from exc
    if isinstance(src, bytes):
        src = src.decode("utf-8-sig")
    if not isinstance(src, str):
        raise TypeError(f"{what} input must be str, bytes or a Path, not {type(src).__name__}")
    return src.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_path(text: str) -> bool:
    t = text.strip()
    return "\n" not in t and bool(re.search(r"\.(srt|vtt|rttm|stm|json|txt)$", t, re.I))


def _path_hint(text: str, what: str) -> None:
    if _looks_like_path(text):
        raise TranscriptFormatError(
            f"no {what} content found in {text.strip()!r}; it looks like a file name: pass "
            "pathlib.Path(...) or use Transcript.load(path)"
        )


def _one_line(label: str) -> str:
    return "_".join(str(label).split()) or "_"


# ---------------------------------------------------------------------- subtitles
def write_srt(tr: Transcript, **options: Any) -> str:
    """SubRip text of `tr`; `options` as `Transcript.to_srt` (the writer is
    `fw_asr_widgets._subtitles`, shared with the embedded engine)."""
    return _subtitles.write_srt(tr.segments, **options)


def write_vtt(tr: Transcript, **options: Any) -> str:
    """WebVTT text of `tr` with `<v Speaker>` voice tags; `options` as `Transcript.to_vtt`."""
    return _subtitles.write_vtt(tr.segments, **options)


_SRT_TIME = re.compile(
    r"^\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
)
_VTT_TS = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})\.(\d{1,3})"
_VTT_TIME = re.compile(rf"^\s*{_VTT_TS}\s*-->\s*{_VTT_TS}")
_SRT_SPEAKER = re.compile(r"^\[([^\]]+)\](?:\s+|$)(.*)$", re.S)
_VTT_VOICE = re.compile(r"^<v(?:\.[^\s>]*)?(?:\s+([^>]*))?>")
_TAG = re.compile(r"<[^>]*>")


def _secs(h: str | None, m: str, s: str, frac: str) -> float:
    ms = (int(h or 0) * 3600 + int(m) * 60 + int(s)) * 1000 + int(frac.ljust(3, "0"))
    return ms / 1000


def _blocks(text: str) -> list[list[str]]:
    return [
        [ln for ln in b.split("\n")] for b in re.split(r"\n[ \t]*\n", text.strip("\n")) if b.strip()
    ]


def _transcript(segments: list[Segment], **kw: Any) -> dict[str, Any]:
    return segment_fields(segments, **kw)


def _cue_segment(n: int, times: Sequence[Any], text: str, speaker: str | None) -> Segment:
    """Segment `n` of a parsed SRT/WebVTT cue (`times`: the timing line's 8 groups)."""
    return Segment(
        id=str(n), start=_secs(*times[:4]), end=_secs(*times[4:]), text=text, speaker=speaker
    )


def read_srt(src: str | bytes | PathLike[str]) -> dict[str, Any]:
    """Parse SubRip; `[Speaker] ` at the start of a cue sets its speaker."""
    text = _content(src, "SRT")
    segs: list[Segment] = []
    for block in _blocks(text):
        k = next((i for i, ln in enumerate(block) if "-->" in ln), None)
        if k is None:
            _path_hint(text, "SRT")
            raise TranscriptFormatError(f"SRT block without a timing line: {block[0][:60]!r}")
        m = _SRT_TIME.match(block[k])
        if not m:
            raise TranscriptFormatError(f"bad SRT timing line {block[k][:80]!r}")
        g = m.groups()
        body = _clean(" ".join(block[k + 1 :]))
        speaker = None
        sm = _SRT_SPEAKER.match(body)
        if sm:
            speaker, body = sm.group(1).strip(), sm.group(2)
        segs.append(_cue_segment(len(segs), g, body, speaker))
    if not segs:
        _path_hint(text, "SRT")
    return _transcript(segs)


def read_vtt(src: str | bytes | PathLike[str]) -> dict[str, Any]:
    """Parse WebVTT; `<v Speaker>` voice tags set speakers; other tags are dropped."""
    text = _content(src, "WebVTT")
    if not text.lstrip().startswith("WEBVTT"):
        _path_hint(text, "WebVTT")
        raise TranscriptFormatError("not WebVTT: the text must start with 'WEBVTT'")
    segs: list[Segment] = []
    for n, block in enumerate(_blocks(text.lstrip())):
        if n == 0 or block[0].startswith(("NOTE", "STYLE", "REGION")):
            if n == 0 and any("-->" in ln for ln in block[1:]):
                raise TranscriptFormatError("WebVTT header must be followed by a blank line")
            continue
        k = next((i for i, ln in enumerate(block) if "-->" in ln), None)
        if k is None:
            raise TranscriptFormatError(f"WebVTT block without a timing line: {block[0][:60]!r}")
        m = _VTT_TIME.match(block[k])
        if not m:
            raise TranscriptFormatError(f"bad WebVTT timing line {block[k][:80]!r}")
        g = m.groups()
        payload = " ".join(block[k + 1 :])
        speaker = None
        vm = _VTT_VOICE.match(payload.strip())
        if vm:
            speaker = html.unescape(vm.group(1) or "").strip() or None
        body = _clean(html.unescape(_TAG.sub("", payload)))
        segs.append(_cue_segment(len(segs), g, body, speaker))
    return _transcript(segs)


# ---------------------------------------------------------------------- RTTM / STM
def _default_file_id(tr: Transcript) -> str:
    if tr.source:
        return _one_line(Path(str(tr.source)).stem or str(tr.source))
    return "audio"


def write_rttm(tr: Transcript, *, file_id: str | None = None) -> str:
    """RTTM `SPEAKER` lines, one per segment with times (`<NA>` for no speaker)."""
    fid = _one_line(file_id) if file_id is not None else _default_file_id(tr)
    lines = []
    for s in tr.segments:
        if math.isnan(s.start) or math.isnan(s.end):
            continue
        a, b = _ms(s.start), _ms(s.end)
        spk = "<NA>" if s.speaker is None else _one_line(s.speaker)
        lines.append(
            f"SPEAKER {fid} 1 {a / 1000:.3f} {max(b - a, 0) / 1000:.3f} <NA> <NA> {spk} <NA> <NA>"
        )
    return "".join(ln + "\n" for ln in lines)


def _pick_file(ids: list[str], file_id: str | None, what: str) -> str | None:
    uniq = list(dict.fromkeys(ids))
    if file_id is not None:
        if file_id not in uniq:
            raise TranscriptFormatError(f"{what} has no file {file_id!r} (it has {uniq[:10]})")
        return file_id
    if len(uniq) > 1:
        raise TranscriptFormatError(
            f"{what} holds several files {uniq[:10]}: choose one with file_id=..."
        )
    return uniq[0] if uniq else None


def read_rttm(src: str | bytes | PathLike[str], *, file_id: str | None = None) -> dict[str, Any]:
    """Parse RTTM `SPEAKER` lines into speaker turns (empty text); other line types are
    skipped. `source` is the file id. With several files in one RTTM, pass `file_id`."""
    text = _content(src, "RTTM")
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        f = line.split()
        if not f or f[0].startswith((";", "#")) or f[0] != "SPEAKER":
            continue
        if len(f) < 8:
            raise TranscriptFormatError(f"RTTM line {n}: expected 10 fields, got {len(f)}")
        try:
            start, dur = Decimal(f[3]), Decimal(f[4])
        except InvalidOperation as exc:
            raise TranscriptFormatError(f"RTTM line {n}: bad time {f[3]!r} {f[4]!r}") from exc
        if not (start.is_finite() and dur.is_finite()) or dur < 0:
            raise TranscriptFormatError(f"RTTM line {n}: bad time {f[3]!r} {f[4]!r}")
        rows.append((f[1], float(start), float(start + dur), None if f[7] == "<NA>" else f[7]))
    if not rows:
        _path_hint(text, "RTTM")
    fid = _pick_file([r[0] for r in rows], file_id, "RTTM")
    segs = [
        Segment(id=str(i), start=a, end=b, text="", speaker=spk)
        for i, (_, a, b, spk) in enumerate(r for r in rows if r[0] == fid)
    ]
    return _transcript(segs, source=fid)


def write_stm(tr: Transcript, *, file_id: str | None = None, channel: str = "1") -> str:
    """NIST STM lines `file channel speaker start end text` (speaker `unknown` if None)."""
    fid = _one_line(file_id) if file_id is not None else _default_file_id(tr)
    lines = []
    for s in tr.segments:
        if math.isnan(s.start) or math.isnan(s.end):
            continue
        spk = "unknown" if s.speaker is None else _one_line(s.speaker)
        lines.append(
            f"{fid} {channel} {spk} {_ms(s.start) / 1000:.3f} {_ms(s.end) / 1000:.3f} "
            f"{_clean(s.text)}".rstrip()
        )
    return "".join(ln + "\n" for ln in lines)


def read_stm(src: str | bytes | PathLike[str], *, file_id: str | None = None) -> dict[str, Any]:
    """Parse NIST STM (`file channel speaker start end [<label>] text`); `;;` comments and
    `inter_segment_gap` / `ignore_time_segment_in_scoring` lines are skipped."""
    text = _content(src, "STM")
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.lstrip().startswith(";;"):
            continue
        f = line.split(maxsplit=5)
        if len(f) < 5:
            raise TranscriptFormatError(f"STM line {n}: expected at least 5 fields, got {len(f)}")
        try:
            start, end = float(Decimal(f[3])), float(Decimal(f[4]))
        except InvalidOperation as exc:
            raise TranscriptFormatError(f"STM line {n}: bad time {f[3]!r} {f[4]!r}") from exc
        body = f[5] if len(f) > 5 else ""
        if body.startswith("<"):
            body = body.split(">", 1)[1] if ">" in body else ""
        body = _clean(body)
        if f[2].lower() == "inter_segment_gap" or body == "ignore_time_segment_in_scoring":
            continue
        rows.append((f[0], start, end, f[2], body))
    if not rows:
        _path_hint(text, "STM")
    fid = _pick_file([r[0] for r in rows], file_id, "STM")
    segs = [
        Segment(id=str(i), start=a, end=b, text=body, speaker=spk)
        for i, (_, a, b, spk, body) in enumerate(r for r in rows if r[0] == fid)
    ]
    return _transcript(segs, source=fid)


# ---------------------------------------------------------------------- text / JSON
def write_text(tr: Transcript, *, speaker_labels: bool = True) -> str:
    """One `Speaker: text` line per speaker turn when diarized, else the transcript text."""
    segs = [s for s in tr.segments if s.text]
    if not speaker_labels or not any(s.speaker is not None for s in segs):
        return tr.text or " ".join(s.text for s in segs)
    lines: list[list[Any]] = []
    for s in segs:
        if lines and lines[-1][0] == s.speaker:
            lines[-1][1].append(s.text)
        else:
            lines.append([s.speaker, [s.text]])
    return "\n".join(
        (f"{spk}: " if spk is not None else "") + " ".join(texts) for spk, texts in lines
    )


def transcript_to_dict(tr: Transcript) -> dict[str, Any]:
    """The `verbose_json` shape of `tr` (+ `source`); top-level `words` only when they are
    not simply the segments' words (e.g. a word-only transcript)."""
    d: dict[str, Any] = {
        "task": tr.task,
        "language": tr.language,
        "duration": tr.duration,
        "text": tr.text,
        "segments": [s.to_dict() for s in tr.segments],
    }
    nested = tuple(w for s in tr.segments for w in s.words)
    if tr.words != nested:
        d["words"] = [
            {**w.to_dict(), **({"segment_id": w.segment_id} if w.segment_id is not None else {})}
            for w in tr.words
        ]
    if tr.source is not None:
        d["source"] = tr.source
    return d


def read_json(data: Mapping[str, Any] | str | bytes | PathLike[str]) -> dict[str, Any]:
    """The fields of a Transcript from a `verbose_json`/`json` dict, JSON text or a JSON
    file `Path`."""
    if not isinstance(data, Mapping):
        text = _content(data, "JSON")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if _looks_like_path(text):
                _path_hint(text, "JSON")
            raise TranscriptFormatError(f"invalid JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise TranscriptFormatError("the JSON must be an object with a 'text' or 'segments'")
    try:
        return response_fields(data)
    except TypeError as exc:
        raise TranscriptFormatError(f"not a transcript JSON: {exc}") from None


# ---------------------------------------------------------------------- files
def _need_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "Parquet needs pyarrow, which fw-asr-widgets does not install: pip install pyarrow"
        ) from exc


CSV_DECIMALS: dict[str, int] = {"start": 3, "end": 3, "duration": 3, "confidence": 4}


def write_csv(df: pd.DataFrame, path: str | PathLike[str]) -> None:
    """Write a transcript frame as CSV with times rounded to the millisecond (`CSV_DECIMALS`)."""
    decimals = {c: n for c, n in CSV_DECIMALS.items() if c in df.columns}
    df.round(decimals).to_csv(path, index=False)


def save(tr: Transcript, path: str | PathLike[str], *, level: str = "segment") -> Path:
    """Write `tr` to `path` in the format its suffix names (see `SAVE_SUFFIXES`)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        _need_pyarrow()
        tr.to_pandas(level).to_parquet(p, index=False)
    elif suffix == ".csv":
        write_csv(tr.to_pandas(level), p)
    elif suffix in SAVE_SUFFIXES:
        writers: dict[str, Callable[[], str]] = {
            ".srt": tr.to_srt,
            ".vtt": tr.to_vtt,
            ".rttm": tr.to_rttm,
            ".stm": tr.to_stm,
            ".json": tr.to_json,
            ".txt": tr.to_text,
        }
        p.write_text(writers[suffix](), encoding="utf-8")
    else:
        raise ValueError(
            f"cannot tell the format of {p.name!r}: use one of {', '.join(SAVE_SUFFIXES)}"
        )
    return p


def load(path: str | PathLike[str]) -> dict[str, Any]:
    """The fields of the Transcript in a file, read by suffix (see `LOAD_SUFFIXES`); `source`
    is the file name unless the file names one itself (JSON `source`, RTTM/STM file id)."""
    import pandas as pd

    from fw_asr_widgets.transcript._frames import from_pandas

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in LOAD_SUFFIXES:
        raise ValueError(
            f"cannot tell the format of {p.name!r}: use one of {', '.join(LOAD_SUFFIXES)}"
        )
    if not p.exists():
        raise FileNotFoundError(f"no such transcript file: {p}")
    if suffix == ".parquet":
        _need_pyarrow()
        tr = from_pandas(pd.read_parquet(p))
    elif suffix == ".csv":
        df = pd.read_csv(
            p,
            dtype={c: "string" for c in ("segment_id", "speaker", "text", "language", "source")},
            keep_default_na=False,
            na_values=[""],
        )
        tr = from_pandas(df)
    elif suffix == ".txt":
        tr = {"text": p.read_text(encoding="utf-8-sig").strip()}
    else:
        readers = {
            ".srt": read_srt,
            ".vtt": read_vtt,
            ".rttm": read_rttm,
            ".stm": read_stm,
            ".json": read_json,
        }
        tr = readers[suffix](p)
    if tr.get("source") is None:
        tr["source"] = p.name
    return tr
