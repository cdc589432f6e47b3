"""The typed errors: one module, one hierarchy, the same objects wherever they are imported."""

from __future__ import annotations

import fw_asr_widgets as fw
import fw_asr_widgets.api as api
import fw_asr_widgets.api.errors as api_errors
from fw_asr_widgets import audio, errors, transcript


def test_every_error_is_an_fwasrerror_and_exported_everywhere() -> None:
    classes = [getattr(errors, n) for n in errors.__all__ if n != "status_error_class"]
    assert len(classes) >= 18
    for cls in classes:
        assert issubclass(cls, fw.FwAsrError), cls
        assert getattr(fw, cls.__name__) is cls
        assert getattr(api, cls.__name__) is cls
        assert getattr(api_errors, cls.__name__) is cls
    assert set(errors.__all__) <= set(fw.__all__)


def test_value_errors_stay_value_errors() -> None:
    assert issubclass(fw.AudioDecodeError, ValueError)
    assert issubclass(fw.TranscriptFormatError, ValueError)
    assert audio.AudioDecodeError is fw.AudioDecodeError
    assert transcript.TranscriptFormatError is fw.TranscriptFormatError


def test_audio_decode_error_is_caught_as_fwasrerror(tmp_path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    try:
        audio.probe(bad)
    except fw.FwAsrError as exc:
        assert isinstance(exc, fw.AudioDecodeError)
        assert "notes.wav" in str(exc)
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("probe accepted a text file as audio")


def test_one_version() -> None:
    from importlib.metadata import version

    from fw_asr_widgets._version import __version__

    assert fw.__version__ == __version__ == version("fw-asr-widgets")
