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
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .cache import ResponseCache, check_directory, shown_path
from .errors import CacheError
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
        self._lock = threading.Lock()

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(f"memories_magics: {message}", stacklevel=4)

    def _refresh(self, record_file: RecordFile) -> None:
        if record_file.path.is_symlink():
            raise CacheError(f"{shown_path(record_file.path)} is a link, not a record; remove "
                             "it, or point %llm cache dir elsewhere")
        try:
            record_file.refresh()
        except OSError as exc:
            raise CacheError(f"the embeddings at {shown_path(record_file.path)} are unusable "
                             f"({exc}); run %llm cache clear, or point %llm cache dir "
                             "elsewhere") from None
        for problem in record_file.problems:
            self._warn(f"{shown_path(record_file.path.parent)}/{problem}, skipped")

    def get(self, requests: list[dict[str, Any]]) -> list[Vector | None]:
        """The recorded vector of each request, None where there is none (or it is unreadable,
        with a warning)."""
        with self._lock:
            for record_file in (self._file, *self._others):
                self._refresh(record_file)
            found: list[Vector | None] = []
            for request in requests:
                key = key_of(request)
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
        try:
            with self._lock:
                check_directory(self.directory)
                self.directory.mkdir(parents=True, exist_ok=True)
                if not os.access(self.directory, os.W_OK):
                    raise PermissionError("read-only")
                for line in lines:
                    self._file.append(line)
                self._file.compact()
        except (OSError, CacheError, ValueError) as exc:
            warnings.warn(f"memories_magics: could not write the embeddings at "
                          f"{shown_path(self.directory)} ({exc}); the vectors are returned but "
                          "not cached", stacklevel=3)
            return False
        return True


_opened: dict[tuple[Path, tuple[Path, ...]], EmbeddingCache] = {}
_opened_lock = threading.Lock()


def embeddings_beside(cache: ResponseCache) -> EmbeddingCache:
    """The embeddings of ``cache``'s folder (and of the folders it also reads)."""
    others = tuple(Path(folder) for folder in cache.info()["also_read"])
    slot = (cache.directory, others)
    with _opened_lock:
        if slot not in _opened:
            _opened[slot] = EmbeddingCache(cache.directory, others)
        return _opened[slot]
