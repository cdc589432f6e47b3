"""`fw-asr corpus SOURCES... --out DIR`: the command-line face of `transcribe_corpus`.

Kept apart from `cli.py` (one registration line there) so that building the parser imports
nothing heavy: pyarrow, DuckDB and Dask load only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def add_corpus_command(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the `corpus` subcommand on the `fw-asr` subparsers; `add_common` adds the
    options every transcribing command has (--model, --language, --base-url; from `cli`)."""
    p = sub.add_parser(
        "corpus",
        help="transcribe many files into a resumable Parquet dataset (files/segments/words)",
        description="Transcribe audio files, folders (searched recursively) and globs into a "
        "Parquet dataset under --out. Resumable: rerun the same command after a crash or "
        "Ctrl-C and only what is missing is done. Query it with fw.open_corpus(DIR).",
    )
    p.add_argument("sources", nargs="+", help="audio files, folders or glob patterns")
    p.add_argument("--out", required=True, help="dataset folder (created if missing)")
    p.add_argument("--diarize", action="store_true", help="label speakers")
    p.add_argument(
        "--mode",
        choices=("sync", "batch"),
        default="sync",
        help="sync: transcribe now; batch: submit to the Fireworks Batch API, collect on rerun",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=None,
        help="batch mode: seconds to keep collecting after submitting (default: until done)",
    )
    p.add_argument("--concurrency", type=int, default=4, help="files at once (default 4)")
    add_common(p)
    p.add_argument(
        "--scheduler",
        default=None,
        help="address of a Dask scheduler (tcp://host:8786): transcribe on its workers",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_corpus)


def cmd_corpus(args: argparse.Namespace) -> int:
    """Run `transcribe_corpus`; exit 1 when some files failed, 2 on bad arguments."""
    from fw_asr_widgets.api.client import Client
    from fw_asr_widgets.corpus import transcribe_corpus

    kwargs: dict[str, Any] = {"model": args.model}
    if args.language:
        kwargs["language"] = args.language
    cluster = None
    if args.scheduler:
        from distributed import Client as DaskClient

        cluster = DaskClient(args.scheduler)
    try:
        with Client(base_url=args.base_url) as client:
            run = transcribe_corpus(
                args.sources,
                args.out,
                client=client,
                diarize=args.diarize,
                concurrency=args.concurrency,
                mode=args.mode,
                cluster=cluster,
                progress=not args.quiet,
                wait=args.wait,
                **kwargs,
            )
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"fw-asr corpus: {exc}", file=sys.stderr)
        return 2
    finally:
        if cluster is not None:
            cluster.close()
    print(repr(run))
    for name, n in sorted(run.errors.items()):
        print(f"  {n} failed with {name} (see the files table)", file=sys.stderr)
    return 1 if run.failed else 0
