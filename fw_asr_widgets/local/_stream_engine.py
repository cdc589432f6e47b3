"""The live transcription engine of one stream: audio buffer, Whisper decodes, local
agreement, buffer trimming, and (with `speakers=True`) live speaker labels. No I/O and no
asyncio: `local/streaming.py` (the WebSocket protocol) drives it, tests and benchmarks call it
directly. The decode policy is described in `streaming`'s module docstring (section "Engine").

Speaker labels (`_live_speakers.LiveSpeakers`): the labeller gets every audio frame; the
worker thread embeds the new speech windows right after each decode (the decoded words tell
where speech is), and each word is labelled on the caller's thread as local agreement commits
it (clustering only, no model run), so labels go out in the same message as the commit.
Each closed segment is widened to the speech Silero detected around it
(`LiveSpeakers.extent`), as file diarization widens segments to its speaker turns.

Decisions:
- No gain staging of the stream (file transcription raises quiet recordings,
  `_preprocess.stage_gain`). Measured and not kept: the same gain for the stream, its level
  taken from the loud 100 ms blocks of all audio so far (a histogram; after 30 s within 0.03
  dB of the file's gain), applied to each decode's buffer from 2 s on. The 12 AMI snippets
  decoded every 1 s with labels: mean DER 41.5% → 46.3% (trn04 41% → 61%, trn08 50% → 75%:
  more words, but more false alarm and confusion; trn03 7.6% → 5.6%, trn06 26.3% → 24.6%);
  ami_trn01 got "Thank you." (file transcription hears "Okay."), ami_trn02 still nothing
  (0.7 s of speech in 30 s).
- Silero VAD of each decode at faster-whisper's default threshold (0.5), not the file path's
  0.35 (`engine.VAD_THRESHOLD`). Measured the same way at 0.35: ami_trn00 28.6% → 24.7%, but
  ami_trn05 2.1% → 14.5% (a decode's "and the view and the view …" loop was committed, 52 →
  134 words) and ami_trn08 49.9% → 63.6%; no words on ami_trn01/02 either way. Six 30 s
  streams of silence, white noise (-70 to -45 dBFS), mains hum and brown noise give no
  words at either threshold.
- Both measured again on the words (no AMI word references exist: the file transcription
  of each snippet, `transcribe(path, language="en")`, stands in as the reference), the 12
  snippets decoded every 1 s without labels: WER 19.8% as kept (578 words against 566),
  Silero at 0.35 22.6%, the whole file's gain applied to the stream (the best a stream's
  gain can do) 24.6%, both 24.9% (614 words: 70 inserted). Apart from ami_trn01/02 (3
  words, which only the file path's second decode finds) the live default already hears as
  many words as the file path; raising the level adds guesses, not words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fw_asr_widgets._quality import hallucination_score
from fw_asr_widgets.local._agreement import HypWord, LocalAgreement

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from fw_asr_widgets.local._live_speakers import LiveSpeakers

SAMPLE_RATE = 16_000
TRIM_SECONDS = 15.0  # trim the buffer at a finished segment end once it is longer than this
FORCE_TRIM_SECONDS = 25.0  # no finished segment: trim at the last committed word
# Silero VAD on each decode. Measured on jfk with 6 s of silence/noise around it: without VAD
# tiny.en emits runs of "." over silence (WER 14 %, decodes 2x slower); with it WER 4.5 %.
VAD_FILTER = True
PROMPT_CHARS = 200  # committed-text tail passed as the decoding prompt
_WORDLIKE = re.compile(r"\w")


@dataclass(frozen=True)
class Snapshot:
    """What one decode sees: the buffered audio, its start time and the prompt."""

    audio: np.ndarray
    offset: float
    end_sample: int
    prompt: str | None
    speech: tuple[tuple[float, float], ...] = ()  # committed word spans in the buffer


class StreamEngine:
    """Audio buffer + Whisper decodes + local agreement for one stream (no I/O, no asyncio).

    `add_audio()` and `apply()` run on the caller's thread; `transcribe()` may run in a worker
    thread on a `snapshot()` (it touches no state). `step()` does all three.
    """

    def __init__(
        self,
        model: WhisperModel,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        vad_filter: bool | None = None,
        vad_parameters: Mapping[str, Any] | None = None,
        word_times: bool = True,
        segment_times: bool = True,
        text_timeout: float | None = None,
        speakers: bool = False,
    ) -> None:
        self.model = model
        if language is None and not getattr(model, "is_multilingual", False):
            language = "en"
        self.language = language
        self.user_prompt = (prompt or "").strip()
        self.temperature = temperature
        self.vad_filter = VAD_FILTER if vad_filter is None else vad_filter
        self.vad_parameters = dict(vad_parameters) if vad_parameters else None
        self.text_timeout = text_timeout
        self.speakers: LiveSpeakers | None = None
        if speakers:
            from fw_asr_widgets.local._live_speakers import LiveSpeakers

            self.speakers = LiveSpeakers()
        self.agreement = LocalAgreement(
            language=language or "en",
            word_times=word_times,
            segment_times=segment_times,
            labeler=self._label if speakers else None,
            extent=self.speakers.extent if self.speakers is not None else None,
        )
        self._pcm = bytearray()  # PCM16 of the buffer (whole samples)
        self._carry = b""  # odd trailing byte
        self._offset_samples = 0  # absolute sample index of the buffer start
        self._decoded_upto = 0  # absolute sample index covered by the last decode
        self.decodes = 0
        self.trims = 0

    # -- audio ---------------------------------------------------------------------------

    def add_audio(self, data: bytes) -> None:
        """Append PCM16 LE bytes (an odd trailing byte waits for the next call)."""
        data = self._carry + bytes(data)
        whole = len(data) - len(data) % 2
        self._carry = data[whole:]
        self._pcm += data[:whole]
        if self.speakers is not None:
            self.speakers.add_pcm16(data[:whole])

    @property
    def received_samples(self) -> int:
        """Absolute sample count received so far (whole samples)."""
        return self._offset_samples + len(self._pcm) // 2

    @property
    def unprocessed(self) -> float:
        """Seconds of audio received since the last decode."""
        return (self.received_samples - self._decoded_upto) / SAMPLE_RATE

    @property
    def decoded_samples(self) -> int:
        """Absolute sample count covered by the last decode (or dropped by a reset)."""
        return self._decoded_upto

    @property
    def buffer_seconds(self) -> float:
        """Length of the audio buffer in seconds."""
        return len(self._pcm) / 2 / SAMPLE_RATE

    def reset_buffer(self) -> None:
        """Drop all buffered audio (everything in it has been committed)."""
        self._offset_samples = self.received_samples
        self._decoded_upto = self._offset_samples
        self._pcm = bytearray()

    # -- decoding ------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The buffer as float32 plus the prompt, for one decode."""
        audio = np.frombuffer(bytes(self._pcm), dtype="<i2").astype(np.float32) / 32768.0
        offset = self._offset_samples / SAMPLE_RATE
        tail = self.agreement.context_text(offset)[-PROMPT_CHARS:]
        if len(tail) == PROMPT_CHARS and " " in tail:
            tail = tail.split(" ", 1)[1]
        prompt = " ".join(p for p in (self.user_prompt, tail) if p) or None
        speech: tuple[tuple[float, float], ...] = ()
        if self.speakers is not None:
            # Committed words still inside the buffer (or just before it): speech to embed.
            ctx = self.agreement.committed[-200:]
            speech = tuple((w.start, w.end) for w in ctx if w.end > offset - 2.0)
        return Snapshot(audio, offset, self.received_samples, prompt, speech)

    def transcribe(self, snap: Snapshot) -> tuple[list[HypWord], str | None]:
        """Decode a snapshot into hypothesis words with absolute times (thread-safe)."""
        if snap.audio.size < SAMPLE_RATE // 10:
            return [], None
        segments, info = self.model.transcribe(
            snap.audio,
            language=self.language,
            task="transcribe",
            beam_size=1,
            best_of=1,
            temperature=self.temperature,
            word_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=snap.prompt,
            vad_filter=self.vad_filter,
            vad_parameters=self.vad_parameters if self.vad_filter else None,
        )
        decoded = [
            (
                list(s.words or []),
                hallucination_score(
                    s.text.strip(),
                    compression=s.compression_ratio,
                    avg_logprob=s.avg_logprob,
                    no_speech_prob=s.no_speech_prob,
                ),
            )
            for s in segments
        ]
        decoded = [(ws, score) for ws, score in decoded if ws]
        words: list[HypWord] = []
        for i, (seg, score) in enumerate(decoded):
            for j, w in enumerate(seg):
                if not _WORDLIKE.search(w.word):
                    continue  # lone punctuation (tiny.en emits "." over noise)
                words.append(
                    HypWord(
                        word=w.word.strip(),
                        start=snap.offset + float(w.start),
                        end=snap.offset + float(w.end),
                        probability=float(w.probability),
                        segment_end=(j == len(seg) - 1 and i < len(decoded) - 1),
                        hallucination_score=score,
                    )
                )
        if self.speakers is not None:
            spans = snap.speech + tuple((w.start, w.end) for w in words)
            self.speakers.prepare(spans, snap.end_sample / SAMPLE_RATE)
        return words, info.language

    def apply(
        self, snap: Snapshot, words: Sequence[HypWord], language: str | None, *, final: bool
    ) -> None:
        """Feed a decode result to the agreement, then trim or reset the buffer."""
        self.decodes += 1
        self._decoded_upto = max(self._decoded_upto, snap.end_sample)
        if language and self.language is None:
            self.agreement.language = language
        self.agreement.insert(words, final=final)
        if final:
            return
        pending = self.agreement.pending
        end = snap.end_sample / SAMPLE_RATE
        if self.text_timeout is not None and pending and end - pending[-1].end > self.text_timeout:
            # Silence longer than text_timeout_seconds after the last word: the speaker is done.
            self.agreement.commit_pending()
        if self.buffer_seconds > TRIM_SECONDS:
            cut = self.agreement.last_closed_end
            offset = self._offset_samples / SAMPLE_RATE
            if (cut is None or cut <= offset) and self.buffer_seconds > FORCE_TRIM_SECONDS:
                cut = self.agreement.last_committed_end
                if cut <= offset:  # nothing committed in the buffer: silence or noise
                    pending = self.agreement.pending
                    end = self.received_samples / SAMPLE_RATE
                    cut = pending[0].start - 0.5 if pending else end - 1.0
            if cut is not None and cut > offset:
                self._trim_to(cut)

    def _label(self, w: HypWord) -> str | None:
        assert self.speakers is not None
        return self.speakers.label(w.start, w.end)

    def _trim_to(self, seconds: float) -> None:
        drop = min(int(seconds * SAMPLE_RATE) - self._offset_samples, len(self._pcm) // 2)
        if drop <= 0:
            return
        del self._pcm[: drop * 2]
        self._offset_samples += drop
        self.trims += 1

    def step(self, *, final: bool = False) -> None:
        """Decode the buffer now (on this thread) and apply the result."""
        snap = self.snapshot()
        words, lang = self.transcribe(snap)
        self.apply(snap, words, lang, final=final)

    def finalize(self) -> None:
        """Commit everything heard so far (decoding unprocessed audio first), fresh buffer."""
        if self.unprocessed > 0:
            self.step(final=True)
        else:
            self.agreement.commit_pending()
        self.reset_buffer()
