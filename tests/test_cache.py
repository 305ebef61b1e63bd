"""The cache as hostile input: a committed cache can't run code or read other files, clear
never deletes anything the cache did not write, odd notebook names and paths get clear
errors, and a read-only cache still serves its hits."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest

from memories_magics.cache import DB_NAME, ResponseCache, default_cache_dir
from memories_magics.engine import Engine
from memories_magics.errors import CacheError, MemoriesError
from memories_magics.types import Request, Response, Usage
from tests.fakes import DEFAULT_TEXT, FakeLLMServer


class _Planted:
    """Unpickling this creates ``path``: proof that a cache value ran as code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def _request(prompt: str = "hi") -> Request:
    return Request.from_prompt("openai", "m", prompt)


def _stored(directory: Path, prompt: str = "hi") -> Request:
    request = _request(prompt)
    assert ResponseCache(directory).put(request, Response("recorded", "m", "openai", "stop",
                                                          Usage(1, 1)))
    return request


def _plant(directory: Path, key: str, value: Any) -> None:
    with sqlite3.connect(directory / DB_NAME) as db:
        db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?)", (key, value))


def _diskcache_db(path: Path, marker: Path) -> None:
    """A diskcache database (the old format) whose one row says MODE_PICKLE (4)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE Cache (rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, "
                   "store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER, "
                   "tag BLOB, size INTEGER, mode INTEGER, filename TEXT, value BLOB)")
        db.execute("INSERT INTO Cache VALUES (1, 'k', 1, 0, NULL, 0, 0, NULL, 0, 4, NULL, ?)",
                   (pickle.dumps(_Planted(marker)),))


HOSTILE_VALUES = {
    "pickle blob": lambda marker: pickle.dumps(_Planted(marker)),
    "pickle as text": lambda marker: pickle.dumps(_Planted(marker), 0).decode("latin-1"),
    "not json": lambda _: "{'format': 1",
    "NaN": lambda _: '{"format": 1, "response": {"text": "x", "usage": {}, "latency_s": NaN}}',
    "deeply nested": lambda _: "[" * 100_000 + "]" * 100_000,
    "wrong shape": lambda _: json.dumps({"format": 1, "response": {"text": 5}}),
    "a number": lambda _: 42,
}


@pytest.mark.parametrize("kind", HOSTILE_VALUES)
def test_a_planted_value_never_runs_and_is_refused(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    request = _stored(tmp_path / "cache")
    _plant(tmp_path / "cache", request.cache_key(), HOSTILE_VALUES[kind](marker))
    cache = ResponseCache(tmp_path / "cache")
    assert cache.get(request) is None, "use mode: a miss"
    with pytest.raises(CacheError) as replay:
        cache.get(request, strict=True)
    message = str(replay.value)
    assert "\n" not in message and "unreadable" in message and "--cache refresh" in message
    assert not marker.exists()


@pytest.mark.parametrize("mode", ["use", "replay"])
def test_planted_pickle_never_runs_through_the_engine(mode: str, engine: Engine,
                                                      fake: FakeLLMServer) -> None:
    marker = engine.cache().directory.parent / "pwned"
    spec = engine.model("gpt-4o-mini")
    request = engine.request(spec, "hi")
    engine.cache().put(request, Response("recorded", spec.name, "openai", "stop"))
    _plant(engine.cache().directory, request.cache_key(), pickle.dumps(_Planted(marker)))
    if mode == "use":
        assert engine.run(spec, request, cache="use").text == DEFAULT_TEXT  # a miss: asked anew
    else:
        with pytest.raises(MemoriesError) as error:
            engine.run(spec, request, cache="replay")
        assert "\n" not in str(error.value)
    assert not marker.exists()


def test_an_old_diskcache_folder_is_not_adopted_or_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "cache").mkdir()
    _diskcache_db(tmp_path / "cache" / "cache.db", marker)
    with pytest.raises(CacheError, match=r"holds files the cache did not write \(cache.db\)"):
        ResponseCache(tmp_path / "cache")
    assert not marker.exists() and (tmp_path / "cache" / "cache.db").exists()


def _project(root: Path) -> dict[Path, bytes]:
    files = {root / "analysis.ipynb": b"{}", root / "data.csv": b"a,b\n1,2\n",
             root / "sub" / "notes.txt": b"keep me", root / "cache.db": b"not sqlite" * 10}
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def _intact(files: dict[Path, bytes]) -> bool:
    return all(path.read_bytes() == content for path, content in files.items())


def test_a_project_folder_is_never_adopted_or_cleared(tmp_path: Path) -> None:
    files = _project(tmp_path / "project")
    with pytest.raises(CacheError) as error:
        ResponseCache(tmp_path / "project")
    assert "holds files the cache did not write (analysis.ipynb, cache.db, data.csv, …)" in \
        str(error.value) and "%llm cache dir" in str(error.value)
    assert _intact(files)


def test_files_added_later_stop_clear(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache = ResponseCache(cache_dir)
    _stored(cache_dir)
    (cache_dir / DB_NAME).write_bytes(b"corrupt" * 100)
    files = _project(cache_dir)
    with pytest.raises(CacheError, match="holds files the cache did not write"):
        cache.clear()
    assert _intact(files) and (cache_dir / DB_NAME).exists()


def test_clear_repairs_a_corrupt_cache_removing_only_its_own_file(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    cache = ResponseCache(cache_dir)
    with pytest.raises(CacheError) as error:
        cache.get(_request())
    assert "%llm cache clear" in str(error.value) and "\n" not in str(error.value)
    assert cache.clear() == 0
    assert cache_dir.is_dir() and not any(cache_dir.iterdir())
    request = _stored(cache_dir)
    assert cache.get(request) is not None and cache.info()["entries"] == 1


def test_clear_removes_entries_and_keeps_the_folder(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    for prompt in ("a", "b"):
        _stored(cache_dir, prompt)
    cache = ResponseCache(cache_dir)
    assert cache.clear() == 2 and cache.info()["entries"] == 0
    assert [p.name for p in cache_dir.iterdir()] == [DB_NAME]


def test_a_linked_database_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.sqlite"
    _stored(tmp_path / "real")
    target.write_bytes((tmp_path / "real" / DB_NAME).read_bytes())
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / DB_NAME).symlink_to(target)
    with pytest.raises(CacheError, match="is a link"):
        ResponseCache(tmp_path / "cache")
    assert target.exists()


def test_a_foreign_database_under_our_name_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    with sqlite3.connect(tmp_path / "cache" / DB_NAME) as db:
        db.execute("CREATE TABLE meta (name TEXT, value TEXT)")
    with pytest.raises(CacheError, match="is not a memories_magics cache"):
        ResponseCache(tmp_path / "cache").get(_request())


@pytest.mark.parametrize("name", ["...ipynb", ".ipynb", "..ipynb", "....ipynb"])
def test_odd_notebook_names_keep_the_cache_out_of_the_notebook_folder(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMORIES_MAGICS_CACHE_DIR", raising=False)
    directory = default_cache_dir({"__session__": str(tmp_path / name)})
    assert directory.resolve().parent == (tmp_path / ".memories_cache").resolve()
    assert directory.resolve() != tmp_path.resolve()


def test_a_cache_path_that_is_a_file_says_how_to_fix_it(tmp_path: Path) -> None:
    (tmp_path / "answers").write_text("mine")
    with pytest.raises(CacheError) as error:
        ResponseCache(tmp_path / "answers")
    message = str(error.value)
    assert "is a file, not a folder" in message and "%llm cache dir" in message
    assert (tmp_path / "answers").read_text() == "mine"


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make a folder and its files read-only (root ignores permission bits, so for root the
    cache is also told it can't write, as on a read-only file system)."""
    def make(directory: Path) -> None:
        for path in [*directory.iterdir(), directory]:
            path.chmod(0o444 if path.is_file() else 0o555)
        if os.geteuid() == 0:
            real = os.access
            monkeypatch.setattr("memories_magics.cache.os.access",
                                lambda p, mode: False if mode == os.W_OK else real(p, mode))
    yield make


def test_a_read_only_cache_serves_hits_and_warns_on_misses(engine: Engine, fake: FakeLLMServer,
                                                           read_only: Any) -> None:
    spec = engine.model("gpt-4o-mini")
    recorded = engine.request(spec, "recorded")
    engine.cache().put(recorded, Response("from the cache", spec.name, "openai", "stop"))
    directory = engine.cache().directory
    engine.set_cache_dir(directory)
    read_only(directory)
    before = (directory / DB_NAME).read_bytes()
    try:
        assert engine.run(spec, recorded, cache="use").text == "from the cache"
        with pytest.warns(UserWarning, match="could not write the cache.*shown but not cached"):
            fresh = engine.run(spec, engine.request(spec, "new"), cache="use")
        assert fresh.text == DEFAULT_TEXT
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert engine.run(spec, recorded, cache="replay").cached
    finally:
        directory.chmod(0o755)
    assert (directory / DB_NAME).read_bytes() == before


def test_clearing_a_read_only_cache_removes_nothing(tmp_path: Path, read_only: Any) -> None:
    request = _stored(tmp_path / "cache")
    read_only(tmp_path / "cache")
    cache = ResponseCache(tmp_path / "cache")
    try:
        with pytest.raises(CacheError, match=r"could not clear the cache .*nothing was removed"):
            cache.clear()
        assert cache.get(request) is not None
    finally:
        (tmp_path / "cache").chmod(0o755)


def test_known_keys_are_masked_in_what_is_stored(tmp_path: Path) -> None:
    from memories_magics.secrets import remember

    remember("sk-stored-secret-123456")
    request = _request()
    ResponseCache(tmp_path).put(request, Response("echo sk-stored-secret-123456", "m", "openai",
                                                  "stop"))
    assert b"sk-stored-secret" not in (tmp_path / DB_NAME).read_bytes()
    assert ResponseCache(tmp_path).get(request).text == "echo ***"


def test_cache_commands_never_touch_a_project_folder(tmp_path: Path, fake: FakeLLMServer) -> None:
    from tests.conftest import provider_environment, write_test_config
    from tests.kernel import Kernel

    files = _project(tmp_path / "project")
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"), tmp_path / "c")
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        moved = kernel.run(f"%llm cache dir {tmp_path / 'project'}")
        cleared = kernel.run("%llm cache clear")
    traceback = moved.error["traceback"]
    assert len(traceback) == 1 and "holds files the cache did not write" in traceback[0]
    assert cleared.error is None and cleared.stdout.startswith("Cleared 0 cached answers from")
    assert _intact(files)
