"""The cache as a reviewable record and as hostile input: one JSON line per answer, appends
that never rewrite other lines, replays that write nothing, a committed record that can't run
code or read other files, clear that never deletes what the cache did not write, provenance
on every answer, and ``%llm cache verify`` for drift."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from memories_magics.cache import ResponseCache, default_cache_dir
from memories_magics.cache_folder import LEGACY_NAME
from memories_magics.engine import Engine
from memories_magics.errors import CacheError, MemoriesError
from memories_magics.records import EMBEDDINGS_NAME, RECORDS_NAME
from memories_magics.types import Request, Response, Usage
from tests.fakes import DEFAULT_TEXT, FakeLLMServer, Reply

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
VENV_BIN = Path(sys.executable).parent


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
    cache = ResponseCache(directory)
    assert cache.put(request, Response("recorded", "m", "openai", "stop", Usage(1, 1)))
    cache.compact()
    return request


def _lines(directory: Path) -> list[bytes]:
    return (directory / RECORDS_NAME).read_bytes().splitlines(keepends=True)


def _replace_record(directory: Path, change: Any) -> None:
    """Rewrite the one record of ``directory`` as ``change(record)`` gives it (bytes or dict)."""
    record = json.loads(_lines(directory)[0])
    planted = change(record)
    data = planted if isinstance(planted, bytes) else json.dumps(planted).encode()
    (directory / RECORDS_NAME).write_bytes(data + b"\n")


def _with(**fields: Any) -> Any:
    return lambda record: {**record, **fields}


HOSTILE_LINES = {
    "pickle blob": lambda marker: lambda _: pickle.dumps(_Planted(marker)).replace(b"\n", b" "),
    "pickle as text": lambda marker: lambda _: pickle.dumps(_Planted(marker), 0)
        .replace(b"\n", b" "),
    "not json": lambda _: lambda record: json.dumps(record).encode()[:-3],
    "NaN": lambda _: lambda record: json.dumps({**record, "latency_s": float("nan")}).encode(),
    "deeply nested": lambda _: lambda _r: b"[" * 100_000 + b"]" * 100_000,
    "huge line": lambda _: lambda record: json.dumps({**record, "text": "x" * (9 << 20)})
        .encode(),
    "not UTF-8": lambda _: lambda record: json.dumps(record).encode().replace(b"recorded",
                                                                             b"rec\xffrded"),
    "text is a number": lambda _: _with(text=5),
    "usage is a list": lambda _: _with(usage=[1, 2]),
    "tool steps are junk": lambda _: _with(tool_steps=[{"call": "rm -rf /"}]),
    "provenance is nested": lambda _: _with(provenance={"sdk": {"$ref": "/etc/passwd"}}),
    "request edited (key no longer matches)": lambda _: lambda record: {
        **record, "request": {**record["request"], "temperature": 2.0}},
    "not a record": lambda _: lambda _r: b'{"hello": "world"}',
    "a number": lambda _: lambda _r: b"42",
}


@pytest.mark.parametrize("kind", HOSTILE_LINES)
def test_a_hostile_record_is_a_miss_in_use_and_one_line_in_replay(kind: str,
                                                                  tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    directory = tmp_path / "cache"
    request = _stored(directory)
    _replace_record(directory, HOSTILE_LINES[kind](marker))
    with pytest.warns(UserWarning) as warned:
        assert ResponseCache(directory).get(request) is None, "use mode: a miss"
    assert len(warned) == 1 and "\n" not in str(warned[0].message)
    with pytest.raises(CacheError) as replay, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ResponseCache(directory).get(request, strict=True)
    message = str(replay.value)
    assert "\n" not in message and "--cache refresh" in message
    assert "line 1" in message or "unreadable" in message
    assert not marker.exists()


def test_a_broken_line_names_its_line_and_the_other_records_still_load(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    first, second = _stored(directory, "a"), _stored(directory, "b")
    lines = _lines(directory)
    (directory / RECORDS_NAME).write_bytes(lines[0] + b'{"broken": \n' + lines[1])
    cache = ResponseCache(directory)
    with pytest.warns(UserWarning, match=r"cache/records.jsonl line 2: not JSON .*skipped "
                                         r"\(the other records load\)"):
        assert cache.get(first, strict=True).text == "recorded"
    assert cache.get(second, strict=True).text == "recorded"
    with pytest.raises(CacheError, match=r"records.jsonl line 2: not JSON .*fix or delete it"):
        cache.get(_request("never recorded"), strict=True)


@pytest.mark.parametrize("mode", ["use", "replay"])
def test_planted_pickle_never_runs_through_the_engine(mode: str, engine: Engine,
                                                      fake: FakeLLMServer) -> None:
    marker = engine.cache().directory.parent / "pwned"
    spec = engine.model("gpt-4o-mini")
    request = engine.request(spec, "hi")
    engine.cache().put(request, Response("recorded", spec.name, "openai", "stop"))
    (engine.cache().directory / RECORDS_NAME).write_bytes(pickle.dumps(_Planted(marker)))
    engine.set_cache_dir(engine.cache().directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "use":
            assert engine.run(spec, request, cache="use").text == DEFAULT_TEXT  # asked anew
        else:
            with pytest.raises(MemoriesError) as error:
                engine.run(spec, request, cache="replay")
            assert "\n" not in str(error.value)
    assert not marker.exists()


def test_recording_appends_one_line_and_compaction_sorts_without_touching_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("memories_magics.cache.COMPACT_AFTER_S", 600)
    directory = tmp_path / "cache"
    cache = ResponseCache(directory)
    for prompt in ("c", "a", "b"):
        assert cache.put(_request(prompt), Response(f"answer {prompt}", "m", "openai", "stop"))
    before = (directory / RECORDS_NAME).read_bytes()
    cache.put(_request("a"), Response("answer a, again", "m", "openai", "stop"))
    after = (directory / RECORDS_NAME).read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 4, "an append, nothing rewritten"
    assert cache.compact()
    lines = _lines(directory)
    keys = [json.loads(line)["key"] for line in lines]
    assert keys == sorted(keys) and len(lines) == 3, "sorted by key, one line per answer"
    assert set(lines) <= set(after.splitlines(keepends=True)), "lines kept byte for byte"
    assert ResponseCache(directory).get(_request("a")).text == "answer a, again"
    record = json.loads(lines[0])
    assert list(record) == sorted(record) and record["record"] == "memories_magics 1"
    assert not cache.compact(), "a process that did not write since leaves the file alone"


def test_lines_escape_what_would_break_a_line_or_fool_a_reviewer(tmp_path: Path) -> None:
    text = "é 中文 a\u2028b\u0085c \u202eevil\u202c \U0001F600"
    request = _request(text)
    ResponseCache(tmp_path).put(request, Response(text, "m", "openai", "stop"))
    data = (tmp_path / RECORDS_NAME).read_bytes()
    assert data.count(b"\n") == 1 and "é 中文".encode() in data
    for hidden in ("\u2028", "\u0085", "\u202e"):
        assert hidden.encode() not in data
    assert ResponseCache(tmp_path).get(request, strict=True).text == text


def test_an_old_diskcache_folder_is_not_adopted_or_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "cache").mkdir()
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as db:
        db.execute("CREATE TABLE Cache (key BLOB, mode INTEGER, value BLOB)")
        db.execute("INSERT INTO Cache VALUES ('k', 4, ?)", (pickle.dumps(_Planted(marker)),))
    with pytest.raises(CacheError, match=r"holds files the cache did not write \(cache.db\)"):
        ResponseCache(tmp_path / "cache")
    assert not marker.exists() and (tmp_path / "cache" / "cache.db").exists()


def _legacy(directory: Path, request: Request, text: str) -> None:
    """A cache of the previous version: JSON rows in memories_magics.sqlite."""
    directory.mkdir(parents=True)
    with sqlite3.connect(directory / LEGACY_NAME) as db:
        db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        value = {"format": 1, "request": request.canonical(), "stored_at": 0,
                 "response": Response(text, request.model, request.provider, "stop").to_dict()}
        db.execute("INSERT INTO entries VALUES (?, ?)", (request.cache_key(), json.dumps(value)))
        db.execute("INSERT INTO entries VALUES ('bad', ?)", (pickle.dumps(_Planted(directory)),))


def test_an_earlier_sqlite_cache_says_how_to_convert_it_and_converts(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    request = _request()
    _legacy(directory, request, "from the old cache")
    with pytest.raises(CacheError, match=r"earlier version .*python -m memories_magics.convert"):
        ResponseCache(directory).get(request, strict=True)
    done = subprocess.run([sys.executable, "-m", "memories_magics.convert", str(directory)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0
    assert "1 answers written to records.jsonl, 1 unreadable entries skipped" in done.stdout
    assert [p.name for p in directory.iterdir()] == [RECORDS_NAME]
    hit = ResponseCache(directory).get(request, strict=True)
    assert hit.text == "from the old cache"
    assert hit.provenance["converted_from"] == LEGACY_NAME


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
    files = _project(cache_dir)
    with pytest.raises(CacheError, match="holds files the cache did not write"):
        cache.clear()
    assert _intact(files) and (cache_dir / RECORDS_NAME).exists()


def test_clear_removes_the_record_and_keeps_the_folder(tmp_path: Path) -> None:
    import numpy as np

    from memories_magics.embed_cache import EmbeddingCache, embed_request

    cache_dir = tmp_path / "cache"
    for prompt in ("a", "b"):
        _stored(cache_dir, prompt)
    (cache_dir / RECORDS_NAME).open("ab").write(b"garbage\n")
    assert EmbeddingCache(cache_dir).put(
        [embed_request("openai", "e", text) for text in "xyz"], np.ones((3, 2), np.float32), {})
    (cache_dir / EMBEDDINGS_NAME).open("ab").write(b"junk\n")
    cache = ResponseCache(cache_dir)
    with pytest.warns(UserWarning, match="line 3"):
        assert cache.clear() == (2, 3), "answers and vectors, the unreadable lines not counted"
    assert cache.info()["entries"] == 0 and cache_dir.is_dir() and not any(cache_dir.iterdir())
    request = _stored(cache_dir)
    assert cache.get(request) is not None and cache.info()["entries"] == 1


@pytest.mark.parametrize("name", [RECORDS_NAME, EMBEDDINGS_NAME])
def test_a_linked_record_is_refused(tmp_path: Path, name: str) -> None:
    _stored(tmp_path / "real")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / name).symlink_to(tmp_path / "real" / RECORDS_NAME)
    with pytest.raises(CacheError, match=f"cache/{name} is a link, not a record; remove it"):
        ResponseCache(tmp_path / "cache")
    assert (tmp_path / "real" / RECORDS_NAME).exists()


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
    before = (directory / RECORDS_NAME).read_bytes()
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
    assert (directory / RECORDS_NAME).read_bytes() == before


def test_a_read_only_cache_returns_new_vectors_with_the_same_warning(
        engine: Engine, fake: FakeLLMServer, read_only: Any) -> None:
    from memories_magics import LoadModel

    directory = engine.cache().directory
    directory.mkdir(parents=True)
    read_only(directory)
    model = LoadModel("openai", "api", "text-embedding-3-small", engine=engine)
    try:
        with pytest.warns(UserWarning, match=r"could not write the embeddings at .*cache "
                                             r"\(read-only\); the vectors are returned but not "
                                             "cached"):
            assert model.embed(["a", "b"]).shape == (2, 8)
    finally:
        directory.chmod(0o755)
    assert not any(directory.iterdir())


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
    assert b"sk-stored-secret" not in (tmp_path / RECORDS_NAME).read_bytes()
    assert ResponseCache(tmp_path).get(request).text == "echo ***"


# -- provenance --------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["openai", "deepseek", "anthropic", "cohere", "mistral"])
def test_every_provider_answer_carries_provenance_in_payload_and_record(
        provider: str, engine: Engine, fake: FakeLLMServer) -> None:
    from memories_magics import __version__
    from memories_magics.display.render import RESULT_MIME, result_bundle
    from memories_magics.result import LLMResult

    fake.default = Reply(model="snapshot-2026-01-01")
    spec = engine.model(f"{provider}:test-model")
    request = engine.request(spec, "hi")
    response = engine.run(spec, request, cache="use")
    provenance = result_bundle(LLMResult(response, spec, request))[RESULT_MIME]["provenance"]
    sdk = {"deepseek": "openai", "mistral": "mistralai"}.get(provider, provider)
    assert provenance["sdk"].startswith(f"{sdk} ") and provenance["sdk"][len(sdk) + 1].isdigit()
    assert provenance["host"] == fake.url.split("//")[1]
    assert provenance["memories_magics"] == __version__ and provenance["recorded_at"][:2] == "20"
    if provider != "cohere":  # Cohere's v2 chat does not say which model answered
        assert provenance["served_model"] == "snapshot-2026-01-01"
    record = json.loads(_lines(engine.cache().directory)[0])
    assert record["provenance"] == response.provenance
    assert "planted" not in json.dumps(record) and "/v1" not in provenance["host"]
    hit = engine.run(spec, request, cache="replay")
    assert hit.cached and hit.provenance == response.provenance


def test_a_local_answer_names_its_gguf_and_another_file_is_a_miss(tmp_path: Path) -> None:
    from memories_magics.config import Config
    from memories_magics.providers.local_runtime import gguf_path, gguf_sha256

    engine = Engine(Config.load())
    engine.set_cache_dir(tmp_path / "cache")
    smollm2 = gguf_path(engine.model("smollm2"))
    copy = tmp_path / "model.gguf"
    shutil.copyfile(smollm2, copy)
    spec = engine.model(f"local:{copy}")
    request = engine.request(spec, "Say yes.", max_tokens=4, seed=1)
    answer = engine.run(spec, request, cache="use")
    assert request.gguf_sha256 == gguf_sha256(engine.model("smollm2")) and answer.complete
    assert answer.provenance["gguf_sha256"] == request.gguf_sha256
    assert answer.provenance["sdk"].startswith("llama-cpp-python 0.")
    assert answer.provenance["served_model"] == "model.gguf"
    assert engine.run(spec, engine.request(spec, "Say yes.", max_tokens=4, seed=1),
                      cache="replay").cached
    with copy.open("r+b") as file:  # another file under the same name
        file.seek(-1, 2)
        last = file.read(1)
        file.seek(-1, 2)
        file.write(bytes([last[0] ^ 1]))
    changed = engine.request(spec, "Say yes.", max_tokens=4, seed=1)
    assert changed.gguf_sha256 != request.gguf_sha256
    assert engine.cache().get(changed) is None, "a different file is a miss, not a stale hit"


# -- verify ------------------------------------------------------------------------------
def test_verify_reports_same_then_the_changed_answer_and_the_moved_snapshot(
        engine: Engine, fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]) -> None:
    from memories_magics.verify import report, verify

    fake.default = Reply(text="The sea rises twice a day.", model="gpt-4o-mini-2024-07-18")
    spec = engine.model("gpt-4o-mini")
    for prompt in ("tides?", "waves?"):
        engine.run(spec, engine.request(spec, prompt), cache="use")
    engine.cache().compact()
    first = report(verify(engine, engine.cache()), "here")
    assert first.splitlines() == [("2 same, 0 changed (of 2 recorded answers in here, asked "
                                  "again live)")]
    fake.default = Reply(text="The sea rises once a day.", model="gpt-4o-mini-2025-01-01")
    second = report(verify(engine, engine.cache(), sample=2), "here").splitlines()
    assert second[0].startswith("0 same, 2 changed")
    assert "  The sea rises [-twice-]{+once+} a day." in second
    assert any("served_model gpt-4o-mini-2024-07-18 → gpt-4o-mini-2025-01-01" in line
               for line in second)


def test_verify_names_a_provider_without_a_key_once_and_verifies_the_rest(
        engine: Engine, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from memories_magics.verify import report, verify

    for model in ("gpt-4o-mini", "claude-haiku", "claude-sonnet"):
        spec = engine.model(model)
        engine.run(spec, engine.request(spec, "hi"), cache="use")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    lines = report(verify(engine, engine.cache()), "here").splitlines()
    assert lines[0] == ("1 same, 0 changed, 2 not verified (of 3 recorded answers in here, "
                        "asked again live)")
    assert lines[1:] == [("not verified: anthropic: anthropic: no API key; set ANTHROPIC_API_KEY "
                         "(e.g. %env ANTHROPIC_API_KEY=...) or use the keyless local model "
                         "with %llm use local:smollm2")]


def test_cache_commands_in_a_kernel(tmp_path: Path, fake: FakeLLMServer) -> None:
    from tests.conftest import provider_environment, write_test_config
    from tests.kernel import Kernel

    files = _project(tmp_path / "project")
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"), tmp_path / "c")
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        for prompt in ("one", "two", "three", "four"):
            kernel.run(f"%%llm gpt-4o-mini\n{prompt}")
        verified = kernel.run("%llm cache verify --sample 3")
        bad_sample = kernel.run("%llm cache verify --sample x")
        kernel.run("import time; time.sleep(2)")
    assert verified.stdout.startswith("3 same, 0 changed (of 3 recorded answers in ")
    assert bad_sample.error["traceback"] == [
        ("UsageError: usage: %llm cache verify [--sample N], N a whole number of at least 1 "
        "(e.g. %llm cache verify --sample 5)")]
    keys = [json.loads(line)["key"] for line in _lines(tmp_path / "c")]
    assert len(keys) == 4 and keys == sorted(keys), "compacted a moment after recording"
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        moved = kernel.run(f"%llm cache dir {tmp_path / 'project'}")
        cleared = kernel.run("%llm cache clear")
    traceback = moved.error["traceback"]
    assert len(traceback) == 1 and "holds files the cache did not write" in traceback[0]
    assert cleared.error is None
    assert cleared.stdout.startswith("Cleared 4 cached answers and 0 cached vectors from")
    assert _intact(files) and not any((tmp_path / "c").iterdir())


def test_prune_export_and_import_in_a_kernel(tmp_path: Path, fake: FakeLLMServer) -> None:
    from tests.conftest import provider_environment, write_test_config
    from tests.kernel import Kernel

    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"), tmp_path / "a")
    for prompt in ("kept", "stale"):
        _stored(tmp_path / "a", prompt)
    exported = tmp_path / "moved.jsonl"
    with Kernel(env) as kernel:
        kernel.run("%load_ext memories_magics")
        early = kernel.run("%llm cache prune")
        kernel.run("from memories_magics.engine import default_engine\n"
                   "from memories_magics.types import Request\n"
                   "default_engine().cache().get(Request.from_prompt('openai', 'm', 'kept'))")
        asked = kernel.run("%llm cache prune")
        pruned = kernel.run("%llm cache prune --yes")
        export = kernel.run(f"%llm cache export {exported}")
        again = kernel.run(f"%llm cache export {exported}")
        kernel.run(f"%llm cache dir {tmp_path / 'b'}")
        imported = kernel.run(f"%llm cache import {exported}")
        junk = kernel.run(f"%llm cache import {tmp_path / 'c.json'}")
        (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n" * 3000)
        long_junk = kernel.run(f"%llm cache import {tmp_path / 'passwd'}")
    assert early.error["traceback"][0].startswith("UsageError: no cell has asked a model")
    assert asked.stdout.startswith("1 answers and 0 vectors in ") and \
        "%llm cache prune --yes drops them" in asked.stdout and "'recorded'" in asked.stdout
    assert pruned.stdout.startswith("Pruned 1 answers and 0 vectors from ")
    assert [json.loads(line)["request"]["messages"][0]["content"]
            for line in _lines(tmp_path / "a")] == ["kept"]
    assert export.stdout.startswith("Exported 1 records to ")
    assert again.error["traceback"][0].endswith("exists; export to a new file")
    assert imported.stdout.startswith("Imported 1 records from ")
    assert ResponseCache(tmp_path / "b").get(_request("kept"), strict=True).text == "recorded"
    assert junk.stdout.startswith("Imported 0 records")
    assert "not imported: c.json line 1: not a record" in junk.stdout
    lines = long_junk.stdout.splitlines()
    assert len(lines) == 7 and lines[0].startswith("Imported 0 records"), long_junk.stdout
    assert lines[-1].startswith("… and 2,995 more lines not imported")


def test_an_import_refuses_tampered_records(tmp_path: Path) -> None:
    _stored(tmp_path / "a", "honest")
    record = json.loads(_lines(tmp_path / "a")[0])
    record["request"]["messages"][0]["content"] = "swapped"
    planted = tmp_path / "planted.jsonl"
    planted.write_text(json.dumps(record) + "\n")
    added, refused = ResponseCache(tmp_path / "b").import_records(planted)
    assert added == 0
    assert refused == [f"{record['key'][:12]}…: its request does not match its key"]


# -- notebooks ---------------------------------------------------------------------------
def test_a_plain_nbconvert_execute_replays_a_shipped_notebook_from_its_text_record(
        tmp_path: Path) -> None:
    """nbconvert doesn't tell the kernel the notebook's name: the kernel reads the records of
    its folder's notebooks, writes nothing, and calls no model (replay)."""
    folder = tmp_path / "clone"
    (folder / ".memories_cache").mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", folder)
    shutil.copytree(NOTEBOOKS / ".memories_cache" / "quickstart",
                    folder / ".memories_cache" / "quickstart")
    record = folder / ".memories_cache" / "quickstart" / RECORDS_NAME
    before = (record.read_bytes(), record.stat().st_mtime_ns)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JPY_", "MEMORIES_MAGICS_"))}
    done = subprocess.run(
        [str(VENV_BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
         "--output", str(tmp_path / "out.ipynb"), str(folder / "quickstart.ipynb")],
        env={**env, "MEMORIES_MAGICS_CACHE_MODE": "replay"}, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    cells = json.loads((tmp_path / "out.ipynb").read_text())["cells"]
    payloads = [o["data"]["application/vnd.memories-magics.result+json"]
                for c in cells for o in c.get("outputs", [])
                if "application/vnd.memories-magics.result+json" in o.get("data", {})
                and "--cache off" not in "".join(c["source"])]
    assert payloads and all(p["cached"] for p in payloads)
    assert (record.read_bytes(), record.stat().st_mtime_ns) == before
    assert sorted(p.name for p in (folder / ".memories_cache").iterdir()) == ["quickstart"]


def test_the_committed_records_are_text_and_replay_writes_none_of_them() -> None:
    """What nbval replays is plain JSON lines, sorted and one per key, and only those files
    (the notebooks' conftest restores nothing)."""
    for folder in (NOTEBOOKS / ".memories_cache").iterdir():
        names = {p.name for p in folder.iterdir()}
        assert RECORDS_NAME in names <= {RECORDS_NAME, EMBEDDINGS_NAME}, folder
        for name in names:
            keys = [json.loads(line)["key"] for line in (folder / name).read_bytes().splitlines()]
            assert keys == sorted(set(keys)), f"{folder.name}/{name}: sorted, one line per key"
    assert "write_bytes" not in (NOTEBOOKS / "conftest.py").read_text()


def test_a_reloaded_record_is_checked_again_and_the_old_records_are_let_go(
        tmp_path: Path) -> None:
    import tracemalloc

    directory = tmp_path / "cache"
    writer = ResponseCache(directory)
    requests = [_request(f"long {i}") for i in range(20)]
    for request in requests:
        assert writer.put(request, Response("x" * 100_000, "m", "openai", "stop", Usage(1, 1)))
    writer.compact()
    tracemalloc.start()
    try:
        reader = ResponseCache(directory)
        assert all(reader.get(r) is not None for r in requests)  # every record checked
        loaded = tracemalloc.get_traced_memory()[0]
        assert writer.prune(frozenset(r.cache_key() for r in requests[1:])) == 19  # elsewhere
        assert reader.get(_request("never recorded")) is None  # a miss reloads the file
        assert reader.get(requests[1]) is None, "pruned elsewhere: a miss after the reload"
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after < loaded / 4, "the reader holds none of the records it read before the reload"
    from memories_magics.records import replace

    record = json.loads(_lines(directory)[0])
    record["request"]["messages"][0]["content"] = "planted"  # by another process, as it does
    replace(directory / RECORDS_NAME, json.dumps(record).encode() + b"\n")
    assert reader.get(_request("never recorded")) is None  # reloads the replaced file
    with pytest.warns(UserWarning, match="does not match its key"):
        assert reader.get(requests[0]) is None, "a record read again is checked again"


def test_info_prune_and_clear_count_the_vectors_beside_the_answers(tmp_path: Path,
                                                                    fake: FakeLLMServer) -> None:
    """``%llm cache info`` counts answers and vectors, ``prune`` drops the vectors no cell of
    this kernel asked for as it does answers, ``clear`` removes both files and says how many
    of each went; an unreadable vector line is named and stops prune, not clear."""
    from tests.conftest import provider_environment, write_test_config
    from tests.kernel import Kernel

    cache_dir = tmp_path / "c"
    env = provider_environment(fake.url, write_test_config(tmp_path / "c.json"), cache_dir)
    embed = "%llm embed texts -o v -m text-embedding-3-small"
    with Kernel(env, cwd=tmp_path) as kernel:
        kernel.run("%load_ext memories_magics\ntexts = ['alpha', 'beta', 'gamma']")
        for prompt in ("kept", "stale"):
            kernel.run(f"%%llm gpt-4o-mini\n{prompt}")
        assert kernel.run(embed).error is None
        recorded = kernel.run("%llm cache info")
    assert recorded.stdout.startswith("2 cached answers (") and \
        " KiB) and 3 cached vectors (" in recorded.stdout and \
        recorded.stdout.endswith(" KiB) in c (mode: use)\n")
    with Kernel(env, cwd=tmp_path) as kernel:
        kernel.run("%load_ext memories_magics\ntexts = ['alpha']")
        kernel.run("%%llm gpt-4o-mini\nkept")
        again = kernel.run(embed)
        listed = kernel.run("%llm cache prune")
        vectors = (cache_dir / EMBEDDINGS_NAME).read_bytes()
        (cache_dir / EMBEDDINGS_NAME).write_bytes(vectors + b"not a record\n")
        unreadable = kernel.run("%llm cache info")
        refused = kernel.run("%llm cache prune --yes")
        kept = (cache_dir / EMBEDDINGS_NAME).read_bytes()
        (cache_dir / EMBEDDINGS_NAME).write_bytes(vectors)
        pruned = kernel.run("%llm cache prune --yes")
        nothing = kernel.run("%llm cache prune")
        info = kernel.run("%llm cache info")
        on_disk = [len(_lines(cache_dir)), (cache_dir / EMBEDDINGS_NAME).read_text()]
        cleared = kernel.run("%llm cache clear")
        empty = kernel.run("%llm cache info")
        fresh = kernel.run(embed)
    assert again.stdout.endswith("(1 of 1 from the cache)\n")
    lines = listed.stdout.splitlines()
    assert lines[:2] == [("1 answers and 2 vectors in c were not asked for in this kernel; "
                          "%llm cache prune --yes drops them:"),
                         "  openai:gpt-4o-mini 'Hello from the fake server.'"]
    assert sorted(lines[2:]) == ["  openai:text-embedding-3-small vector of 'beta'",
                                 "  openai:text-embedding-3-small vector of 'gamma'"]
    assert pruned.stdout.startswith("Pruned 1 answers and 2 vectors from c:\n")
    assert nothing.stdout == ("Nothing to prune: every answer and vector in c was asked for "
                              "in this kernel\n")
    assert info.stdout.startswith("1 cached answers (") and " and 1 cached vectors (" in \
        info.stdout
    assert "unreadable: embeddings.jsonl line 4: not JSON" in unreadable.stdout
    assert refused.one_line_error() == (
        "c/embeddings.jsonl line 4: not JSON (Expecting value: line 1 column 1 (char 0)); "
        "fix or delete that line first (nothing was removed)")
    assert kept == vectors + b"not a record\n", "nothing was removed"
    assert on_disk[0] == 1 and on_disk[1].count("\n") == 1 and '"text":"alpha"' in on_disk[1]
    assert cleared.stdout == "Cleared 1 cached answers and 1 cached vectors from c\n"
    assert empty.stdout == ("0 cached answers (0 KiB) and 0 cached vectors (0 KiB) in c "
                            "(mode: use)\n")
    assert fresh.stdout.endswith("(0 of 1 from the cache)\n"), "the cleared vectors are gone"
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"] * 2 + \
        ["/v1/embeddings"] * 2
