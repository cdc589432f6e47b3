"""`app()`: recorder, uploader, viewer and timeline in one panel, for teaching demos.

    >>> import fw_asr_widgets as fw
    >>> panel = fw.app()        # no key: the embedded engine
    >>> panel                   # record or drop files; the latest result shows below
    >>> panel.viewer.to_pandas()

The viewer and the timeline show the latest result: a finished upload (with its audio, kept
until the panel is closed) or the recorder's take once it stops (with the recorded audio).

Decisions:
- Before any result, the viewer and the timeline show `EMPTY_TEXT` (what to do), not an empty
  list and a made-up 0:00–0:01 axis.
- A take is shown by itself once its transcript is final after Stop; there is no "show" button
  (it only repeated that). `show_recording()` stays for code.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets

from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets._base import friendly_error, resolve_client
from fw_asr_widgets.widgets.timeline import Timeline
from fw_asr_widgets.widgets.uploader import Uploader
from fw_asr_widgets.widgets.viewer import TranscriptViewer

__all__ = ["EMPTY_TEXT", "App", "app"]

EMPTY_TEXT = "Record or upload audio to see the transcript here."
TIMELINE_EMPTY_TEXT = "Who spoke when shows here once there is a transcript."


class App(ipywidgets.VBox):  # type: ignore[misc]
    """The composed panel; its parts are `recorder`, `uploader`, `viewer`, `timeline`."""

    def __init__(
        self,
        client: Any = None,
        *,
        model: str = "whisper-v3",
        language: str | None = None,
        diarize: bool = True,
        viewer_height: int = 320,
    ) -> None:
        self.client = resolve_client(client)
        self.uploader = Uploader(
            client=self.client, diarize=diarize, model=model, language=language, keep_audio=True
        )
        self.viewer = TranscriptViewer(height=viewer_height, empty_text=EMPTY_TEXT)
        self.timeline = Timeline(viewer=self.viewer, empty_text=TIMELINE_EMPTY_TEXT)
        self.latest = ipywidgets.HTML("")
        tabs: list[ipywidgets.Widget] = []
        titles: list[str] = []
        self.recorder: Any = None
        try:
            from fw_asr_widgets.widgets.recorder import Recorder

            rec_kwargs: dict[str, Any] = {"model": model}
            if language:
                rec_kwargs["language"] = language
            self.recorder = Recorder(client=self.client, **rec_kwargs)
        except Exception as exc:  # an optional part: the panel still works without it
            tabs.append(ipywidgets.HTML(f"The recorder is unavailable: {friendly_error(exc)}"))
            titles.append("Record")
        else:
            self.recorder.observe(self._on_recording, names="recording")
            tabs.append(self.recorder)
            titles.append("Record")
        tabs.append(self.uploader)
        titles.append("Upload")
        self.tabs = ipywidgets.Tab(children=tabs)
        for i, t in enumerate(titles):
            self.tabs.set_title(i, t)
        self.uploader.on_result(self._on_upload)
        super().__init__(
            [
                ipywidgets.HTML("<b>Speech to text</b>"),
                self.tabs,
                self.latest,
                self.viewer,
                self.timeline,
            ]
        )

    def show(
        self,
        transcript: Transcript,
        audio: Any = None,
        sample_rate: int | None = None,
        label: str = "",
    ) -> None:
        """Show `transcript` (and its audio) in the viewer and the timeline."""
        self.viewer.set_transcript(transcript, audio, sample_rate=sample_rate)
        self.timeline.set_transcript(transcript)
        name = label or transcript.source or "result"
        n_spk = len(transcript.speakers)
        who = f", {n_spk} speaker{'s' if n_spk != 1 else ''}" if n_spk else ""
        self.latest.value = (
            f"Showing <b>{_html(name)}</b>: {len(transcript.segments)} segments{who}."
        )

    def show_recording(self) -> None:
        """Show the recorder's latest take (transcript and audio)."""
        if self.recorder is None:
            return
        tr = self.recorder.transcript
        audio = self.recorder.audio
        self.show(
            tr,
            audio if audio.size else None,
            sample_rate=self.recorder.sample_rate if audio.size else None,
            label="recording",
        )

    def close(self) -> None:
        """Close every part (the uploader deletes its kept audio files)."""
        for w in (self.recorder, self.uploader, self.viewer, self.timeline):
            if w is not None:
                w.close()
        super().close()

    def _on_upload(self, source: str, tr: Transcript) -> None:
        try:
            self.show(tr, self.uploader.audio_paths.get(source), label=source)
        except Exception as exc:
            self.latest.value = f"Could not show {_html(source)}: {_html(friendly_error(exc))}"

    def _on_recording(self, change: dict[str, Any]) -> None:
        if change["old"] and not change["new"]:
            # The final transcript arrives shortly after Stop: wait for it off the kernel loop.
            def later() -> None:
                try:
                    self.recorder.wait(timeout=120)
                    self.show_recording()
                except Exception as exc:
                    self.latest.value = f"Recording: {_html(friendly_error(exc))}"

            threading.Thread(target=later, name="fw-asr-app-recording", daemon=True).start()


def _html(text: str) -> str:
    import html

    return html.escape(str(text))


def app(client: Any = None, **kwargs: Any) -> App:
    """Recorder + uploader tabs above a viewer and timeline that show the latest result.

    `client`: an `fw_asr_widgets.Client` (default: the embedded engine when there is no key).
    Keywords: `model`, `language`, `diarize` (default True), `viewer_height`.
    """
    return App(client, **kwargs)
