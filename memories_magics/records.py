"""A cache folder's record file: one answer per line of JSON text, safe to review and merge.

``records.jsonl`` holds one JSON object per line, keys sorted, no spaces, so git shows one
added, changed or removed line per answer. Recording appends one line (the cost does not grow
with the file); a moment after a process's last recording (off its thread) and when it ends,
the file is compacted: lines sorted by key (two branches that record different answers merge
without conflict), the last line of a key kept, every other line byte for byte as it was. A
process that only reads never writes, so replaying a committed record leaves it unchanged.

Concurrency is hand-written on the stdlib because no kept library does it for a text file:
``fcntl.flock`` serialises writers across kernels, each append is one ``write`` on an
``O_APPEND`` descriptor, and compaction writes a temporary file and ``os.replace``-s it under
the lock (a writer that waited on the replaced file sees its inode change and opens the new
one). Readers take no lock: they read whole lines only, so a half-written line is never read.

Every line is hostile input: a line that is not JSON, too long, of the wrong shape, with NaN or
nested beyond reason is reported as ``records.jsonl line N: why`` and skipped; the other lines
still load. Nothing is ever unpickled, evaluated or followed as a path.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RECORDS_NAME = "records.jsonl"
#: The embeddings beside the answers, in the same format (:mod:`memories_magics.embed_cache`).
EMBEDDINGS_NAME = "embeddings.jsonl"
#: The value of every record's ``record`` field: the format's name and version.
RECORD_FORMAT = "memories_magics 1"
MAX_LINE = 8 << 20
MAX_FILE = 512 << 20
_KEY = re.compile(r"[0-9a-f]{64}")
#: Characters that end a line for some editors and diff viewers, or reorder what a reviewer
#: sees (bidirectional controls): always written as ``\\uXXXX`` escapes.
_HIDDEN = re.compile("[\u0085\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def dump(record: dict[str, Any]) -> str:
    """One record as its line (without the newline): sorted keys, compact, readable Unicode
    except line breaks and direction controls."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def canonical(data: Any) -> str:
    """A recorded request as the one string its key is the sha256 of (the form
    :meth:`~memories_magics.types.Request.canonical` gives)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_of(data: Any) -> str:
    """The key of a recorded request: the sha256 of :func:`canonical`."""
    return hashlib.sha256(canonical(data).encode("utf-8")).hexdigest()


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def parse(line: bytes) -> dict[str, Any]:
    """A line as a record, or ``ValueError`` saying why it is not one."""
    if len(line) > MAX_LINE:
        raise ValueError(f"a line of {len(line):,} bytes (at most {MAX_LINE:,})")
    try:
        record = json.loads(line.decode("utf-8"), parse_constant=_refuse)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(record, dict) or record.get("record") != RECORD_FORMAT:
        raise ValueError(f'not a record (no "record": "{RECORD_FORMAT}")')
    if not isinstance(record.get("key"), str) or not _KEY.fullmatch(record["key"]):
        raise ValueError("its key is not a sha256")
    if not isinstance(record.get("request"), dict) or not isinstance(record.get("text"), str):
        raise ValueError("it needs a request object and a text")
    return record


class RecordFile:
    """The records of one file, indexed by key, re-read incrementally when it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        #: The keys whose record's request was found to match them (a record read again,
        #: or the file replaced, is checked again).
        self.verified: set[str] = set()
        #: ``"records.jsonl line N: why"`` for each line that is not a record.
        self.problems: list[str] = []
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._line = 0

    def _reset(self, identity: tuple[int, int] | None = None) -> None:
        self.records, self.verified, self.problems = {}, set(), []
        self._identity, self._offset, self._line = identity, 0, 0

    def refresh(self, complete: bool = False) -> None:
        """Load what was appended since the last read (all of it after a replace);
        ``complete``: no one writes the file, so a last line without its newline counts."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._reset()
            return
        identity = (info.st_dev, info.st_ino)
        if identity != self._identity or info.st_size < self._offset:
            self._reset(identity)
        if info.st_size == self._offset:
            return
        if info.st_size > MAX_FILE:
            raise OSError(f"{self.path.name} is {info.st_size:,} bytes, more than a record "
                          f"file holds ({MAX_FILE:,})")
        with self.path.open("rb") as file:
            file.seek(self._offset)
            data = file.read(info.st_size - self._offset)
        # Whole lines only (a writer may be mid-line), unless the file is known complete.
        end = len(data) if complete else data.rfind(b"\n") + 1
        for line in data[:end].split(b"\n")[:None if complete else -1]:
            self._line += 1
            if not line.strip():
                continue
            try:
                record = parse(line)
            except ValueError as exc:
                self.problems.append(f"{self.path.name} line {self._line}: {exc}")
                continue
            self._index(record)
        self._offset += end
        try:  # a last line without its newline: complete (edited by hand), or being written
            tail = parse(data[end:]) if data[end:].strip() else None
        except ValueError:
            tail = None  # read again, whole, once its writer ends it
        if tail is not None:
            self._index(tail)

    def _index(self, record: dict[str, Any]) -> None:
        self.records[record["key"]] = record
        self.verified.discard(record["key"])

    def append(self, line: str) -> None:
        """Add one line under the lock, after a newline if the file lacks its last one."""
        data = line.encode("utf-8") + b"\n"
        if len(data) > MAX_LINE:
            raise ValueError(f"the answer's record is {len(data):,} bytes (at most {MAX_LINE:,})")
        with locked(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT) as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            _write_all(fd, data)

    def compact(self, drop: frozenset[str] = frozenset()) -> bool:
        """Sort the lines by key, keep each key's last line and none of ``drop``; returns
        whether the file changed. A file with lines that are not records is left as it is (a
        person edits it)."""
        if not self.path.exists():
            return False
        with locked(self.path, os.O_RDWR | os.O_CREAT) as fd:
            size = os.fstat(fd).st_size
            if size > MAX_FILE:
                return False
            data = os.pread(fd, size, 0)
            latest: dict[str, bytes] = {}
            for line in data.split(b"\n"):
                if not line.strip():
                    continue
                try:
                    latest[parse(line)["key"]] = line
                except ValueError:
                    return False
            compacted = b"".join(latest[key] + b"\n" for key in sorted(latest)
                                 if key not in drop)
            if compacted == data:
                return False
            replace(self.path, compacted, os.fstat(fd).st_mode & 0o777)
            return True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records.values())


def replace(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


@contextmanager
def locked(path: Path, flags: int) -> Iterator[int]:
    """``path`` opened with ``flags`` and locked for writing; re-opened if another process
    replaced the file while this one waited for the lock. Links are refused."""
    while True:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            opened = os.fstat(fd)
            if current is not None and (current.st_dev, current.st_ino) == \
                    (opened.st_dev, opened.st_ino):
                yield fd
                return
        finally:
            os.close(fd)  # closing releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
