"""The per-notebook response cache, on diskcache.

Where: ``$MEMORIES_MAGICS_CACHE_DIR`` if set, else ``<notebook dir>/.memories_cache/<notebook
stem>/`` for the notebook the kernel runs (found from ``__session__`` / ``JPY_SESSION_NAME`` /
``__vsc_ipynb_file__``), else ``./.memories_cache/default/``.

What: only complete responses (with a finish reason, not interrupted), keyed by the sha256 of
the canonical request. Credentials are not part of a request, so they never reach the cache.
"""

from __future__ import annotations

import os
import sqlite3
import warnings
import time
from pathlib import Path
from typing import Any

from .vocabulary import CACHE_MODES
from .errors import CacheError, UsageError
from .types import Request, Response

CACHE_DIR_ENV = "MEMORIES_MAGICS_CACHE_DIR"
CACHE_MODE_ENV = "MEMORIES_MAGICS_CACHE_MODE"
_FORMAT = 1


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
    """Where this kernel's cache lives (see the module docstring)."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    notebook = notebook_path(user_ns)
    if notebook is not None:
        return notebook.parent / ".memories_cache" / notebook.stem
    return Path.cwd() / ".memories_cache" / "default"


def check_mode(mode: str) -> str:
    """``mode`` if it is a cache mode, else a one-line error listing them."""
    if mode not in CACHE_MODES:
        raise UsageError(f"unknown cache mode {mode!r}; use one of: {', '.join(CACHE_MODES)}")
    return mode


class ResponseCache:
    """Complete responses by request, in one diskcache directory (safe across processes)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._store: Any = None

    def _open(self) -> Any:
        if self._store is None:
            import diskcache

            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._store = diskcache.Cache(str(self.directory))
            except (sqlite3.DatabaseError, OSError) as exc:
                raise CacheError(f"cache directory {self.directory} is unusable ({exc}); run "
                                 "%llm cache clear or point %llm cache dir elsewhere") from None
        return self._store

    def _read(self, key: str, kind: str) -> Any:
        try:
            entry = self._open().get(key)
        except sqlite3.DatabaseError as exc:
            raise CacheError(f"cache at {self.directory} is corrupt ({exc}); run "
                             "%llm cache clear") from None
        if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
            return None
        return entry.get(kind)

    def _write(self, key: str, request: Request, kind: str, value: Any) -> None:
        try:
            self._open().set(key, {"format": _FORMAT, "request": request.canonical(),
                                   kind: value, "stored_at": time.time()})
        except (sqlite3.DatabaseError, OSError, CacheError) as exc:
            # The answer is shown and returned all the same; only its replay is lost.
            warnings.warn(f"memories_magics: could not write the cache at {self.directory} "
                          f"({exc}); the answer is shown but not cached", stacklevel=3)

    def get(self, request: Request) -> Response | None:
        """The cached response for ``request``, marked ``cached``, or None (also for a
        recorded value that doesn't parse). A tool exchange is stored as the first request's
        answer with its steps (``exchange:`` keys, as recorded since the first version)."""
        data = self._read(request.cache_key(), "response")
        if data is None and request.tools:
            exchange = self._read("exchange:" + request.cache_key(), "exchange")
            if isinstance(exchange, dict) and isinstance(exchange.get("response"), dict):
                data = {**exchange["response"], "tool_steps": exchange.get("steps") or ()}
        if data is None:
            return None
        try:
            response = Response.from_dict(data)
        except ValueError:
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
        store = self._open()
        return {"directory": str(self.directory), "entries": len(store),
                "size_bytes": store.volume()}

    def clear(self) -> int:
        """Remove every entry (recreating a corrupt cache); returns how many were removed."""
        import shutil

        try:
            return self._open().clear()
        except (CacheError, sqlite3.DatabaseError):
            self.close()
            shutil.rmtree(self.directory, ignore_errors=True)
            return 0

    def close(self) -> None:
        """Close the underlying database (the next use reopens it)."""
        if self._store is not None:
            self._store.close()
            self._store = None
