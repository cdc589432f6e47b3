"""Benchmarks: measured figures next to baselines measured in the same run.

Run `python -m benchmarks` (full run, writes `benchmarks/RESULTS.md`) or
`python -m benchmarks --quick` (small sizes, prints the table and writes it to a temp file).
Each figure module exposes `NAME` and `run(quick: bool) -> FigureResult`.
"""

FIGURES = (
    "upload",
    "streaming_overhead",
    "live_latency",
    "trace_echo",
    "engine",
    "dataframes",
    "viewer",
    "batch",
    "accuracy",
    "corpus",
    "voices",
    "live_speakers",
)
