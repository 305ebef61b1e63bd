"""Convert a cache of an earlier version (``memories_magics.sqlite``) into its text record.

``python -m memories_magics.convert FOLDER ...`` reads each folder's SQLite file without
writing to it (``immutable``), writes ``records.jsonl`` beside it and removes the SQLite files.
Local answers are re-keyed with the sha256 of the GGUF now behind their model (the key of a
local answer includes it), so convert on the machine that recorded them. Entries that are
not JSON of the recorded shape are skipped and counted, as the cache would have refused them.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from .cache import ResponseCache
from .cache_folder import LEGACY_NAME, OWN_FILES, check_directory
from .errors import MemoriesError
from .types import Request, Response


def _entries(database: Path) -> list[tuple[str, Any]]:
    uri = f"{database.resolve().as_uri()}?mode=ro&immutable=1"
    with sqlite3.connect(uri, uri=True) as db:
        rows = db.execute("SELECT key, value FROM entries").fetchall()
    out = []
    for key, value in rows:
        try:
            out.append((str(key), json.loads(value)))
        except (TypeError, ValueError):
            out.append((str(key), None))
    return out


def _answer(entry: Any, digest: Any) -> tuple[Request, Response] | None:
    """The request and answer of one old entry (tool exchanges carry their steps)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), str):
        return None
    request = Request.from_record(json.loads(entry["request"]))
    data = entry.get("response")
    if isinstance(entry.get("exchange"), dict):
        data = {**entry["exchange"]["response"], "tool_steps": entry["exchange"]["steps"]}
    if not isinstance(data, dict):
        return None
    response = Response.from_dict(data)
    if request.provider == "local":
        request = dataclasses.replace(request, gguf_sha256=digest(request))
    stored = time.gmtime(float(entry.get("stored_at") or 0))
    response.provenance = {"converted_from": LEGACY_NAME,
                           "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", stored)}
    return request, response


def convert(folder: Path) -> tuple[int, int]:
    """Convert one folder; returns (answers converted, entries skipped)."""
    from .engine import Engine
    from .providers.local import LocalProvider
    from .providers.local_runtime import chat_sha256

    check_directory(folder)
    engine = Engine()

    def digest(request: Request) -> str | None:
        return chat_sha256(engine.model(f"local:{request.model}"))  # as Engine.request

    local = LocalProvider(engine.config)
    cache, converted, skipped = ResponseCache(folder), 0, 0
    for _, entry in _entries(folder / LEGACY_NAME):
        try:
            pair = _answer(entry, digest)
        except (ValueError, TypeError, KeyError):
            pair = None
        if pair is None:
            skipped += 1
            continue
        request, response = pair
        if request.provider == "local":
            response.provenance = {**local.provenance(request), **response.provenance}
        converted += cache.put(request, response)
    cache.compact()
    for path in folder.iterdir():
        if OWN_FILES.fullmatch(path.name) and path.name.startswith(LEGACY_NAME):
            path.unlink()
    return converted, skipped


def main(folders: list[str]) -> int:
    """The command line: one line per folder."""
    if not folders:
        print("usage: python -m memories_magics.convert FOLDER ... (folders holding "
              f"{LEGACY_NAME})")
        return 2
    status = 0
    for name in folders:
        try:
            converted, skipped = convert(Path(name))
            print(f"{name}: {converted} answers written to records.jsonl"
                  + (f", {skipped} unreadable entries skipped" if skipped else ""))
        except (MemoriesError, sqlite3.Error, OSError) as exc:
            print(f"{name}: not converted ({exc})")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
