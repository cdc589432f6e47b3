"""`TranscriptViewer`: a virtualised, speaker-coloured transcript with an audio player.

Length (over 500 lines): the widget class with its documented message protocol and the edit
API users call from Python; audio encoding is in `_media`, editing logic in
`transcript._edit`.

Data paths (why they are split this way):

- **Synced traits** are saved into the notebook's widget state, so they stay bounded: the
  speaker table, the renames, the playback position and, for transcripts of at most
  `SYNC_SEGMENT_LIMIT` segments, the segments themselves as compact rows
  ``[start, end, speaker_index, text]`` (≈100 bytes each, so ≤ ~200 KB in the .ipynb).
- Larger transcripts (a 3-hour meeting has ~10,000 segments, ~1 MB) send their rows as a
  custom message after the view is rendered; the saved notebook then keeps only the count.
- **Word timings** always travel by message (columnar JSON), after render.
- **Audio** always travels by message with one binary buffer, after the browser says
  ``{"type": "ready"}``; never as state (it would be saved into the .ipynb, and Colab drops
  buffers in initial state). Browser-playable files (wav, mp3, ogg, flac, webm, m4a) up to
  `AUDIO_PASSTHROUGH_BYTES` go as they are; anything else, longer audio and numpy arrays
  whose PCM16 WAV would exceed that size (≈33 min at 16 kHz) are transcoded with PyAV to
  Opus in WebM (~25 kbit/s on speech: a 3-hour recording becomes ~35 MB; encoding runs at
  ~130× real time on 2 cores, so ~15 s for 30 min and ~1.5 min for 3 h, in a background
  thread: the transcript shows at once, the player when the audio arrives).

Messages, browser → kernel: ``ready``, ``export {format}``, ``edit {seq, op}`` (editable).
Kernel → browser: ``audio {mime}`` + 1 buffer, ``segments {rows, revision}``,
``words {revision, seg, k, start, end, text, p}``, ``export {format, filename, mime}`` + 1
buffer, ``audio_error {message}``, ``patch {revision, seq, index, removed, rows, words}``
(after an edit: only the replaced rows and their words), ``edit_error {seq, message}``.

Editing (``editable=True``): the kernel holds the truth, a `TranscriptEdits`
(`fw_asr_widgets.transcript._edit`). The page sends each operation as an ``edit`` message;
the kernel applies it and answers with a ``patch`` of the changed rows, so an edit costs the
same on a 10,000-segment transcript as on a short one. Edits made from Python
(`viewer.edit_word(...)`, `viewer.undo()`, ...) send the same patches. `viewer.transcript` is
the corrected transcript, `viewer.edits` the log of every edit.

Decisions:
- A click on a row (or on a word) plays the audio from there, as a click on a line of the
  HTML page (`fw_asr_widgets._page`) does; the player's own controls pause. A click on a row's
  speaker name only seeks: a double click there renames the speaker.
- Speaker colours come from `fw_asr_widgets._palette`, sent to the page in the `palette` /
  `no_speaker_color` traits (the front end keeps no copy).
- Speaker chips say they can be renamed: a pencil cue, a tooltip and a text cursor.
- With no segments the page shows `empty_text` (the app sets a hint on what to do).
- An editable viewer always sends its rows by message (never as synced state): every edit
  then travels as a patch of a few rows, and a page reload asks the kernel for the current
  rows (`ready`). The saved notebook keeps only the count of an editable viewer's rows.
- Rows are ``[start, end, speaker_index, text, flag]``; `flag` is 1 for a segment that looks
  invented (`hallucination_flags`: the rule of the `hallucination` column of `to_pandas()`). Word
  probabilities travel with the words (``p``, -1 when unknown) and the page underlines words
  below `uncertainty_threshold`.
- The front end is one ES module built at import time from ``viewer.js`` with the shared
  helpers of ``_shared.js`` inlined (`fw_asr_widgets.widgets._base.bundle`).
- With ``voices=`` (a `fw.Voices` bank) a speaker correction teaches the bank: the speech
  given to a speaker (``set_speaker``, from the page or Python) is enrolled under that
  speaker's *name*. A diarizer label (``SPEAKER_00``) is not a name, so spans given to one
  wait until it is renamed and are enrolled then. Enrolment runs in a background thread
  (CAM++ on the reassigned span; the audio is decoded once) and reports in the status line;
  a span too short to enrol (< 0.4 s of speech) is reported, not raised. `viewer.enrolled`
  lists what was enrolled. `viewer.enroll(voices)` enrols every named speaker of the
  corrected transcript at once.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from fw_asr_widgets._palette import NO_SPEAKER_COLOR, PALETTE
from fw_asr_widgets._subtitles import clock, ms
from fw_asr_widgets.transcript import Segment, Transcript, Word
from fw_asr_widgets.transcript._edit import Change, EditError, TranscriptEdits
from fw_asr_widgets.transcript._frames import hallucination_flags
from fw_asr_widgets.widgets._base import FwWidget, bundle
from fw_asr_widgets.widgets._media import AUDIO_PASSTHROUGH_BYTES, encode_audio

if TYPE_CHECKING:
    import pandas as pd

    from fw_asr_widgets.voices import Voices

__all__ = [
    "AUDIO_PASSTHROUGH_BYTES",
    "SYNC_SEGMENT_LIMIT",
    "TranscriptViewer",
    "encode_audio",
]

SYNC_SEGMENT_LIMIT = 2000
"""Transcripts with more segments send them by message instead of synced state."""

_LABEL = re.compile(r"(SPEAKER|VOICE)_\d+")
"""Labels a diarizer or `link_speakers` makes up: not a person's name, never enrolled."""


def speaker_table(tr: Transcript) -> list[str]:
    """Speaker labels in order of first appearance (segments first, then words)."""
    return [str(s) for s in tr.speakers]


def segment_rows(segments: Sequence[Segment], speakers: Sequence[str]) -> list[list[Any]]:
    """``[start, end, speaker_index (-1 = none), text, flag]`` per segment, times rounded to
    ms; `flag` is 1 when the segment looks invented (see `hallucination_flags`)."""
    index = {s: i for i, s in enumerate(speakers)}
    flags = hallucination_flags(segments)
    return [
        [
            round(s.start, 3),
            round(s.end, 3),
            index.get(str(s.speaker), -1) if s.speaker is not None else -1,
            s.text,
            1 if f else 0,
        ]
        for s, f in zip(segments, flags, strict=True)
    ]


def row_words(words: Sequence[Word]) -> dict[str, list[Any]]:
    """One row's timed words, columnar: ``k`` (index in the segment), start, end, text, p."""
    out = word_columns([words])
    del out["seg"]
    return out


def word_columns(per_segment: Sequence[Sequence[Word]]) -> dict[str, list[Any]]:
    """Columnar word timings: ``seg`` (segment index), ``k`` (index inside the segment),
    ``start``, ``end``, ``text``, ``p`` (probability, -1 when unknown)."""
    cols: dict[str, list[Any]] = {"seg": [], "k": [], "start": [], "end": [], "text": [], "p": []}
    for i, words in enumerate(per_segment):
        for k, w in enumerate(words):
            if w.start is None:
                continue
            cols["seg"].append(i)
            cols["k"].append(k)
            cols["start"].append(round(w.start, 3))
            cols["end"].append(round(w.end if w.end is not None else w.start, 3))
            cols["text"].append(w.word)
            cols["p"].append(-1 if w.probability is None else round(w.probability, 3))
    return cols


# ---------------------------------------------------------------------------------------------


class TranscriptViewer(FwWidget):
    """Speaker-coloured, searchable, virtualised transcript with a synced audio player; with
    ``editable=True`` an editor.

    >>> v = TranscriptViewer(tr, audio="meeting.wav", editable=True)
    >>> v.speaker_names = {"SPEAKER_00": "Diane"}   # or rename in the page
    >>> v.edit_word(3, 1, "Sheila"); v.undo(); v.redo()   # or edit in the page
    >>> v.transcript.save("fixed.srt"); v.edits          # corrected transcript, edit log

    `audio`: a file path, bytes (any format FFmpeg reads), a numpy array (with
    `sample_rate=`), an ipywebrtc `AudioRecorder` or its `audio` widget, or None.
    `current_time` (seconds) follows the player; setting it from Python (or a linked
    `Timeline`) seeks. Clicking a row or a word in the page plays from there.
    Edit positions are segment index ``i`` and word index ``k`` inside that segment.
    """

    _esm = bundle("viewer.js")
    _css = bundle("viewer.css")

    # Synced traits, one a line (the timeline declares the shared ones the same way).
    speakers = traitlets.List(traitlets.Unicode()).tag(sync=True)
    speaker_names = traitlets.Dict(value_trait=traitlets.Unicode()).tag(sync=True)
    segments = traitlets.List().tag(sync=True)
    n_segments = traitlets.Int(0).tag(sync=True)
    segments_by_message = traitlets.Bool(False).tag(sync=True)
    revision = traitlets.Int(0).tag(sync=True)
    duration = traitlets.Float(0.0).tag(sync=True)
    current_time = traitlets.Float(0.0).tag(sync=True)
    has_audio = traitlets.Bool(False).tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    palette = traitlets.List(traitlets.Unicode(), default_value=list(PALETTE)).tag(sync=True)
    no_speaker_color = traitlets.Unicode(NO_SPEAKER_COLOR).tag(sync=True)
    empty_text = traitlets.Unicode("No transcript to show.").tag(sync=True)
    editable = traitlets.Bool(False).tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    can_redo = traitlets.Bool(False).tag(sync=True)
    n_edits = traitlets.Int(0).tag(sync=True)
    uncertainty_threshold = traitlets.Float(0.5).tag(sync=True)
    """Words with a probability below this are underlined in the page (0 shows none)."""

    def __init__(
        self,
        transcript: Transcript | None = None,
        audio: Any = None,
        *,
        sample_rate: int | None = None,
        speaker_names: Mapping[str, str] | None = None,
        height: int = 420,
        editable: bool = False,
        voices: Voices | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(height=height, editable=editable, **kwargs)
        self.voices = voices
        """The bank speaker corrections are enrolled in (None: corrections teach nothing)."""
        self.enrolled: list[dict[str, Any]] = []
        """What corrections enrolled: name, speaker, start, end (seconds), in order."""
        self._pending: dict[str, list[tuple[float, float]]] = {}
        self._enrol_lock = threading.Lock()
        self._enrol_audio: tuple[Any, np.ndarray] | None = None
        self._lock = threading.RLock()
        self._encode_lock = threading.Lock()
        self._ed = TranscriptEdits(Transcript(text=""))
        self._syncing_names = False
        self._audio_src: Any = None
        self._sample_rate: int | None = None
        self._audio_payload: tuple[bytes, str] | None = None
        self.on_msg(self._on_msg)
        self.observe(self._on_names, "speaker_names")
        self.observe(self._on_editable, "editable")
        self.set_transcript(transcript or Transcript(text=""), audio, sample_rate=sample_rate)
        if speaker_names:  # the starting names: not an edit (nothing to undo)
            self._syncing_names = True
            try:
                self.speaker_names = dict(speaker_names)
            finally:
                self._syncing_names = False
            self._ed.names = dict(self.speaker_names)

    # -- public API -----------------------------------------------------------------------

    def set_transcript(
        self, transcript: Transcript, audio: Any = None, *, sample_rate: int | None = None
    ) -> None:
        """Show another transcript (and audio); open views update in place. Edits of the
        previous transcript are dropped (keep them with `viewer.transcript` first)."""
        if not isinstance(transcript, Transcript):
            raise TypeError(f"transcript must be a Transcript, not {type(transcript).__name__}")
        if isinstance(audio, np.ndarray) and not sample_rate:
            raise ValueError("a numpy audio array needs sample_rate= (in Hz)")
        if (
            audio is not None
            and not isinstance(audio, np.ndarray | bytes | bytearray | str | os.PathLike)
            and not hasattr(audio, "value")
            and not hasattr(getattr(audio, "audio", None), "value")
        ):
            raise TypeError(
                f"audio must be a path, bytes, a numpy array or None, not {type(audio).__name__}"
            )
        if isinstance(audio, str | os.PathLike) and not Path(audio).is_file():
            raise FileNotFoundError(f"no such audio file: {os.fspath(audio)}")
        with self._lock:
            self._ed = TranscriptEdits(transcript)
            self._audio_src = audio
            self._sample_rate = sample_rate
            self._audio_payload = None
            speakers = speaker_table(transcript)
            rows = segment_rows(self._ed.segments, speakers)
            self._rows = rows
            by_message = self.editable or len(rows) > SYNC_SEGMENT_LIMIT
            end = max((r[1] for r in rows), default=0.0)
            with self.hold_sync():
                self.speakers = speakers
                self._syncing_names = True
                try:
                    self.speaker_names = {
                        k: v for k, v in self.speaker_names.items() if k in set(speakers)
                    }
                finally:
                    self._syncing_names = False
                self._ed.names = dict(self.speaker_names)
                self.segments_by_message = by_message
                self.segments = [] if by_message else rows
                self.n_segments = len(rows)
                self.duration = float(max(transcript.duration or 0.0, end))
                self.has_audio = audio is not None
                self.error = ""
                self.status = "loading audio…" if audio is not None else ""
                self.title = transcript.source or ""
                self._edit_traits()
                self.revision += 1
        # Views already on screen get the new message-borne data now; new views ask on ready.
        self._push_data()
        if audio is not None:
            self._push_audio_async()

    @property
    def transcript(self) -> Transcript:
        """The transcript with the edits and speaker renames made here applied."""
        with self._lock:
            return self._ed.transcript

    @property
    def edits(self) -> pd.DataFrame:
        """Every edit, undo and redo made here, in order: time (UTC), operation, segment and
        word (positions at the time), start (audio seconds), before, after."""
        with self._lock:
            return self._ed.log_frame()

    def to_pandas(self, level: str = "segment") -> Any:
        """`transcript.to_pandas(level)` with the edits and renamed speakers."""
        return self.transcript.to_pandas(level=level)

    def export(self, fmt: str) -> str:
        """The transcript (renamed speakers) as ``"srt"``, ``"vtt"``, ``"csv"`` or ``"txt"``."""
        tr = self.transcript
        if fmt == "srt":
            return str(tr.to_srt())
        if fmt == "vtt":
            return str(tr.to_vtt())
        if fmt == "csv":
            return str(tr.to_pandas().to_csv(index=False))
        if fmt == "txt":
            return "\n".join(
                f"[{clock(ms(s.start), '.')[:-4]}] {s.speaker + ': ' if s.speaker else ''}{s.text}"
                for s in tr.segments
            )
        raise ValueError(f"export format must be 'srt', 'vtt', 'csv' or 'txt', not {fmt!r}")

    def seek(self, seconds: float) -> None:
        """Move the player (and linked timelines) to `seconds`."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seek time must be a finite number ≥ 0, not {seconds!r}")
        self.current_time = float(seconds)

    # -- editing ----------------------------------------------------------------------------

    def apply(self, op: Mapping[str, Any]) -> None:
        """Apply one edit given as a dict, as the page sends it (see `TranscriptEdits.apply`):
        ``{"op": "edit_word", "segment": 3, "word": 1, "text": "Sheila"}``. Raises
        `EditError` (a `ValueError`) when it cannot apply; nothing changes then."""
        self._apply(op, seq=None)

    def edit_word(self, i: int, k: int, text: str) -> None:
        """Replace the text of word `k` of segment `i`."""
        self.apply({"op": "edit_word", "segment": i, "word": k, "text": text})

    def insert_word(self, i: int, k: int, text: str) -> None:
        """Insert `text` before word `k` of segment `i` (`k` = word count appends)."""
        self.apply({"op": "insert_word", "segment": i, "word": k, "text": text})

    def delete_word(self, i: int, k: int) -> None:
        """Delete word `k` of segment `i`."""
        self.apply({"op": "delete_word", "segment": i, "word": k})

    def set_text(self, i: int, text: str) -> None:
        """Replace the whole text of segment `i` (words spread evenly over it)."""
        self.apply({"op": "set_text", "segment": i, "text": text})

    def split(self, i: int, k: int) -> None:
        """Split segment `i` so that word `k` begins a new segment."""
        self.apply({"op": "split", "segment": i, "word": k})

    def merge(self, i: int) -> None:
        """Merge segment `i` with the next one."""
        self.apply({"op": "merge", "segment": i})

    def set_speaker(
        self, i: int, speaker: str, start: int | None = None, stop: int | None = None
    ) -> None:
        """Give segment `i` (or its words ``start:stop``) to `speaker`, existing or new."""
        self.apply(
            {"op": "set_speaker", "segment": i, "speaker": speaker, "start": start, "stop": stop}
        )

    def enroll(self, voices: Voices | None = None) -> list[str]:
        """Enrol every named speaker of the corrected transcript (all its timed segments) in
        `voices` (default: the viewer's bank); returns the names enrolled. Needs the audio."""
        bank = voices if voices is not None else self.voices
        if bank is None:
            raise ValueError("no voice bank: pass one, or create the viewer with voices=")
        audio = self._audio_16k()
        tr = self.transcript
        done = []
        for speaker in tr.speakers:
            name = str(speaker)
            if _LABEL.fullmatch(name):
                continue
            bank.enroll_from(tr, name, name=name, audio=audio)
            done.append(name)
        return done

    def undo(self) -> None:
        """Undo the last edit (a rename included). Raises `EditError` when there is none."""
        self.apply({"op": "undo"})

    def redo(self) -> None:
        """Redo the last undone edit. Raises `EditError` when there is none."""
        self.apply({"op": "redo"})

    def _edit_traits(self) -> None:
        self.can_undo = self._ed.can_undo
        self.can_redo = self._ed.can_redo
        self.n_edits = len(self._ed._undo)

    def _apply(self, op: Mapping[str, Any], seq: Any) -> None:
        with self._lock:
            rev = self.revision
            change = self._ed.apply(op)
            if change is not None and op.get("op") == "set_speaker" and self.voices is not None:
                label = str(op.get("speaker"))
                spans = [
                    (float(x.start), float(x.end))
                    for x in change.segments
                    if x.speaker == label and x.start is not None and x.end is not None
                ]
                self._pending.setdefault(label, []).extend(spans)
                self._enrol_named()
            with self.hold_sync():
                if change is None:  # a rename (or its undo/redo)
                    self._syncing_names = True
                    try:
                        self.speaker_names = dict(self._ed.names)
                    finally:
                        self._syncing_names = False
                else:
                    self._patch(change, rev, seq)
                self._edit_traits()
            if change is None:
                self._post(
                    {
                        "type": "patch",
                        "revision": rev,
                        "seq": seq,
                        "index": 0,
                        "removed": 0,
                        "rows": [],
                        "words": [],
                    }
                )

    def _patch(self, change: Change, rev: int, seq: Any) -> None:
        """Update the rows and speakers, and send the changed rows to open views."""
        speakers = list(self.speakers)
        for s in change.segments:
            if s.speaker is not None and s.speaker not in speakers:
                speakers.append(s.speaker)
        if speakers != self.speakers:
            self.speakers = speakers
        rows = segment_rows(change.segments, speakers)
        self._rows[change.index : change.index + change.removed] = rows
        self.n_segments = len(self._rows)
        self._post(
            {
                "type": "patch",
                "revision": rev,
                "seq": seq,
                "index": change.index,
                "removed": change.removed,
                "rows": rows,
                "words": [row_words(s.words) for s in change.segments],
            }
        )

    def _on_editable(self, change: Any) -> None:
        if change["new"] and not self.segments_by_message:
            with self._lock, self.hold_sync():
                self.segments_by_message = True
                self.segments = []
                self.revision += 1
            self._push_data()

    def _on_names(self, change: Any) -> None:
        if self._syncing_names:
            self._enrol_named()
            return
        with self._lock:
            self._ed.set_names(change["new"] or {})
            self._edit_traits()
            self._enrol_named()

    # -- enrolment from corrections (see the module's Decisions) ----------------------------

    def _enrol_named(self) -> None:
        """Start enrolling the waiting spans of speakers that have a name now."""
        if self.voices is None or self._audio_src is None:
            return
        ready = []
        for label in list(self._pending):
            name = self._ed.names.get(label) or label
            if not _LABEL.fullmatch(name):
                ready.append((label, name, self._pending.pop(label)))
        if ready:
            threading.Thread(
                target=self._enrol, args=(ready,), name="fw-asr-viewer-enrol", daemon=True
            ).start()

    def _audio_16k(self) -> np.ndarray:
        """The viewer's audio as 16 kHz mono float32 (decoded once per audio source)."""
        from fw_asr_widgets.audio import SAMPLE_RATE, decode, resample

        src, rate = self._audio_src, self._sample_rate
        if src is None:
            raise ValueError("the viewer has no audio to enrol voices from")
        cached = self._enrol_audio
        if cached is not None and cached[0] is src:
            return cached[1]
        if isinstance(src, np.ndarray):
            a = np.asarray(src, dtype=np.float32)
            a = a.mean(axis=1) if a.ndim == 2 else a.reshape(-1)
            a = resample(a, int(rate or SAMPLE_RATE), SAMPLE_RATE)
        else:
            value = getattr(getattr(src, "audio", src), "value", src)
            a = decode(bytes(value) if isinstance(value, bytearray | memoryview) else value)
        self._enrol_audio = (src, a)
        return a

    def _enrol(self, ready: list[tuple[str, str, list[tuple[float, float]]]]) -> None:
        with self._enrol_lock:
            bank = self.voices
            if bank is None:
                return
            try:
                audio = self._audio_16k()
            except Exception as exc:  # shown in the page, never raised in the kernel
                self.set_status(f"could not enrol: {exc}")
                return
            for label, name, spans in ready:
                secs = 0.0
                for start, end in spans:
                    try:
                        bank.enroll(name, audio, start=start, end=end)
                    except ValueError as exc:  # too short: say so, keep the rest
                        self.set_status(f"not enrolled: {exc}")
                        continue
                    secs += end - start
                    self.enrolled.append(
                        {"name": name, "speaker": label, "start": start, "end": end}
                    )
                if secs:
                    self.set_status(f"enrolled {name} ({secs:.1f} s of speech)")

    # -- messages ---------------------------------------------------------------------------

    def _post(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        if self.comm is not None:
            self.send(content, buffers)

    def _push_data(self) -> None:
        with self._lock:
            rev = self.revision
            if self.segments_by_message:
                self._post({"type": "segments", "revision": rev, "rows": self._rows})
            words = word_columns([s.words for s in self._ed.segments])
            self._post({"type": "words", "revision": rev, **words})

    def _push_audio(self) -> None:
        """Encode (once per transcript/audio, off the kernel's thread) and send the audio.

        The data lock is never held while encoding, so `ready` messages and `set_transcript`
        are not blocked by a long transcode; audio of a replaced transcript is dropped.
        """
        with self._lock:
            src, rate, rev = self._audio_src, self._sample_rate, self.revision
            payload = self._audio_payload
        if src is None:
            return
        if payload is None:
            with self._encode_lock:
                with self._lock:
                    payload = self._audio_payload if self.revision == rev else None
                if payload is None:
                    try:
                        payload = encode_audio(src, rate)
                    except Exception as exc:  # shown in the page, never raised in the kernel
                        with self._lock:
                            if self.revision != rev:
                                return
                        self.set_error(f"audio error: {exc}")
                        self._post({"type": "audio_error", "message": str(exc)})
                        return
                    with self._lock:
                        if self.revision != rev:
                            return
                        self._audio_payload = payload
        data, mime = payload
        with self._lock:
            if self.revision != rev:
                return
        self.set_status("")
        self._post({"type": "audio", "mime": mime, "revision": rev}, [data])

    def _push_audio_async(self) -> None:
        threading.Thread(target=self._push_audio, name="fw-asr-viewer-audio", daemon=True).start()

    def _on_msg(self, _widget: Any, content: Any, buffers: list[bytes] | None) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "ready":
            self._push_data()
            if self._audio_src is not None:
                if self._audio_payload is not None:
                    self._push_audio()
                else:
                    self._push_audio_async()
        elif kind == "edit":
            seq = content.get("seq")
            op = content.get("op")
            if not self.editable:
                self._post(
                    {"type": "edit_error", "seq": seq, "message": "this viewer is read-only"}
                )
                return
            try:
                self._apply(op if isinstance(op, dict) else {}, seq)
            except EditError as exc:
                self._post({"type": "edit_error", "seq": seq, "message": str(exc)})
        elif kind == "export":
            fmt = str(content.get("format", ""))
            try:
                text = self.export(fmt)
            except ValueError as exc:
                self._post({"type": "export_error", "message": str(exc)})
                return
            mime = {"srt": "application/x-subrip", "vtt": "text/vtt", "csv": "text/csv"}.get(
                fmt, "text/plain"
            )
            stem = Path(self._ed.original.source or "transcript").stem or "transcript"
            self._post(
                {"type": "export", "format": fmt, "filename": f"{stem}.{fmt}", "mime": mime},
                [text.encode("utf-8")],
            )
