"""A self-contained HTML transcript page: speaker-coloured lines, audio embedded, click to play.

One file with no external resources, so it can be mailed or opened offline. The audio is
embedded as a base64 data URI; files over `max_audio_bytes` are left out (the page then shows
the transcript only) to keep the page a reasonable size.

Decisions:
- Clicking a line plays the audio from that line's start, as a click on a row (or a word) of
  the `TranscriptViewer` widget does: one behaviour everywhere.
- Speaker colours come from `fw_asr_widgets._palette`, shared with the notebook HTML repr and
  the widgets.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING

from fw_asr_widgets._palette import speaker_colors

if TYPE_CHECKING:
    from fw_asr_widgets.transcript import Transcript


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:52rem;margin:2rem auto;
padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.3rem}audio{width:100%;position:sticky;top:0;background:#fff;padding:.5rem 0}
.seg{display:grid;grid-template-columns:4.5rem 7rem 1fr;gap:.5rem;padding:.25rem .4rem;
border-radius:4px;cursor:pointer}.seg:hover{background:#f2f2f2}.seg.now{background:#fff4cc}
.t{color:#666;font-variant-numeric:tabular-nums}.spk{font-weight:600}
.meta{color:#666;font-size:.9rem}
"""

_JS = """
const a=document.querySelector('audio');const rows=[...document.querySelectorAll('.seg')];
rows.forEach(r=>r.addEventListener('click',()=>{if(a){a.currentTime=+r.dataset.start;a.play();}}));
if(a)a.addEventListener('timeupdate',()=>{const t=a.currentTime;rows.forEach(r=>
r.classList.toggle('now',t>=+r.dataset.start&&t<+r.dataset.end));});
"""


def _mmss(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    return f"{int(m):02d}:{s:04.1f}"


def render_html_page(
    tr: Transcript,
    *,
    audio: str | Path | None = None,
    title: str = "Transcript",
    max_audio_bytes: int = 50 * 1024**2,
) -> str:
    """The page as a string."""
    speakers = list(tr.speakers)
    colour = speaker_colors(speakers)
    rows = []
    for seg in tr.segments:
        spk = seg.speaker or ""
        style = f' style="color:{colour[spk]}"' if spk in colour else ""
        rows.append(
            f'<div class="seg" data-start="{seg.start:.3f}" data-end="{seg.end:.3f}"'
            ' title="Click to play from here">'
            f'<span class="t">{_mmss(seg.start)}</span>'
            f'<span class="spk"{style}>{html.escape(spk)}</span>'
            f"<span>{html.escape(seg.text)}</span></div>"
        )
    player = ""
    if audio is not None:
        p = Path(audio)
        if p.is_file() and p.stat().st_size <= max_audio_bytes:
            mime = mimetypes.guess_type(p.name)[0] or "audio/wav"
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            player = f'<audio controls preload="auto" src="data:{mime};base64,{data}"></audio>'
    duration = (
        tr.duration if tr.duration is not None else (tr.segments[-1].end if tr.segments else 0.0)
    )
    meta = (
        f"{len(tr.segments)} segments · {len(speakers) or 'no'} speaker labels · "
        f"{_mmss(duration)} · language {html.escape(tr.language or 'unknown')}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="meta">{meta}</p>{player}'
        f"<main>{''.join(rows)}</main>"
        f'<script type="application/json" id="speakers">{json.dumps(speakers)}</script>'
        f"<script>{_JS}</script></body></html>"
    )


def write_html_page(
    tr: Transcript, path: str | Path, *, audio: str | Path | None = None, title: str = "Transcript"
) -> Path:
    """Write the page to `path` and return it."""
    out = Path(path)
    out.write_text(render_html_page(tr, audio=audio, title=title), encoding="utf-8")
    return out
