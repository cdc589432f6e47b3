"""Small real recordings bundled with the package (see ATTRIBUTION.md beside this file).

- `two_speakers.wav`: a 30 s telephone conversation between two speakers (Diane, Sheila),
  with `two_speakers.rttm` (who spoke when) and `two_speakers.stm` (what each said).
- `jfk.wav`: 11 s of J. F. Kennedy's inaugural address.
- `english.wav` ("one two three"), `french.aiff` ("et c'est la dictée numéro 1"),
  `chinese.flac` ("砸自己的脚"): short single-speaker clips in three languages.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def path(name: str) -> Path:
    """Absolute path of a bundled sample, e.g. `path("two_speakers.wav")`."""
    p = HERE / name
    if not p.is_file():
        available = ", ".join(sorted(f.name for f in HERE.iterdir() if f.suffix != ".py"))
        raise FileNotFoundError(f"no bundled sample {name!r}; available: {available}")
    return p


AUDIO_SUFFIXES = (".wav", ".aiff", ".flac")

REFERENCES: dict[str, str] = {
    "jfk.wav": JFK_TEXT,
    "english.wav": "one two three",
    "french.aiff": "et c'est la dictée numéro 1",
    "chinese.flac": "砸自己的脚",
}
"""Reference transcripts (two_speakers.wav has its own in two_speakers.stm)."""


def names() -> list[str]:
    """The bundled audio files."""
    return sorted(f.name for f in HERE.iterdir() if f.suffix in AUDIO_SUFFIXES)
