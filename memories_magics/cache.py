"""The per-notebook response cache: a text record of what the models said, beside the notebook.

Where: ``$MEMORIES_MAGICS_CACHE_DIR`` if set, else ``<notebook dir>/.memories_cache/<notebook
stem>/`` for the notebook the kernel runs (found from ``__session__`` / ``JPY_SESSION_NAME`` /
``__vsc_ipynb_file__``), else ``./.memories_cache/default/``, which also reads every other
notebook's record in that folder: ``jupyter nbconvert --execute`` and papermill don't tell the
kernel the notebook's name, and a shipped notebook still replays from its record.

What: only complete answers, one line each in ``records.jsonl`` (:mod:`.records`): the
request as sent, the answer, finish reason, usage and provenance, under the sha256 of the
canonical request. A committed record is someone else's input: a line that is not a record
is skipped with a warning naming its line (an error in replay), a record whose request does
not match its key is refused, nothing is unpickled or followed to another file, the cache
never adopts a folder holding files it did not write, and ``clear`` removes only its own
files. Credentials are not part of a request, and known keys are masked in what is stored.
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any

from .cache_folder import (
    CACHE_DIR_ENV,
    LEGACY_NAME,
    check_directory,
    count_records,
    drop_records,
    file_info,
    load,
    remove_own_files,
    shown_path,
    write_in,
)
from .errors import CacheError, UsageError
from .records import (
    EMBEDDINGS_NAME,
    RECORD_FORMAT,
    RECORDS_NAME,
    RecordFile,
    canonical,
    dump,
    key_of,
)
from .secrets import mask_known
from .types import Request, Response
from .vocabulary import CACHE_MODES

CACHE_MODE_ENV = "MEMORIES_MAGICS_CACHE_MODE"
#: Seconds after this process's last recording that its record is compacted (sorted, one
#: line per key), off the caller's thread; and once more when the process ends.
COMPACT_AFTER_S = 1.0
#: The answer's fields a record keeps (the model and provider are the request's).
ANSWER_FIELDS = ("text", "finish_reason", "usage", "latency_s", "first_token_s", "tool_calls",
                 "tool_steps", "logprobs", "provenance")


def notebook_path(user_ns: dict[str, Any] | None = None) -> Path | None:
    """The notebook this kernel runs, as far as the front end tells the kernel.

    A relative name is taken as relative to the kernel's working directory, which Jupyter
    sets to the notebook's folder.
    """
    user_ns = user_ns or {}
    for candidate in (user_ns.get("__vsc_ipynb_file__"), user_ns.get("__session__"),
                      os.environ.get("JPY_SESSION_NAME")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate)
            return path if path.is_absolute() else Path.cwd() / path.name
    return None


def default_cache_dir(user_ns: dict[str, Any] | None = None) -> Path:
    """Where this kernel's cache lives (see the module docstring). A notebook whose name is
    only dots before ``.ipynb`` (``...ipynb``) gets ``untitled``, never its own folder."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    notebook = notebook_path(user_ns)
    if notebook is not None:
        stem = notebook.name[:-len(".ipynb")]
        return notebook.parent / ".memories_cache" / (stem if stem.strip(".") else "untitled")
    return Path.cwd() / ".memories_cache" / "default"


def open_default(user_ns: dict[str, Any] | None = None) -> ResponseCache:
    """This kernel's cache; a kernel that doesn't know its notebook also reads the records of
    every notebook in its folder (see the module docstring)."""
    directory = default_cache_dir(user_ns)
    if os.environ.get(CACHE_DIR_ENV) or notebook_path(user_ns) is not None:
        return ResponseCache(directory)
    siblings = sorted(p.parent for p in directory.parent.glob(f"*/{RECORDS_NAME}")
                      if p.parent != directory)
    return ResponseCache(directory, also_read=siblings)


def check_mode(mode: str) -> str:
    """``mode`` if it is a cache mode, else a one-line error listing them."""
    if mode not in CACHE_MODES:
        raise UsageError(f"unknown cache mode {mode!r}; use one of: {', '.join(CACHE_MODES)}")
    return mode


class ResponseCache:
    """Complete answers by request in one folder's ``records.jsonl`` (safe across kernels
    and threads); ``also_read`` folders are searched, never written, when this one misses.

    Raises :class:`CacheError` (one line, with the fix) for a path that is a file or a folder
    holding other files; a read-only cache serves its hits and warns when it can't store.
    """

    def __init__(self, directory: Path | str, *, also_read: tuple[Path, ...] | list[Path] = ()
                 ) -> None:
        self.directory = Path(directory)
        check_directory(self.directory)
        self._file = RecordFile(self.directory / RECORDS_NAME)
        self._others: list[RecordFile] = []
        for folder in also_read:
            try:
                check_directory(folder)
            except CacheError:
                continue  # not a cache: never read
            self._others.append(RecordFile(folder / RECORDS_NAME))
        self._warned: set[str] = set()
        self._wrote = False
        self._timer: threading.Timer | None = None
        #: The keys this process asked for or recorded (what ``prune`` keeps).
        self.asked: set[str] = set()
        self._lock = threading.RLock()

    # -- reading -------------------------------------------------------------------------
    def _load(self, record_file: RecordFile) -> None:
        """Read what was added to ``record_file`` (see :func:`~.cache_folder.load`)."""
        load(record_file, "cache", self._warned)

    def _where(self, record_file: RecordFile) -> str:
        return f"{shown_path(record_file.path.parent)}/"

    def _find(self, key: str) -> tuple[RecordFile, dict[str, Any]] | None:
        """The file holding ``key``'s record, and the record."""
        with self._lock:
            for record_file in (self._file, *self._others):
                if key not in record_file.records:
                    self._load(record_file)
                if key in record_file.records:
                    return record_file, record_file.records[key]
        return None

    def get(self, request: Request, *, strict: bool = False) -> Response | None:
        """The recorded answer for ``request``, marked ``cached``, or None. A record that is
        unreadable, of the wrong shape or whose request doesn't match its key (tampered) is
        a miss with a warning, or with ``strict`` (replay mode) a one-line CacheError; so is a
        miss while some line of the record could not be read."""
        key = request.cache_key()
        self.asked.add(key)
        with self._lock:  # a reload between finding and checking would mark the wrong record
            found = self._find(key)
            if found is None:
                if strict:
                    self._explain_miss()
                return None
            record_file, record = found
            try:
                if key not in record_file.verified:  # once per record as read (reloads too)
                    if canonical(record["request"]) != request.canonical():
                        raise ValueError("its request does not match its key (edited by hand?)")
                    record_file.verified.add(key)
                response = Response.from_dict({**{k: record[k] for k in ANSWER_FIELDS
                                                  if k in record},
                                               "model": request.model,
                                               "provider": request.provider})
            except (ValueError, TypeError, RecursionError) as exc:
                message = (f"the recorded answer for this prompt in {shown_path(self.directory)}"
                           f" is unreadable ({exc}); record it again with --cache refresh")
                if strict:
                    raise CacheError(message) from None
                if message not in self._warned:
                    self._warned.add(message)
                    warnings.warn(f"memories_magics: {message}", stacklevel=3)
                return None
        response.cached = True
        response.cache_key = record["key"]
        return response

    def _explain_miss(self) -> None:
        """In replay, a miss that an unreadable line or an old-format cache may explain is
        that line's error."""
        for record_file in (self._file, *self._others):
            if record_file.problems:
                raise CacheError(f"{self._where(record_file)}{record_file.problems[0]}: this "
                                 "prompt's answer may be that line; fix or delete it, or "
                                 "record it again with --cache refresh")
        if (self.directory / LEGACY_NAME).exists() and not self._file.records:
            raise CacheError(f"{shown_path(self.directory)} holds a cache of an earlier "
                             "version (memories_magics.sqlite); convert it once: python -m "
                             f"memories_magics.convert {shown_path(self.directory)}")

    def records(self) -> list[dict[str, Any]]:
        """Every readable record of this folder (for verify and export), by key."""
        with self._lock:
            self._load(self._file)
            return [self._file.records[key] for key in sorted(self._file.records)]

    # -- writing -------------------------------------------------------------------------
    def put(self, request: Request, response: Response) -> bool:
        """Record ``response`` if it is complete; returns whether it was stored."""
        if not response.complete:
            return False
        stored = response.to_dict()
        record = {"record": RECORD_FORMAT, "key": request.cache_key(),
                  "request": request.as_record(),
                  **{k: stored[k] for k in ANSWER_FIELDS if stored[k] not in ((), [], {})}}

        def write() -> None:
            line = mask_known(dump(record))
            with self._lock:
                self.asked.add(record["key"])
                self._file.append(line)
                self._wrote = True
                _touched.add(self)
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = threading.Timer(COMPACT_AFTER_S, self.compact)
                self._timer.daemon = True
                self._timer.start()

        return write_in(self._file, write, "cache", "the answer is shown but not cached")

    def prune(self, keys: frozenset[str]) -> int:
        """Remove the records of ``keys``; returns how many went. A record with a line that
        is not a record is not rewritten (a one-line CacheError says which)."""
        with self._lock:
            self._load(self._file)
            return drop_records(self._file, keys)

    def export(self, path: Path) -> int:
        """Write every record of this folder to ``path`` (a new JSONL file); returns how many."""
        from .records import replace

        records = self.records()
        if path.exists():
            raise CacheError(f"{shown_path(path)} exists; export to a new file")
        try:
            replace(path, "".join(mask_known(dump(r)) + "\n" for r in records).encode())
        except OSError as exc:
            raise CacheError(f"could not write {shown_path(path)} ({exc})") from None
        return len(records)

    def import_records(self, path: Path) -> tuple[int, list[str]]:
        """Add the records of the JSONL file ``path`` (another notebook's record or an
        export); returns how many were added and why the others were not."""
        source = RecordFile(path)
        try:
            if path.is_symlink() or not path.is_file():
                raise OSError("not a file")
            source.refresh(complete=True)
        except OSError as exc:
            raise CacheError(f"could not read {shown_path(path)} ({exc})") from None
        refused = list(source.problems)
        added = 0
        for record in source:
            if key_of(record["request"]) != record["key"]:
                refused.append(f"{record['key'][:12]}…: its request does not match its key")
                continue
            line = mask_known(dump(record))
            with self._lock:
                self._load(self._file)
                if record["key"] in self._file.records:
                    continue
                try:
                    check_directory(self.directory)
                    self.directory.mkdir(parents=True, exist_ok=True)
                    self._file.append(line)
                except OSError as exc:
                    raise CacheError(f"could not write the cache at "
                                     f"{shown_path(self.directory)} ({exc})") from None
                self._wrote = True
                _touched.add(self)
                added += 1
        self.compact()
        return added, refused

    def compact(self) -> bool:
        """Sort this process's record by key, one line per key (see :mod:`.records`); only
        if this process wrote to it. Returns whether the file changed."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self._wrote:
                return False
            self._wrote = False
            try:
                return self._file.compact()
            except OSError:
                return False  # left appended: still a valid record

    @property
    def also_read(self) -> tuple[Path, ...]:
        """The other folders whose records this cache reads (never writes)."""
        return tuple(f.path.parent for f in self._others)

    def info(self) -> dict[str, Any]:
        """Record count, size on disk, location, and the other notebooks' records read."""
        with self._lock:
            self._load(self._file)
            return {"directory": str(self.directory), **file_info(self._file),
                    "also_read": [str(folder) for folder in self.also_read]}

    def clear(self) -> tuple[int, int]:
        """Remove the answers and the vectors beside them (``embeddings.jsonl``); returns how
        many of each went. Only the cache's own files go, and never from a folder that holds
        anything else."""
        with self._lock:
            check_directory(self.directory)  # foreign files or a link: refuse (raises)
            if not self.directory.is_dir():
                return 0, 0
            with suppress(CacheError):  # an unreadable record is cleared all the same
                self._load(self._file)
            removed = len(self._file.records), count_records(self.directory / EMBEDDINGS_NAME)
            remove_own_files(self.directory)
            self._file.refresh()
            self._wrote = False
            return removed

    def close(self) -> None:
        """Compact what this process recorded (the next use reads the file again)."""
        self.compact()


#: Caches this process wrote to: compacted once when it ends.
_touched: set[ResponseCache] = set()


@atexit.register
def _compact_all() -> None:
    for cache in list(_touched):
        cache.compact()
