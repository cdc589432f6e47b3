"""`open_corpus`: a transcribed corpus as DuckDB views, with talk time and word search.

Decisions:
- One in-memory DuckDB connection per `Corpus`, with views over the Parquet parts (globs
  are expanded on every query, so a corpus still being written is read as it grows):
  `files` is the latest row of each file, `segments` and `words` keep only the rows of
  each file's committed `ok` attempt (see `_dataset`: orphans of a killed writer vanish).
- `search` matches whole words after lower-casing and dropping punctuation, so "Refund,"
  matches "refund"; a trailing `*` matches a prefix ("refund*"); several words match a
  phrase (consecutive words of one file). It runs on the word table (word times); a corpus
  transcribed without words is searched segment by segment instead.
- `within` restricts a search to some files: a glob on the path, a file_id, a list of them,
  or a DataFrame / relation with a `file_id` column (e.g. from `corpus.sql`).
- `talk_time` is `df.asr.talk_time()` per file, in SQL: seconds and turns from segments,
  words from the word table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from fw_asr_widgets._wire import normalize_word
from fw_asr_widgets.corpus._dataset import SCHEMAS, TABLES, part_paths

_NORM_SQL = "regexp_replace(lower({col}), '[^\\w'']+', '', 'g')"
"""`normalize_word` in DuckDB SQL (the same pattern as `_wire.normalize_word`)."""


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Corpus:
    """A transcript dataset written by `transcribe_corpus`: `files`, `segments`, `words`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not (self.path / "files").is_dir():
            raise FileNotFoundError(
                f"{os.fspath(path)!r} is not a corpus folder (no files/ table): "
                "create one with fw.transcribe_corpus(sources, out=...)"
            )
        self.con = duckdb.connect()
        self._make_views()

    def _make_views(self) -> None:
        con = self.con
        for t in TABLES:
            glob = os.path.join(os.fspath(self.path.resolve()), t, "part-*.parquet")
            if part_paths(self.path, t):
                src = f"read_parquet({_quote(glob)}, union_by_name = true)"
            else:  # nothing written yet: an empty table with the schema
                con.register(f"_empty_{t}", SCHEMAS[t].empty_table())
                src = f"_empty_{t}"
            con.execute(f"CREATE OR REPLACE VIEW _all_{t} AS SELECT * FROM {src}")
        con.execute(
            "CREATE OR REPLACE VIEW files AS SELECT * EXCLUDE (_rn) FROM ("
            " SELECT *, row_number() OVER (PARTITION BY file_id"
            "  ORDER BY written_at DESC, attempt DESC) AS _rn FROM _all_files) WHERE _rn = 1"
        )
        con.execute(
            "CREATE OR REPLACE VIEW _committed AS SELECT file_id, attempt FROM files"
            " WHERE status = 'ok'"
        )
        for t in ("segments", "words"):
            con.execute(
                f"CREATE OR REPLACE VIEW {t} AS SELECT x.* FROM _all_{t} x SEMI JOIN _committed c"
                " ON x.file_id = c.file_id AND x.attempt = c.attempt"
            )
        speaker_map = self.path.resolve() / "speaker_map.parquet"
        if speaker_map.is_file():  # written by link_speakers
            con.execute(
                "CREATE OR REPLACE VIEW speaker_map AS SELECT * FROM "
                f"read_parquet({_quote(os.fspath(speaker_map))})"
            )

    def refresh(self) -> Corpus:
        """Pick up tables that had no part yet when the corpus was opened."""
        self._make_views()
        return self

    # -- tables ------------------------------------------------------------------------------
    @property
    def files(self) -> duckdb.DuckDBPyRelation:
        """One row per file: status ok / failed / submitted, duration, errors, batch job ids."""
        return self.con.sql("SELECT * FROM files ORDER BY path")

    @property
    def segments(self) -> duckdb.DuckDBPyRelation:
        return self.con.sql("SELECT * FROM segments")

    @property
    def words(self) -> duckdb.DuckDBPyRelation:
        return self.con.sql("SELECT * FROM words")

    def to_pandas(self, table: str = "segments") -> pd.DataFrame:
        """One table (`files`, `segments`, `words`) as a DataFrame, in file and time order."""
        if table not in TABLES:
            raise ValueError(f"table must be one of {TABLES}, not {table!r}")
        order = "path" if table == "files" else "path, start"
        df = self.con.sql(f"SELECT * FROM {table} ORDER BY {order}").df()
        if "speaker" in df.columns:
            df["speaker"] = df["speaker"].astype("category")
        return df

    def sql(self, query: str, params: Sequence[Any] | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the views `files`, `segments`, `words` (`?` placeholders take
        `params`); a DuckDB relation: `.df()` gives pandas, `.arrow()` pyarrow."""
        if params is None:
            return self.con.sql(query)
        return self.con.sql(query, params=list(params))

    def _one(self, sql: str) -> tuple[Any, ...]:
        rows = self.con.execute(sql).fetchall()
        return tuple(rows[0]) if rows else ()

    def __len__(self) -> int:
        return int(self._one("SELECT count(*) FROM files")[0])

    def summary(self) -> dict[str, Any]:
        """Counts of files per status, audio hours, segments and words."""
        row = self._one(
            "SELECT count(*) FILTER (WHERE status = 'ok'),"
            " count(*) FILTER (WHERE status = 'failed'),"
            " count(*) FILTER (WHERE status = 'submitted'),"
            " coalesce(sum(duration) FILTER (WHERE status = 'ok' AND NOT isnan(duration)), 0)"
            " / 3600"
            " FROM files"
        )
        n_seg = self._one("SELECT count(*) FROM segments")[0]
        n_words = self._one("SELECT count(*) FROM words")[0]
        return {
            "ok": row[0],
            "failed": row[1],
            "submitted": row[2],
            "audio_hours": row[3],
            "segments": n_seg,
            "words": n_words,
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"Corpus({os.fspath(self.path)!r}: {s['ok']} ok, {s['failed']} failed, "
            f"{s['submitted']} submitted; {s['audio_hours']:.2f} h audio, {s['words']} words)"
        )

    # -- analyses -----------------------------------------------------------------------------
    def talk_time(self) -> pd.DataFrame:
        """Per file and speaker: `seconds`, `share` of the file's speech, `turns`, `words`,
        `wpm` (as `df.asr.talk_time()` on each file's segments). Ordered by path, then
        seconds descending."""
        return self.con.sql(
            """
            WITH seg AS (
              SELECT file_id, path, speaker, greatest(coalesce("end" - start, 0), 0) AS d,
                     lag(speaker) OVER (PARTITION BY file_id ORDER BY start, segment_id) AS prev,
                     row_number() OVER (PARTITION BY file_id ORDER BY start, segment_id) AS i
              FROM segments),
            agg AS (
              SELECT file_id, any_value(path) AS path, speaker, sum(d) AS seconds,
                     count(*) FILTER (WHERE i = 1 OR prev IS DISTINCT FROM speaker) AS turns
              FROM seg GROUP BY file_id, speaker),
            w AS (
              SELECT file_id, speaker, count(*) FILTER (WHERE length(text) > 0) AS words
              FROM words GROUP BY file_id, speaker)
            SELECT agg.path, agg.file_id, agg.speaker, agg.seconds,
                   agg.seconds / nullif(sum(agg.seconds) OVER (PARTITION BY agg.file_id), 0)
                     AS share,
                   agg.turns, coalesce(w.words, 0) AS words,
                   CASE WHEN agg.seconds > 0 THEN coalesce(w.words, 0) / (agg.seconds / 60)
                   END AS wpm
            FROM agg LEFT JOIN w
              ON agg.file_id = w.file_id AND agg.speaker IS NOT DISTINCT FROM w.speaker
            ORDER BY agg.path, agg.seconds DESC
            """
        ).df()

    # -- search -------------------------------------------------------------------------------
    def _within_sql(self, within: Any) -> str:
        if within is None:
            return "TRUE"
        if hasattr(within, "columns") or isinstance(within, duckdb.DuckDBPyRelation):
            df = within.df() if isinstance(within, duckdb.DuckDBPyRelation) else within
            if "file_id" not in df.columns:
                raise ValueError("within: a DataFrame or relation needs a file_id column")
            ids = [str(x) for x in df["file_id"].dropna().unique()]
            return f"x.file_id IN ({', '.join(map(_quote, ids))})" if ids else "FALSE"
        items = [within] if isinstance(within, str | os.PathLike) else list(within)
        conds = []
        for it in items:
            s = os.fspath(it)
            if re.fullmatch(r"[0-9a-f]{64}", s):
                conds.append(f"x.file_id = {_quote(s)}")
            elif any(c in s for c in "*?["):
                conds.append(f"x.path GLOB {_quote(s)}")
            else:
                conds.append(f"x.path = {_quote(os.path.abspath(s))}")
        return "(" + " OR ".join(conds) + ")" if conds else "FALSE"

    def search(
        self,
        query: str,
        *,
        speaker: str | Sequence[str] | None = None,
        within: Any = None,
        context: int = 8,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Where `query` (a word, `prefix*`, or a phrase) is said; one row per hit.

        Columns: path, file_id, start, end, speaker, text (the words as said), before and
        after (`context` words each side), segment_id, word_index. `speaker` keeps hits by
        those speakers; `within` keeps hits in some files (path glob, file_id, list, or a
        frame with a file_id column). Sorted by path and start; `limit` caps the rows.
        """
        terms = [normalize_word(t) for t in query.split()]
        prefix = query.rstrip().endswith("*")
        terms = [t for t in terms if t]
        if not terms:
            raise ValueError(f"search: the query {query!r} has no word to look for")
        if context < 0:
            raise ValueError("context must be >= 0")
        conds = [self._within_sql(within)]
        if speaker is not None:
            spk = [speaker] if isinstance(speaker, str) else list(speaker)
            conds.append(f"x.speaker IN ({', '.join(map(_quote, spk)) or 'NULL'})")
        has_words = bool(self._one("SELECT 1 FROM words LIMIT 1"))
        if not has_words:
            return self._search_segments(terms, prefix, conds, limit)
        k = len(terms)
        norm = _NORM_SQL.format(col="x.text")
        last = terms[-1]
        first_cond = f"x.text ILIKE {_quote('%' + terms[0] + '%')} AND " + (
            f"{norm} LIKE {_quote(terms[0] + '%')}"
            if prefix and k == 1
            else f"{norm} = {_quote(terms[0])}"
        )
        joins, extra = [], []
        for i, t in enumerate(terms[1:], start=1):
            joins.append(
                f"JOIN words w{i} ON w{i}.file_id = x.file_id AND w{i}.attempt = x.attempt"
                f" AND w{i}.word_index = x.word_index + {i}"
            )
            nt = _NORM_SQL.format(col=f"w{i}.text")
            op = (
                f"LIKE {_quote(t + '%')}"
                if prefix and t is last and i == k - 1
                else f"= {_quote(t)}"
            )
            extra.append(f"{nt} {op}")
        end_col = f'w{k - 1}."end"' if k > 1 else 'x."end"'
        text_col = (
            "concat_ws(' ', x.text, " + ", ".join(f"w{i}.text" for i in range(1, k)) + ")"
            if k > 1
            else "x.text"
        )
        where = " AND ".join([first_cond, *conds, *extra])
        lim = f"LIMIT {int(limit)}" if limit is not None else ""
        sql = f"""
            WITH hits AS (
              SELECT x.file_id, x.attempt, x.path, x.start, {end_col} AS "end", x.speaker,
                     {text_col} AS text, x.segment_id, x.word_index
              FROM words x {" ".join(joins)}
              WHERE {where}
              ORDER BY x.path, x.start, x.word_index {lim}),
            ctx AS (
              SELECT h.file_id, h.word_index,
                string_agg(w.text, ' ' ORDER BY w.word_index)
                  FILTER (WHERE w.word_index < h.word_index) AS before,
                string_agg(w.text, ' ' ORDER BY w.word_index)
                  FILTER (WHERE w.word_index >= h.word_index + {k}) AS after
              FROM hits h JOIN words w
                ON w.file_id = h.file_id AND w.attempt = h.attempt
               AND w.word_index BETWEEN h.word_index - {int(context)}
                                    AND h.word_index + {k - 1 + int(context)}
               AND (w.word_index < h.word_index OR w.word_index >= h.word_index + {k})
              GROUP BY h.file_id, h.word_index)
            SELECT h.path, h.file_id, h.start, h."end", h.speaker, h.text,
                   coalesce(c.before, '') AS before, coalesce(c.after, '') AS after,
                   h.segment_id, h.word_index
            FROM hits h LEFT JOIN ctx c ON c.file_id = h.file_id AND c.word_index = h.word_index
            ORDER BY h.path, h.start, h.word_index
        """
        return self.con.sql(sql).df()

    def _search_segments(
        self, terms: list[str], prefix: bool, conds: list[str], limit: int | None
    ) -> pd.DataFrame:
        phrase = " ".join(terms)
        norm = "regexp_replace(lower(x.text), '[^\\w'' ]+', '', 'g')"
        pat = f"% {phrase}{'%' if prefix else ' %'}"
        where = " AND ".join([f"(' ' || {norm} || ' ') LIKE {_quote(pat)}", *conds])
        lim = f"LIMIT {int(limit)}" if limit is not None else ""
        return (
            self.con.sql(
                f"""
            SELECT * FROM (
              SELECT x.path, x.file_id, x.start, x."end", x.speaker, x.text,
                coalesce(lag(x.text) OVER w, '') AS before,
                coalesce(lead(x.text) OVER w, '') AS after,
                x.segment_id, NULL::BIGINT AS word_index, x.text AS _t
              FROM segments x
              WINDOW w AS (PARTITION BY x.file_id ORDER BY x.start, x.segment_id))
            x WHERE {where} ORDER BY path, start {lim}
            """
            )
            .df()
            .drop(columns="_t")
        )

    def link_speakers(
        self, *, voices: Any = None, threshold: float | None = None, progress: bool = True
    ) -> pd.DataFrame:
        """One label per voice across the corpus (`fw.link_speakers` at corpus scale).

        Returns the speaker map, one row per file speaker: file_id, path, speaker, voice
        (`VOICE_00`, … or the name `voices` accepts), score, seconds, error (a file whose
        audio could not be read). It is also the view `speaker_map`, to join to `segments` on
        `(file_id, speaker)`. Voiceprints are stored in the dataset, so a second call embeds
        only new files. Needs the audio at the paths it was transcribed from and the `local`
        extra. See `fw_asr_widgets.corpus._speakers`.
        """
        from fw_asr_widgets.corpus._speakers import link_speakers

        return link_speakers(self, voices=voices, threshold=threshold, progress=progress)

    def search_widget(self, query: str = "", **kwargs: Any) -> Any:
        """A `CorpusSearch` widget over this corpus (click a hit to hear it)."""
        from fw_asr_widgets.widgets.search import CorpusSearch

        return CorpusSearch(self, query, **kwargs)

    def close(self) -> None:
        self.con.close()


def open_corpus(path: str | os.PathLike[str] = "calls.transcripts/") -> Corpus:
    """Open a dataset written by `transcribe_corpus` (see `Corpus`)."""
    return Corpus(path)
