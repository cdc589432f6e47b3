"""Streaming latency bookkeeping (sans-I/O): when audio was written, when text came back.

`StreamMetrics` is fed by `StreamProtocol`: `record_write` for every audio frame the runner
wrote to a socket, `record_update` for every segment version the server sent. `rows(level)`
turns that into the rows behind `stream.metrics()`.

Decisions: latency is measured from the moment the audio at a segment's (word's) end was
written to the socket (the first write whose end covers that time, on the segment's own
connection) to the arrival of its first partial / its final version. Queueing before the
write is the `chunk` level's `send_s`, so the two do not mix. Times are `time.monotonic()`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from fw_asr_widgets.api._stream_events import Frame
from fw_asr_widgets.transcript import Segment


@dataclass
class _Latency:
    first_seen: float
    first_audio_end: float
    gen: int
    text: str = ""
    final_at: float | None = None
    final_audio_end: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class StreamMetrics:
    """Write times per connection and first-partial/final arrival per segment and word."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._write_ends: list[list[int]] = [[]]
        self._write_times: list[list[float]] = [[]]
        self._chunks: list[tuple[int, int, int, int, float, float]] = []
        self._seg_lat: dict[str, _Latency] = {}
        self._word_lat: dict[tuple[str, int], _Latency] = {}

    def new_connection(self) -> None:
        """A reconnect: later writes belong to the next connection's time axis."""
        self._write_ends.append([])
        self._write_times.append([])

    def record_write(self, frame: Frame, gen: int, now: float) -> None:
        """Audio `frame` was written on connection `gen` at `now`."""
        self._write_ends[gen].append(frame.end_sample)
        self._write_times[gen].append(now)
        self._chunks.append((frame.seq, gen, frame.end_sample, len(frame.data), frame.created, now))

    def _wall(self, gen: int, t: float) -> float | None:
        ends = self._write_ends[gen]
        i = bisect.bisect_left(ends, int(t * self.sample_rate))
        return self._write_times[gen][i] if i < len(ends) else None

    def record_update(self, seg: Segment, final: bool, gen: int, now: float) -> None:
        """A version of `seg` (public id, stream times) arrived at `now` on connection `gen`."""
        lat = self._seg_lat.get(seg.id)
        if lat is None:
            lat = self._seg_lat[seg.id] = _Latency(now, seg.end, gen)
        lat.text = seg.text
        if final and lat.final_at is None:
            lat.final_at, lat.final_audio_end = now, seg.end
        for i, w in enumerate(seg.words):
            if w.end is None:
                continue
            wl = self._word_lat.get((seg.id, i))
            if wl is None:
                wl = self._word_lat[(seg.id, i)] = _Latency(now, w.end, gen)
            wl.text = w.word.strip()
            if w.is_final and wl.final_at is None:
                wl.final_at, wl.final_audio_end = now, w.end

    def rows(self, level: str = "segment") -> list[dict[str, Any]]:
        """Latency rows: `chunk` (send time), `segment` or `word` (audio → partial/final)."""
        if level == "chunk":
            return [
                {
                    "seq": seq,
                    "connection": gen,
                    "audio_end_s": end / self.sample_rate,
                    "bytes": nbytes,
                    "send_s": written - created,
                }
                for seq, gen, end, nbytes, created, written in self._chunks
            ]
        if level not in ("segment", "word"):
            raise ValueError(f"level must be 'chunk', 'segment' or 'word', not {level!r}")
        table = self._seg_lat if level == "segment" else self._word_lat
        rows = []
        for key, lat in table.items():
            w0 = self._wall(lat.gen, lat.first_audio_end)
            row: dict[str, Any] = {"id": key if level == "segment" else key[0]}
            if level == "word":
                row["index"] = key[1]
            row["text"] = lat.text
            row["audio_end_s"] = lat.final_audio_end or lat.first_audio_end
            row["first_partial_s"] = None if w0 is None else lat.first_seen - w0
            wf = None
            if lat.final_at is not None and lat.final_audio_end is not None:
                wf = self._wall(lat.gen, lat.final_audio_end)
            row["final_s"] = None if wf is None or lat.final_at is None else lat.final_at - wf
            rows.append(row)
        return rows
