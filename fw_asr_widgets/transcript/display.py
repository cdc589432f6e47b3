"""Notebook display of a Transcript: a short plain-text repr and a bounded HTML view.

Speaker colours come from `fw_asr_widgets._palette` (the one palette shared with the HTML page
and the widgets), assigned in order of first appearance, so a speaker keeps its colour in
every rendering of the same transcript.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from fw_asr_widgets._palette import NO_SPEAKER_COLOR, PALETTE, speaker_colors

if TYPE_CHECKING:
    from fw_asr_widgets.transcript._model import Transcript

__all__ = ["MAX_HTML_SEGMENTS", "PALETTE", "clock", "short_repr", "speaker_colors", "to_html"]

MAX_HTML_SEGMENTS = 50
_MAX_HTML_TEXT = 2000


def clock(t: float | None) -> str:
    """`mm:ss`, or `h:mm:ss` from one hour on ("--:--" when unknown)."""
    if t is None or not math.isfinite(t):
        return "--:--"
    s = max(0, int(t))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _preview(text: str, n: int = 30) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 3].rstrip() + "..."


def short_repr(tr: Transcript) -> str:
    """`Transcript(12 segments, 2 speakers, 30.0 s, 'Hello? ...')`: always short."""
    parts = [f"{len(tr.segments)} segment{'s' if len(tr.segments) != 1 else ''}"]
    n_spk = len(tr.speakers)
    if n_spk:
        parts.append(f"{n_spk} speaker{'s' if n_spk != 1 else ''}")
    end = tr.end_time
    if end:
        parts.append(f"{end:.1f} s")
    if tr.language:
        parts.append(_preview(str(tr.language), 12))
    if tr.source:
        parts.append(f"source={_preview(str(tr.source), 30)!r}")
    parts.append(repr(_preview(tr.text or " ".join(s.text for s in tr.segments[:5]))))
    return f"Transcript({', '.join(parts)})"


def to_html(tr: Transcript, max_segments: int = MAX_HTML_SEGMENTS) -> str:
    """A compact, speaker-coloured HTML transcript: first `max_segments` segments, then a
    "… n more segments" line. All text is HTML-escaped."""
    colors = speaker_colors(tr.speakers)
    esc = html.escape
    head = esc(short_repr(tr))
    rows = []
    for s in tr.segments[:max_segments]:
        if s.speaker is not None:
            col = colors.get(s.speaker, NO_SPEAKER_COLOR)
            spk = (
                f'<span style="color:{col};font-weight:600;white-space:nowrap;'
                f'border-left:4px solid {col};padding-left:4px">{esc(s.speaker)}</span>'
            )
        else:
            spk = ""
        rows.append(
            "<tr>"
            f'<td style="color:#666;font-family:monospace;white-space:nowrap;'
            f'vertical-align:top;padding:1px 8px 1px 0">{clock(s.start)}</td>'
            f'<td style="vertical-align:top;padding:1px 8px 1px 0">{spk}</td>'
            f'<td style="text-align:left;padding:1px 0">{esc(s.text)}</td>'
            "</tr>"
        )
    more = len(tr.segments) - max_segments
    if more > 0:
        rows.append(
            f'<tr><td colspan="3" style="color:#666;text-align:left">… {more} more segment'
            f"{'s' if more != 1 else ''}</td></tr>"
        )
    if not tr.segments and tr.text:
        text = tr.text if len(tr.text) <= _MAX_HTML_TEXT else tr.text[:_MAX_HTML_TEXT] + " …"
        rows.append(f'<tr><td style="text-align:left">{esc(text)}</td></tr>')
    return (
        '<div class="fw-asr-transcript" style="font-size:13px;line-height:1.4">'
        f'<div style="color:#666;font-family:monospace;margin-bottom:4px">{head}</div>'
        f'<table style="border-collapse:collapse">{"".join(rows)}</table></div>'
    )
