"""Embeddings in the notebook's cache folder: ``embeddings.jsonl`` beside ``records.jsonl``.

One vector per line, in the record format of :mod:`.records` (sorted keys, one line per key,
compacted after each call that added some), under the sha256 of the canonical request: the
provider, the model, the text and the parameters that change the vector (Cohere's
``input_type``, a local model's GGUF digest). The vector is stored as base64 of its float32
bytes (little-endian) with its dimension, so it comes back bit for bit.

The same trust rules as the answers' record: a line that is not a record is skipped with a
warning, a record whose request does not match the one asked for (edited by hand) or whose
vector does not decode to ``dim`` finite numbers is a miss with a warning, the file is
refused if it is a link, nothing is unpickled, and known keys are masked in what is stored.
"""

from __future__ import annotations

import base64
import binascii
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .cache import ResponseCache
from .cache_folder import drop_records, file_info, load, shown_path, write_in
from .records import EMBEDDINGS_NAME, RECORD_FORMAT, RecordFile, canonical, dump, key_of
from .secrets import mask_known

Vector = np.ndarray[Any, np.dtype[np.float32]]


def embed_request(provider: str, model: str, text: str, **params: Any) -> dict[str, Any]:
    """The request one vector answers (its cache key is the sha256 of its canonical JSON);
    parameters that are None are left out."""
    return {"kind": "embedding", "provider": provider, "model": model, "text": text,
            **{k: v for k, v in params.items() if v is not None}}


def _vector(record: dict[str, Any]) -> Vector:
    dim = record.get("dim")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError("its dim is not a positive whole number")
    try:
        raw = base64.b64decode(str(record.get("vector", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("its vector is not base64") from None
    if len(raw) != 4 * dim:
        raise ValueError(f"its vector has {len(raw)} bytes, not 4 × {dim}")
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all():
        raise ValueError("its vector holds NaN or infinite values")
    return vector


class EmbeddingCache:
    """The vectors of one cache folder (``also_read`` folders are searched, never written)."""

    def __init__(self, directory: Path, also_read: tuple[Path, ...] = ()) -> None:
        self.directory = directory
        self._file = RecordFile(directory / EMBEDDINGS_NAME)
        self._others = [RecordFile(folder / EMBEDDINGS_NAME) for folder in also_read]
        self._warned: set[str] = set()
        #: The keys this process asked for or recorded (what ``prune`` keeps).
        self.asked: set[str] = set()
        self._lock = threading.Lock()

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(f"memories_magics: {message}", stacklevel=4)

    def _refresh(self, record_file: RecordFile) -> None:
        load(record_file, "embeddings", self._warned)

    def get(self, requests: list[dict[str, Any]]) -> list[Vector | None]:
        """The recorded vector of each request, None where there is none (or it is unreadable,
        with a warning)."""
        with self._lock:
            for record_file in (self._file, *self._others):
                self._refresh(record_file)
            found: list[Vector | None] = []
            for request in requests:
                key = key_of(request)
                self.asked.add(key)
                record = next((f.records[key] for f in (self._file, *self._others)
                               if key in f.records), None)
                found.append(None if record is None else self._checked(record, request))
            return found

    def _checked(self, record: dict[str, Any], request: dict[str, Any]) -> Vector | None:
        try:
            if not isinstance(record.get("request"), dict) or \
                    canonical(record["request"]) != canonical(request):
                raise ValueError("its request does not match its key (edited by hand?)")
            return _vector(record)
        except ValueError as exc:
            self._warn(f"a recorded embedding in {shown_path(self.directory)} is unreadable "
                       f"({exc}); it is embedded again")
            return None

    def put(self, requests: list[dict[str, Any]], vectors: Vector,
            provenance: dict[str, str]) -> bool:
        """Record one vector per request, then compact; returns whether they were stored (a
        folder that can't be written is a warning: the vectors are returned all the same)."""
        lines = [mask_known(dump({
            "record": RECORD_FORMAT, "key": key_of(request), "request": request,
            "text": request["text"], "dim": int(vector.shape[0]),
            "vector": base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii"),
            "provenance": provenance})) for request, vector in zip(requests, vectors, strict=True)]

        def write() -> None:
            with self._lock:
                self.asked.update(key_of(request) for request in requests)
                for line in lines:
                    self._file.append(line)
                self._file.compact()

        return write_in(self._file, write, "embeddings",
                        "the vectors are returned but not cached")

    def records(self) -> list[dict[str, Any]]:
        """Every readable record of this folder's vectors, by key."""
        with self._lock:
            self._refresh(self._file)
            return [self._file.records[key] for key in sorted(self._file.records)]

    def prune(self, keys: frozenset[str]) -> int:
        """Remove the vectors of ``keys``; returns how many went (see
        :func:`~.cache_folder.drop_records`)."""
        with self._lock:
            self._refresh(self._file)
            return drop_records(self._file, keys)

    def info(self) -> dict[str, Any]:
        """How many vectors this folder holds, their size on disk and unreadable lines."""
        with self._lock:
            self._refresh(self._file)
            return file_info(self._file)


_opened: dict[tuple[Path, tuple[Path, ...]], EmbeddingCache] = {}
_opened_lock = threading.Lock()


def embeddings_beside(cache: ResponseCache) -> EmbeddingCache:
    """The embeddings of ``cache``'s folder (and of the folders it also reads)."""
    others = cache.also_read  # not info(), which re-reads the answers' record on every embed
    slot = (cache.directory, others)
    with _opened_lock:
        if slot not in _opened:
            _opened[slot] = EmbeddingCache(cache.directory, others)
        return _opened[slot]
