"""Corpus scale: many recordings into one resumable, queryable Parquet dataset.

    import fw_asr_widgets as fw

    fw.transcribe_corpus("calls/", out="calls.transcripts/")   # resumable; mode="batch", cluster=
    corpus = fw.open_corpus("calls.transcripts/")
    corpus.sql("SELECT speaker, sum(duration) FROM segments GROUP BY 1")
    corpus.search("refund")

Needs the `corpus` extra (pyarrow, DuckDB, Dask). Importing `fw_asr_widgets` does not import
this package; its names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fw_asr_widgets.corpus._query import Corpus, open_corpus
    from fw_asr_widgets.corpus._run import CorpusRun, transcribe_corpus

__all__ = ["Corpus", "CorpusRun", "open_corpus", "transcribe_corpus"]

_WHERE = {
    "Corpus": "_query",
    "open_corpus": "_query",
    "CorpusRun": "_run",
    "transcribe_corpus": "_run",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        m = importlib.import_module(f"{__name__}.{mod}")
    except ImportError as exc:
        if exc.name in ("pyarrow", "duckdb", "dask", "distributed"):
            raise ImportError(
                f"fw_asr_widgets.{name} needs {exc.name}: pip install 'fw-asr-widgets[corpus]'",
                name=exc.name,
            ) from None
        raise
    return getattr(m, name)
