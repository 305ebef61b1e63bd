"""The per-notebook response cache: JSON in one SQLite file, never pickle.

Where: ``$MEMORIES_MAGICS_CACHE_DIR`` if set, else ``<notebook dir>/.memories_cache/<notebook
stem>/`` for the notebook the kernel runs (found from ``__session__`` / ``JPY_SESSION_NAME`` /
``__vsc_ipynb_file__``), else ``./.memories_cache/default/``.

What: only complete responses, keyed by the sha256 of the canonical request, as JSON text in
``memories_magics.sqlite``. A committed cache is someone else's input: a value that is not
JSON of the recorded shape is refused (never unpickled, never followed to another file), the
cache never adopts a folder holding files it did not write, and ``clear`` removes only its
own rows or its own file. Credentials are not part of a request, and known keys are masked in
what is stored, so they never reach the cache.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from .errors import CacheError, UsageError
from .secrets import mask_known
from .types import Request, Response
from .vocabulary import CACHE_MODES

CACHE_DIR_ENV = "MEMORIES_MAGICS_CACHE_DIR"
CACHE_MODE_ENV = "MEMORIES_MAGICS_CACHE_MODE"
#: The database file, and everything SQLite may create beside it: all the cache ever writes.
DB_NAME = "memories_magics.sqlite"
OWN_FILES = frozenset({DB_NAME, *(DB_NAME + suffix for suffix in ("-journal", "-wal", "-shm"))})
_MARK = "memories_magics response cache"
_FORMAT = 1
_SCHEMA = ("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
           f"INSERT OR IGNORE INTO meta VALUES ('format', '{_MARK}');"
           "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL);")


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


def shown_path(path: Path | str) -> str:
    """``path`` relative to the working directory when inside it (so notebook outputs read
    the same on every machine), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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


def check_mode(mode: str) -> str:
    """``mode`` if it is a cache mode, else a one-line error listing them."""
    if mode not in CACHE_MODES:
        raise UsageError(f"unknown cache mode {mode!r}; use one of: {', '.join(CACHE_MODES)}")
    return mode


class CorruptCacheError(CacheError):
    """The cache's own database can't be read as one (``%llm cache clear`` removes it)."""


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


class ResponseCache:
    """Complete responses by request, in one directory (safe across processes and threads).

    Raises :class:`CacheError` (one line, with the fix) for a path that is a file or a folder
    holding other files; a read-only cache serves its hits and warns when it can't store.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._check_directory()

    # -- where ---------------------------------------------------------------------------
    def _check_directory(self) -> None:
        """Refuse a path that is a file, a folder with files the cache didn't write, or a
        database file that is a link (a committed link could point anywhere)."""
        where = shown_path(self.directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise CacheError(f"the cache path {where} is a file, not a folder; point %llm cache "
                             f"dir (or ${CACHE_DIR_ENV}) at a folder, e.g. {where}_cache")
        if not self.directory.is_dir():
            return
        foreign = sorted(p.name for p in self.directory.iterdir() if p.name not in OWN_FILES)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
            raise CacheError(f"{where} holds files the cache did not write ({shown}); point "
                             "%llm cache dir at an empty or new folder, e.g. "
                             f"{Path(where) / '.memories_cache'}")
        if (self.directory / DB_NAME).is_symlink():
            raise CacheError(f"{where}/{DB_NAME} is a link, not a cache file; remove it, or "
                             "point %llm cache dir elsewhere")

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        """The open database; None if there is none yet and ``create`` is false. A file or
        folder this process can't write is opened read-only (hits are served, writes warn)."""
        with self._lock:
            if self._db is not None:
                return self._db
            self._check_directory()
            path = self.directory / DB_NAME
            if not path.exists() and not create:
                return None
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                read_only = not os.access(self.directory, os.W_OK) or (
                    path.exists() and not os.access(path, os.W_OK))
                mode = "ro" if read_only else "rwc"
                db = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                                     timeout=30, isolation_level=None, check_same_thread=False)
                if path.stat().st_size == 0:
                    db.executescript(_SCHEMA)
                mark = db.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
            except sqlite3.OperationalError as exc:  # locked, read-only, can't open, no table
                if "no such table" in str(exc):
                    raise CorruptCacheError(self._unusable(exc)) from None
                raise CacheError(self._unusable(exc)) from None
            except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
                raise CorruptCacheError(self._unusable(exc)) from None
            except (sqlite3.Error, OSError) as exc:
                raise CacheError(self._unusable(exc)) from None
            if mark != (_MARK,):
                db.close()
                raise CorruptCacheError(f"{shown_path(path)} is not a memories_magics cache; run "
                                 "%llm cache clear to remove it, or point %llm cache dir "
                                 "elsewhere")
            self._db = db
            return db

    def _unusable(self, exc: BaseException) -> str:
        return (f"the cache at {shown_path(self.directory)} is unusable ({exc}); run "
                "%llm cache clear to start it afresh, or point %llm cache dir elsewhere")

    # -- entries -------------------------------------------------------------------------
    def _read(self, key: str, kind: str, strict: bool) -> Any:
        """The ``kind`` part of entry ``key``; None if absent. A value that is not JSON of the
        recorded shape is a miss, or with ``strict`` (replay) a one-line CacheError."""
        try:
            with self._lock:
                db = self._connect(create=False)
                row = None if db is None else db.execute(
                    "SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise CacheError(self._unusable(exc)) from None
        if row is None:
            return None
        try:
            if not isinstance(row[0], str):
                raise TypeError(f"a {type(row[0]).__name__} value, not JSON text")
            entry = _strict_json(row[0])
            if not isinstance(entry, dict) or entry.get("format") != _FORMAT or kind not in entry:
                raise ValueError("not a recorded entry")
            return entry[kind]
        except (ValueError, TypeError, RecursionError) as exc:
            if strict:
                raise CacheError(f"the cached answer for this prompt in "
                                 f"{shown_path(self.directory)} is unreadable ({exc}); "
                                 "record it again with --cache refresh") from None
            return None

    def _write(self, key: str, request: Request, kind: str, value: Any) -> None:
        text = mask_known(json.dumps({"format": _FORMAT, "request": request.canonical(),
                                      kind: value, "stored_at": time.time()},
                                     ensure_ascii=False, allow_nan=False))
        try:
            with self._lock:
                db = self._connect(create=True)
                assert db is not None
                db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?)", (key, text))
        except (sqlite3.Error, OSError, CacheError, ValueError) as exc:
            # The answer is shown and returned all the same; only its replay is lost.
            warnings.warn(f"memories_magics: could not write the cache at "
                          f"{shown_path(self.directory)} ({exc}); the answer is shown but "
                          "not cached", stacklevel=3)

    def get(self, request: Request, *, strict: bool = False) -> Response | None:
        """The cached response for ``request``, marked ``cached``, or None. A recorded value
        that doesn't parse is a miss, or with ``strict`` (replay mode) a CacheError. A tool
        exchange is stored as the first request's answer with its steps (``exchange:`` keys)."""
        key = request.cache_key()
        data = self._read(key, "response", strict)
        if data is None and request.tools:
            exchange = self._read("exchange:" + key, "exchange", strict)
            if isinstance(exchange, dict) and isinstance(exchange.get("response"), dict):
                data = {**exchange["response"], "tool_steps": exchange.get("steps") or ()}
        if data is None:
            return None
        try:
            response = Response.from_dict(data)
        except ValueError as exc:
            if strict:
                raise CacheError(f"the cached answer for this prompt in "
                                 f"{shown_path(self.directory)} is unreadable ({exc}); "
                                 "record it again with --cache refresh") from None
            return None
        response.cached = True
        return response

    def put(self, request: Request, response: Response) -> bool:
        """Store ``response`` if it is complete; returns whether it was stored."""
        if not response.complete:
            return False
        stored = response.to_dict()
        stored["cached"] = False
        if response.tool_steps:
            steps = stored.pop("tool_steps")
            self._write("exchange:" + request.cache_key(), request, "exchange",
                        {"response": stored, "steps": steps, "stopped_early": False})
        else:
            self._write(request.cache_key(), request, "response", stored)
        return True

    def info(self) -> dict[str, Any]:
        """Entry count, size on disk and location."""
        try:
            db = self._connect(create=False)
            entries = 0 if db is None else db.execute("SELECT count(*) FROM entries").fetchone()[0]
        except sqlite3.Error as exc:
            raise CacheError(self._unusable(exc)) from None
        size = sum(p.stat().st_size for p in map(self.directory.joinpath, OWN_FILES)
                   if p.is_file())
        return {"directory": str(self.directory), "entries": entries, "size_bytes": size}

    def clear(self) -> int:
        """Remove every entry; returns how many. A database that can't be read is removed:
        only the cache's own files, and never in a folder that holds anything else."""
        where = shown_path(self.directory)
        with self._lock:
            try:
                db = self._connect(create=False)
                if db is None:
                    return 0
                removed = int(db.execute("SELECT count(*) FROM entries").fetchone()[0])
                db.execute("DELETE FROM entries")
                db.execute("VACUUM")
                return removed
            except CorruptCacheError:
                pass
            except sqlite3.OperationalError as exc:  # read-only, locked by another kernel
                raise CacheError(f"could not clear the cache at {where} ({exc}); nothing "
                                 "was removed") from None
            except sqlite3.DatabaseError:
                self.close()
            self._check_directory()  # foreign files or a link: refuse (raises)
            try:
                for name in OWN_FILES:
                    (self.directory / name).unlink(missing_ok=True)
            except OSError as exc:
                raise CacheError(f"could not remove the damaged cache at {where} ({exc})") from None
            return 0

    def close(self) -> None:
        """Close the database (the next use reopens it)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
