"""`python -m fw_asr_widgets.local [--host H] [--port N] [--api-key K]`: run the engine."""

from __future__ import annotations

import argparse
import os
import sys

from fw_asr_widgets.local import run


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve in the foreground; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m fw_asr_widgets.local",
        description="Run the embedded, offline, Fireworks-compatible audio server.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("FW_ASR_SERVER_KEY"),
        help="require this key (Authorization header); needed for non-loopback hosts "
        "(default: $FW_ASR_SERVER_KEY)",
    )
    parser.add_argument(
        "--max-upload-bytes", type=int, default=None, help="upload cap (default 1 GiB)"
    )
    parser.add_argument("--max-concurrent-jobs", type=int, default=None)
    parser.add_argument("--max-queued-jobs", type=int, default=None)
    args = parser.parse_args(argv)
    extra = {
        k: v
        for k, v in {
            "max_upload_bytes": args.max_upload_bytes,
            "max_concurrent_jobs": args.max_concurrent_jobs,
            "max_queued_jobs": args.max_queued_jobs,
        }.items()
        if v is not None
    }
    try:
        run(host=args.host, port=args.port, api_key=args.api_key, **extra)
    except ValueError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
