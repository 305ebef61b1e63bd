"""A cache folder and its record files, as the answers' cache (:mod:`.cache`) and the vectors'
(:mod:`.embed_cache`) both use it: which files in it are the cache's, the checks before it
is adopted or written, writing that warns instead of failing, pruning and clearing.

The folder is the cache's only if every file in it is one the cache writes (so a project
folder is never adopted, and ``clear`` never deletes what it did not write); a record file
that is a link is refused (a committed link could point anywhere).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import CacheError
from .records import EMBEDDINGS_NAME, RECORDS_NAME, RecordFile

CACHE_DIR_ENV = "MEMORIES_MAGICS_CACHE_DIR"
#: The SQLite file of earlier versions (convert it with ``python -m memories_magics.convert``).
LEGACY_NAME = "memories_magics.sqlite"
#: Everything the cache, or an earlier version of it, ever writes in its folder.
OWN_FILES = re.compile(f"(?:{re.escape(RECORDS_NAME)}|{re.escape(EMBEDDINGS_NAME)})"
                       rf"(?:\.\d+\.tmp)?|{re.escape(LEGACY_NAME)}(?:-journal|-wal|-shm)?")


def shown_path(path: Path | str) -> str:
    """``path`` relative to the working directory when inside it (so notebook outputs read
    the same on every machine), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def refuse_link(path: Path) -> None:
    """A one-line :class:`CacheError` when the record file ``path`` is a link."""
    if path.is_symlink():
        raise CacheError(f"{shown_path(path)} is a link, not a record; remove it, or point "
                         "%llm cache dir elsewhere")


def check_directory(directory: Path) -> None:
    """Refuse a path that is a file, a folder with files the cache didn't write, or a record
    that is a link."""
    where = shown_path(directory)
    if directory.exists() and not directory.is_dir():
        raise CacheError(f"the cache path {where} is a file, not a folder; point %llm cache "
                         f"dir (or ${CACHE_DIR_ENV}) at a folder, e.g. {where}_cache")
    if not directory.is_dir():
        return
    foreign = sorted(p.name for p in directory.iterdir() if not OWN_FILES.fullmatch(p.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise CacheError(f"{where} holds files the cache did not write ({shown}); point "
                         "%llm cache dir at an empty or new folder, e.g. "
                         f"{Path(where) / '.memories_cache'}")
    for name in (RECORDS_NAME, EMBEDDINGS_NAME):
        refuse_link(directory / name)


def load(record_file: RecordFile, what: str, warned: set[str]) -> None:
    """Read what was added to ``record_file`` (the ``what`` of its folder); a file that is a
    link or can't be read is a one-line :class:`CacheError`, and each line that is not a
    record is warned about once (``warned``: the warnings given), the other records load."""
    refuse_link(record_file.path)
    try:
        record_file.refresh()
    except OSError as exc:
        raise CacheError(f"the {what} at {shown_path(record_file.path.parent)} is unusable "
                         f"({exc}); run %llm cache clear to start it afresh, or point "
                         "%llm cache dir elsewhere") from None
    for problem in record_file.problems:
        if problem not in warned:
            warned.add(problem)
            warnings.warn(f"memories_magics: {shown_path(record_file.path.parent)}/{problem}, "
                          "skipped (the other records load)", stacklevel=5)


def write_in(record_file: RecordFile, write: Callable[[], None], what: str, lost: str) -> bool:
    """Run ``write`` (which adds to ``record_file``) once its folder is checked, made and
    writable; returns whether it ran. A folder or file that can't be written is a warning
    naming ``what`` was not written, where, why, and what is ``lost`` (the answer or the
    vectors are returned all the same)."""
    directory = record_file.path.parent
    try:
        check_directory(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK) or (
                record_file.path.exists() and not os.access(record_file.path, os.W_OK)):
            raise PermissionError("read-only")
        write()
    except (OSError, CacheError, ValueError) as exc:
        warnings.warn(f"memories_magics: could not write the {what} at {shown_path(directory)} "
                      f"({exc}); {lost}", stacklevel=4)
        return False
    return True


def file_info(record_file: RecordFile) -> dict[str, Any]:
    """How many records ``record_file`` holds (as last read), its size on disk and the lines
    that are not records."""
    path = record_file.path
    return {"entries": len(record_file.records),
            "size_bytes": path.stat().st_size if path.is_file() else 0,
            "problems": list(record_file.problems)}


def refuse_unreadable(directory: Path, problems: list[str]) -> None:
    """A one-line :class:`CacheError` naming the first line in ``directory``'s record files
    that is not a record, if any: such a file is not rewritten (a person edits it)."""
    if problems:
        raise CacheError(f"{shown_path(directory)}/{problems[0]}; fix or delete that line "
                         "first (nothing was removed)")


def drop_records(record_file: RecordFile, keys: frozenset[str]) -> int:
    """Remove the records of ``keys`` from ``record_file`` (read just before); returns how
    many went. A file with a line that is not a record is not rewritten
    (:func:`refuse_unreadable`)."""
    refuse_unreadable(record_file.path.parent, record_file.problems)
    gone = keys & set(record_file.records)
    if gone and not record_file.compact(drop=gone):
        raise CacheError(f"could not rewrite {shown_path(record_file.path)}; nothing was "
                         "removed")
    record_file.refresh()
    return len(gone)


def count_records(path: Path) -> int:
    """How many readable records the file ``path`` holds (0 for none, a link or one that
    can't be read)."""
    if path.is_symlink():
        return 0
    record_file = RecordFile(path)
    try:
        record_file.refresh()
    except OSError:
        return 0
    return len(record_file.records)


def remove_own_files(directory: Path) -> None:
    """Delete the cache's own files in ``directory`` (checked first: a folder holding
    anything else raises); a folder that can't be written is a one-line CacheError."""
    where = shown_path(directory)
    if not os.access(directory, os.W_OK):
        raise CacheError(f"could not clear the cache at {where} (read-only); nothing was "
                         "removed")
    try:
        for path in directory.iterdir():
            if OWN_FILES.fullmatch(path.name):
                path.unlink()
    except OSError as exc:
        raise CacheError(f"could not clear the cache at {where} ({exc})") from None
