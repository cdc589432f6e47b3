"""Speaker colours: the one palette every rendering of a transcript uses.

Used by the HTML page (`_page.py`), the notebook HTML repr (`transcript/display.py`) and the
widgets (`TranscriptViewer`, `Timeline`, which send it to the page as a synced trait, so the
front end holds no copy of its own).

Decisions:
- Okabe & Ito (2008): distinguishable with the common forms of colour blindness. Black is left
  out (it is the text colour); the order puts the strongest contrasts first, as most
  transcripts have two or three speakers.
- A speaker's colour is its index in order of first appearance (`Transcript.speakers`),
  cycling: the same transcript gets the same colours everywhere.
- Text without a speaker label is grey (`NO_SPEAKER_COLOR`).
- Bottom layer: this module imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["NO_SPEAKER_COLOR", "PALETTE", "speaker_color", "speaker_colors"]

PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
)
"""Okabe-Ito colours, in the order speakers get them."""

NO_SPEAKER_COLOR = "#9E9E9E"
"""Colour of text that has no speaker label."""


def speaker_color(index: int) -> str:
    """Colour of the speaker at `index` (order of first appearance); -1: no speaker."""
    return PALETTE[index % len(PALETTE)] if index >= 0 else NO_SPEAKER_COLOR


def speaker_colors(speakers: Sequence[str]) -> dict[str, str]:
    """Speaker → colour, cycling through `PALETTE` in the given order."""
    return {s: speaker_color(i) for i, s in enumerate(speakers)}
