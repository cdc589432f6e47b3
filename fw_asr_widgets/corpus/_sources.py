"""Which files a corpus run covers, and the content hash that keys each one.

Decisions:
- A source is a file, a folder (every audio file below it, recursively, by extension) or a
  glob pattern (`**` recursive). A file named explicitly is taken whatever its extension; a
  path that does not exist and matches nothing raises `FileNotFoundError` before any work.
- `file_id` is the SHA-256 of the bytes, read in 1 MiB chunks (memory stays flat for big
  files). Two paths with the same bytes are one file (transcribed once; the first path in
  sorted order names it).
- Hashing a large corpus again on every rerun costs a full read; a hash already recorded in
  the dataset for the same path, size and mtime is reused instead. New files are hashed by
  four threads.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {
        ".wav", ".wave", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aiff",
        ".aif", ".webm", ".mp4", ".wma", ".amr", ".mka", ".mkv", ".mov", ".3gp", ".caf",
    }
)  # fmt: skip
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """One input file: its absolute `path`, `size` and `mtime_ns` (hash filled in later)."""

    path: str
    size: int
    mtime_ns: int
    file_id: str = ""


def _is_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def _walk(folder: Path) -> Iterable[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for n in names:
            if not n.startswith(".") and os.path.splitext(n)[1].lower() in AUDIO_EXTENSIONS:
                yield Path(root, n)


def expand_sources(
    sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> list[SourceFile]:
    """Paths, folders and globs -> the sorted, de-duplicated list of files they name."""
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    found: dict[str, Path] = {}
    for src in sources:
        if not isinstance(src, str | os.PathLike):
            raise TypeError(
                f"a source must be a path, folder or glob string, not {type(src).__name__}"
            )
        s = os.fspath(src)
        p = Path(s).expanduser()
        if p.is_dir():
            paths: Iterable[Path] = _walk(p)
        elif p.is_file():
            paths = [p]
        elif _is_glob(s):
            paths = []
            for m in glob.glob(os.path.expanduser(s), recursive=True):
                mp = Path(m)
                if mp.is_file():
                    paths.append(mp)  # type: ignore[attr-defined]
                elif mp.is_dir():
                    paths.extend(_walk(mp))  # type: ignore[attr-defined]
            if not paths:
                raise FileNotFoundError(f"no files match the pattern {s!r}")
        else:
            raise FileNotFoundError(f"no such file or folder: {s!r}")
        for q in paths:
            a = q.resolve()
            found.setdefault(str(a), a)
    out = []
    for key in sorted(found):
        st = found[key].stat()
        out.append(SourceFile(key, st.st_size, st.st_mtime_ns))
    return out


def file_hash(path: str) -> str:
    """SHA-256 hex digest of the file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def with_ids(
    files: list[SourceFile], known: Mapping[tuple[str, int, int], str]
) -> list[SourceFile]:
    """Fill in `file_id` (reusing `known[(path, size, mtime_ns)]`); drop repeated contents."""
    from concurrent.futures import ThreadPoolExecutor

    need = [f.path for f in files if (f.path, f.size, f.mtime_ns) not in known]
    with ThreadPoolExecutor(max_workers=4) as pool:  # hashlib releases the GIL on big reads
        fresh = dict(zip(need, pool.map(file_hash, need), strict=True))
    seen: set[str] = set()
    out = []
    for f in files:
        fid = known.get((f.path, f.size, f.mtime_ns)) or fresh[f.path]
        if fid in seen:
            continue
        seen.add(fid)
        out.append(SourceFile(f.path, f.size, f.mtime_ns, fid))
    return out
