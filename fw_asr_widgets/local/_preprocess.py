"""Audio conditioning before speech detection and recognition: gain staging and FFmpeg filters.

`preprocess(audio, mode)` implements the API's `preprocessing` field with FFmpeg's audio
filters (bundled with PyAV; run through `av.filter.Graph`), on 16 kHz mono float32 audio:

- `none`: gain staging only (see `stage_gain`).
- `dynamic` (variable loudness): `dynaudnorm`, a per-frame gain that evens out near and far
  talkers.
- `soft_dynamic` (speech-heavy audio): `speechnorm`, gentler, follows the speech envelope.
- `bass_dynamic` (boost low frequencies): `bass` (+6 dB below ~150 Hz), then `dynaudnorm`.

Decisions:
- Gain staging is always applied (also with `none`): quiet far-field recordings (-35 to
  -51 dBFS RMS, measured on AMI meetings) are raised so that their loud parts sit near
  `TARGET_DBFS`, never above a 0.9 peak; louder audio is left alone. Silero VAD and Whisper's
  log-mel input are not loudness-invariant, and speech detection on the quiet meetings
  improved with it (benchmarks/RESULTS.md).
- Filters run per decoded piece (minutes long), so memory stays flat for long files.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
TARGET_DBFS = -20.0
QUIET_DBFS = -26.0  # loud-part level below which audio is raised
MAX_GAIN_DB = 30.0
PEAK = 0.9

FILTERS: dict[str, list[tuple[str, str]]] = {
    "dynamic": [("dynaudnorm", "f=250:g=15:p=0.9:m=20")],
    "soft_dynamic": [("speechnorm", "e=6.25:r=0.00001:l=1")],
    "bass_dynamic": [("bass", "g=6:f=150"), ("dynaudnorm", "f=250:g=15:p=0.9:m=20")],
}
MODES = ("none", *FILTERS)


def _loud_level(audio: np.ndarray) -> float:
    """dBFS RMS of the loudest 10% of 100 ms blocks (a speech level that ignores silence)."""
    n = audio.size // 1600
    if n == 0:
        return -np.inf
    blocks = audio[: n * 1600].reshape(n, 1600).astype(np.float64)
    rms = np.sqrt(np.mean(blocks**2, axis=1))
    top = np.sort(rms)[-max(1, n // 10) :]
    level = float(np.sqrt(np.mean(top**2)))
    return 20 * np.log10(level) if level > 0 else -np.inf


def stage_gain(audio: np.ndarray) -> np.ndarray:
    """`audio` raised towards `TARGET_DBFS` when its loud parts are below `QUIET_DBFS`."""
    level = _loud_level(audio)
    if not np.isfinite(level) or level >= QUIET_DBFS:
        return audio
    peak = float(np.max(np.abs(audio)))
    gain_db = min(TARGET_DBFS - level, MAX_GAIN_DB, 20 * np.log10(PEAK / max(peak, 1e-9)))
    if gain_db <= 0:
        return audio
    return (audio * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def ffmpeg_filter(audio: np.ndarray, chain: list[tuple[str, str]]) -> np.ndarray:
    """Run 16 kHz mono float32 `audio` through a chain of FFmpeg audio filters (PyAV)."""
    import av
    from av.filter import Graph

    if audio.size == 0:
        return audio
    graph = Graph()
    src = graph.add_abuffer(format="flt", sample_rate=SAMPLE_RATE, layout="mono")
    node = src
    for name, args in chain:
        nxt = graph.add(name, args)
        node.link_to(nxt)
        node = nxt
    fmt = graph.add("aformat", "sample_fmts=flt:sample_rates=16000:channel_layouts=mono")
    node.link_to(fmt)
    sink = graph.add("abuffersink")
    fmt.link_to(sink)
    graph.configure()
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                frame = sink.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            out.append(frame.to_ndarray().reshape(-1))

    block = SAMPLE_RATE  # 1 s frames
    pts = 0
    for i in range(0, audio.size, block):
        piece = np.ascontiguousarray(audio[i : i + block], dtype=np.float32).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pts
        pts += piece.shape[1]
        src.push(frame)
        drain()
    src.push(None)
    drain()
    res = np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)
    if res.size < audio.size:  # filters with look-ahead may hold back a few samples
        res = np.pad(res, (0, audio.size - res.size))
    return res[: audio.size]


def preprocess(audio: np.ndarray, mode: str = "none") -> np.ndarray:
    """The API's `preprocessing` (`none`, `dynamic`, `soft_dynamic`, `bass_dynamic`)."""
    if mode not in MODES:
        raise ValueError(f"preprocessing must be one of {', '.join(MODES)}, got {mode!r}")
    a = np.asarray(audio, dtype=np.float32)
    if mode != "none" and a.size:
        a = ffmpeg_filter(a, FILTERS[mode])
        np.clip(a, -1.0, 1.0, out=a)
    return stage_gain(a)
