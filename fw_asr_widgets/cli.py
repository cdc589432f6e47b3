"""The `fw-asr` command line: transcribe, translate, stream, serve, demo.

Exit codes:
  0  success
  1  one or more files failed (the others were still processed and written)
  2  usage error (bad arguments, unknown output format)
  3  authentication or connection error (wrong key, unreachable server or Fireworks host)
  130  interrupted (Ctrl-C)

Decisions:
- Results print in the order the files were given (each as soon as it and every file before
  it are done), not in completion order, so output is reproducible and diffable.
- The progress bar goes to stderr only when stderr is a terminal; piped or redirected runs get
  no bar at all (tqdm would print its 100% line twice and interleave it with transcripts).
- The embedded engine is started (and announced) before the bar appears, so its notice is a
  line of its own and not glued onto the bar.
- An authentication or connection error stops the batch: every later file would fail the
  same way. Files already done are still printed or written; the exit code is 3.
- `stream` checks that the input decodes before it starts an engine or opens a connection,
  and a bad file is reported like `transcribe` reports it (one line, exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fw_asr_widgets.transcript import Transcript

NOTEBOOK_INSTALL = 'pip install -e ".[notebooks]"'
"""The one command that installs what every notebook needs (README, Binder and CI use it too)."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_INTERRUPTED = 130

OUTPUT_SUFFIXES = (".csv", ".parquet", ".srt", ".vtt", ".json", ".rttm", ".txt")
AUDIO_SUFFIXES = (
    ".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".webm", ".aiff", ".aif",
    ".wma", ".mp4", ".mkv", ".mov",
)  # fmt: skip


def _expand(paths: Sequence[str]) -> list[str]:
    """Files as given; folders expanded to the audio files inside them (sorted)."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(
                str(f)
                for f in sorted(path.rglob("*"))
                if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES
            )
        else:
            out.append(p)
    return out


def _client(args: argparse.Namespace) -> Any:
    from fw_asr_widgets.api.client import Client

    return Client(api_key=getattr(args, "api_key", None), base_url=args.base_url)


def _add_common(
    p: argparse.ArgumentParser, *, model_default: str = "whisper-v3", prompt: bool = True
) -> None:
    """--model, --language, --prompt (unless `prompt=False`) and --base-url."""
    p.add_argument("--model", default=model_default, help="model name (default: %(default)s)")
    p.add_argument("--language", default=None, help="ISO 639-1 code of the spoken language")
    if prompt:
        p.add_argument("--prompt", default=None, help="text to prime decoding")
    p.add_argument(
        "--base-url",
        default=None,
        help="any Fireworks-compatible server (default: Fireworks when FIREWORKS_API_KEY is set, "
        "else the embedded local engine)",
    )


def _write_frames(frames: list[Any], out: Path) -> None:
    import pandas as pd

    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if out.suffix == ".parquet":
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)


def _write_output(results: list[tuple[str, Transcript]], out: Path) -> None:
    """One output file for all results: tables concatenate, text formats one per source."""
    suffix = out.suffix.lower()
    if suffix in (".csv", ".parquet"):
        frames = []
        for source, tr in results:
            df = tr.to_pandas()
            df["source"] = source
            frames.append(df)
        _write_frames(frames, out)
        return
    if len(results) == 1:
        results[0][1].save(out)
        return
    # Several transcripts to a per-file format: one file each, named after the source.
    stem = out.with_suffix("")
    stem.mkdir(parents=True, exist_ok=True)
    for source, tr in results:
        tr.save(stem / (Path(source).stem + suffix))


def _progress(total: int, enabled: bool) -> Any:
    """A files bar on stderr, shown only on a terminal (never in piped or redirected output)."""
    from tqdm import tqdm

    show = enabled and sys.stderr.isatty()
    return tqdm(total=total, unit="file", disable=not show, file=sys.stderr, leave=False)


def _start_engine(client: Any) -> None:
    """Start the embedded engine now (it announces itself on stderr) if the client uses it."""
    if client.uses_embedded_engine:
        _ = client._config


def _batch(
    client: Any, task: str, files: list[str], concurrency: int, kwargs: dict[str, Any]
) -> Iterator[Any]:
    """Results as they complete (each with its `index` in `files`); per-file errors too."""
    many = client.transcribe_many if task == "transcribe" else client.translate_many
    return many(files, concurrency=concurrency, progress=False, **kwargs)


def cmd_transcribe(args: argparse.Namespace, *, task: str = "transcribe") -> int:
    from fw_asr_widgets.api.errors import (
        APIConnectionError,
        AuthenticationError,
        PermissionDeniedError,
    )

    FATAL_ERRORS = (AuthenticationError, PermissionDeniedError, APIConnectionError)
    files = _expand(args.files)
    if not files:
        print("fw-asr: no audio files found", file=sys.stderr)
        return EXIT_USAGE
    out: Path | None = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() not in OUTPUT_SUFFIXES:
        print(
            f"fw-asr: unknown output format {out.suffix!r}; use one of "
            + ", ".join(OUTPUT_SUFFIXES),
            file=sys.stderr,
        )
        return EXIT_USAGE
    kwargs: dict[str, Any] = {"model": args.model, "prompt": args.prompt}
    if args.language:
        kwargs["language"] = args.language
    if task == "transcribe":
        if args.diarize:
            kwargs.update(
                diarize=True,
                min_speakers=args.min_speakers,
                max_speakers=args.max_speakers,
            )
        kwargs.update(response_format="verbose_json", timestamp_granularities=["word", "segment"])
    else:
        kwargs.update(response_format="verbose_json", timestamp_granularities=["segment"])
    done: dict[int, Any] = {}
    fatal: BaseException | None = None
    shown = 0
    with _client(args) as client:
        _start_engine(client)
        bar = _progress(len(files), not args.quiet)
        try:
            with closing(_batch(client, task, files, args.concurrency, kwargs)) as batch:
                for res in batch:
                    bar.update(1)
                    if res.error is not None and isinstance(res.error, FATAL_ERRORS):
                        fatal = res.error
                        break
                    done[res.index] = res
                    # Print in argument order: everything up to the first file not done yet.
                    while shown in done:
                        ready = done[shown]
                        if out is None and ready.error is None:
                            bar.write(f"== {ready.source}\n{ready.transcript.text}")
                        shown += 1
        finally:
            bar.close()
    ordered = [done[i] for i in sorted(done)]
    results = [(r.source, r.transcript) for r in ordered if r.error is None]
    errors = [(r.source, r.error) for r in ordered if r.error is not None]
    if out is None and fatal is not None:
        for r in ordered[shown:]:  # done, but waiting behind the file that failed to connect
            if r.error is None:
                print(f"== {r.source}\n{r.transcript.text}")
    if out is not None and results:
        _write_output(results, out)
        print(f"wrote {out} ({len(results)} file(s))", file=sys.stderr)
    if fatal is not None:
        print(f"fw-asr: {fatal}", file=sys.stderr)
        return EXIT_AUTH
    if errors:
        print(f"\n{len(errors)} of {len(files)} file(s) failed:", file=sys.stderr)
        for source, err in errors:
            print(f"  {source}: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_stream(args: argparse.Namespace) -> int:
    """Stream a file as if live. On a terminal one line is revised in place and replaced by
    the final transcript; piped, each final segment is printed once with its times."""
    import time

    from fw_asr_widgets.api.streaming import SegmentFinal, SegmentUpdated
    from fw_asr_widgets.audio import AudioDecodeError, float_to_pcm16, iter_decode, probe

    try:  # before any engine starts or connection opens
        probe(args.file)
    except AudioDecodeError as exc:
        print(f"fw-asr: {exc}", file=sys.stderr)
        return EXIT_FAILED
    speed = None if args.speed in (0, None) else args.speed
    interactive = sys.stdout.isatty()
    last_len = 0

    def on_event(ev: Any) -> None:
        nonlocal last_len
        if isinstance(ev, (SegmentUpdated, SegmentFinal)) and interactive:
            tail = stream.transcript.text[-150:]
            sys.stdout.write("\r" + tail + " " * max(0, last_len - len(tail)))
            sys.stdout.flush()
            last_len = len(tail)
        elif isinstance(ev, SegmentFinal) and not interactive:
            seg = ev.segment
            print(f"[{seg.start:7.2f} → {seg.end:7.2f}] {seg.text}", flush=True)

    with _client(args) as client:
        params: dict[str, Any] = {"model": args.model}
        if args.language:
            params["language"] = args.language
        stream = client.stream(on_event=on_event, **params)
        try:
            with stream:
                t0 = time.monotonic()
                sent = 0.0
                for block in iter_decode(args.file, chunk_seconds=0.1):
                    stream.send(float_to_pcm16(block))
                    sent += block.size / 16000
                    if speed:
                        ahead = sent / speed - (time.monotonic() - t0)
                        if ahead > 0:
                            time.sleep(ahead)
                tr = stream.finish()
        except AudioDecodeError as exc:  # the file broke part-way through
            if interactive:
                print()
            print(f"fw-asr: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if interactive:
        # The live line becomes the final transcript (printed once, in full).
        sys.stdout.write("\r" + " " * last_len + "\r")
        print(tr.text)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from fw_asr_widgets.local import run

    api_key = args.api_key or os.environ.get("FW_ASR_SERVER_KEY")
    try:
        run(host=args.host, port=args.port, api_key=api_key)
    except ValueError as exc:
        print(f"fw-asr serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from fw_asr_widgets import samples
    from fw_asr_widgets._page import write_html_page
    from fw_asr_widgets.api.client import Client

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    audio = samples.path("two_speakers.wav")
    print(f"Transcribing {audio.name} (a real two-speaker phone call, 30 s) with diarization…")
    with Client(base_url=args.base_url) as client:
        tr = client.transcribe(audio, diarize=True, min_speakers=2, max_speakers=2)
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_colwidth", 60):
        df = tr.to_pandas()
        print("\nSegments:")
        table = df[["start", "end", "speaker", "text"]].round(2)
        width = int(table["text"].str.len().max() or 0)
        print(
            table.to_string(
                index=False, formatters={"text": lambda s: f"{s:<{width}}"}, justify="left"
            )
        )
        print("\nTalk time per speaker:")
        print(df.asr.talk_time().round(2).to_string())
    srt = out / "two_speakers.srt"
    tr.save(srt)
    html = out / "two_speakers.html"
    write_html_page(tr, html, audio=audio, title="fw-asr-widgets demo: two speakers")
    print(f"\nWrote {srt} and {html} (open it in a browser: click a line to hear it).")
    print(
        f"Next: the notebooks. Run `{NOTEBOOK_INSTALL}` then "
        "`jupyter lab notebooks/` and open 01_quickstart.ipynb."
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fw-asr",
        description="Speech-to-text on the Fireworks AI audio API or the embedded local engine.",
        epilog="Exit codes: 0 ok, 1 some files failed, 2 usage error, 3 authentication or "
        "connection error, 130 interrupted. The API key is read from FIREWORKS_API_KEY.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, task in (("transcribe", "transcribe"), ("translate", "translate")):
        p = sub.add_parser(
            name,
            help=f"{name} audio files (folders are searched for audio)",
            description=f"{name.capitalize()} audio files. With -o, all results go to one file: "
            ".csv/.parquet get one table with a `source` column.",
        )
        p.add_argument("files", nargs="+", help="audio files or folders")
        p.add_argument("-o", "--output", help="output file: " + " ".join(OUTPUT_SUFFIXES))
        _add_common(p)
        if task == "transcribe":
            p.add_argument("--diarize", action="store_true", help="label speakers")
            p.add_argument("--min-speakers", type=int, default=None)
            p.add_argument("--max-speakers", type=int, default=None)
        p.add_argument("--concurrency", type=int, default=4, help="files at once (default 4)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        p.set_defaults(func=lambda a, t=task: cmd_transcribe(a, task=t))

    p = sub.add_parser("stream", help="stream a file as if live and print the transcript")
    p.add_argument("file")
    p.add_argument(
        "--speed", type=float, default=1.0, help="× real time (default 1; 0 = as fast as possible)"
    )
    _add_common(p)
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("serve", help="run the embedded Fireworks-compatible server")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key",
        default=None,
        help="require this key (required for non-loopback hosts; or FW_ASR_SERVER_KEY)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="transcribe the bundled two-speaker call, offline")
    p.add_argument("--out", default="fw-asr-demo", help="output folder (default %(default)s)")
    p.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_demo)

    from fw_asr_widgets.corpus._cli import add_corpus_command  # `fw-asr corpus` (issue 19)

    add_corpus_command(sub, lambda p: _add_common(p, prompt=False))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from fw_asr_widgets.api.errors import (
        APIConnectionError,
        AuthenticationError,
        ConfigurationError,
    )

    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("\nfw-asr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (AuthenticationError, APIConnectionError, ConfigurationError) as exc:
        print(f"fw-asr: {exc}", file=sys.stderr)
        return EXIT_AUTH


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
