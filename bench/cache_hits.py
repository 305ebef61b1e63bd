"""3. The response cache: ``%%llm`` answered from a warm cache, and its size on disk.

The record (``records.jsonl``): opening one of 10,000 answers, against ``json.loads`` of its
lines alone; recording one answer into a record of 10,000 against one of 10 (an append, so
the ratio stays near 1); and what the GGUF digest in a local request costs per call once the
file is hashed (``Engine.request`` for the local model against a hosted one).

The hit is timed through a real InteractiveShell, alternating with the same cell with
``--cache off`` against the instant local fake server (the cheapest possible real call).
The size is what 1,000 distinct answers of about 1 KB occupy in the record once compacted.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.fakeserver import ANSWER, fake_server, provider_env
from bench.measure import Figure, Stats, bar, emit, interleave, scaled, summarize, timed
from bench.shell import ours_shell, run

PROMPT = "Say something about caches."
ROUNDS = scaled(300)
WARMUP = scaled(30)
ENTRIES = 1000
#: About a paragraph: what a typical short answer weighs.
LONG_ANSWER = " ".join([ANSWER] * 7)
GOAL_HIT_MS = 2.0


def _disk_usage(directory: Path) -> tuple[int, int]:
    """(bytes allocated on disk, apparent bytes) of every file under ``directory``."""
    allocated = apparent = 0
    for path in directory.rglob("*"):
        if path.is_file():
            info = path.stat()
            allocated += info.st_blocks * 512
            apparent += info.st_size
    return allocated, apparent


def _hit_latency(shell, url: str) -> Figure:
    hit_cell = f"%%llm gpt-4o-mini\n{PROMPT}"
    call_cell = f"%%llm gpt-4o-mini --cache off\n{PROMPT}"
    run(shell, hit_cell)  # fills the cache
    shell.outputs.clear()
    run(shell, hit_cell)
    result = (shell.outputs.last_result() or {}).get("application/vnd.memories-magics.result+json")
    if not result or not result.get("cached"):
        raise RuntimeError(f"the second run was not a cache hit: {result!r:.300}")

    def timer(cell: str):
        def call() -> None:
            shell.outputs.clear()
            run(shell, cell)
        return call

    samples = interleave({"hit": timer(hit_cell), "call": timer(call_cell)}, ROUNDS, WARMUP)
    hit, call = summarize(samples["hit"], "ms", 1e3), summarize(samples["call"], "ms", 1e3)
    return Figure("cache", "%%llm cache hit (warm cache, through the shell)", hit,
                  "same cell, --cache off (instant local server)", call,
                  call.median / hit.median, "× faster", goal=f"p50 ≤ {GOAL_HIT_MS:g} ms",
                  met=hit.median <= GOAL_HIT_MS,
                  extra={"bars": [bar("%%llm, cache hit", hit, True),
                                  bar("%%llm --cache off", call, False)]})


def _size(url: str, directory: Path) -> Figure:
    from memories_magics import LoadModel
    from memories_magics.cache import ResponseCache
    from memories_magics.config import Config
    from memories_magics.engine import Engine

    engine = Engine(Config.load())
    engine.set_cache_dir(directory)
    model = LoadModel("openai", "api", "gpt-4o-mini", cache="use", engine=engine)
    text_bytes = 0
    for i in range(ENTRIES):
        text_bytes += len(model.get_response(f"{PROMPT} (question {i})")["text"].encode())
    entries = engine.cache().info()["entries"]
    engine.cache().close()
    allocated, apparent = _disk_usage(directory)
    if entries != ENTRIES:
        raise RuntimeError(f"expected {ENTRIES} cache entries, found {entries}")
    ResponseCache(directory).close()
    per_1000 = allocated / entries * 1000 / 1024
    answers = text_bytes / entries * 1000 / 1024
    return Figure("cache", "cache size on disk per 1,000 answers (~1 KB each)",
                  Stats(per_1000, per_1000, per_1000, 1, "KiB"),
                  "the answers' text alone", Stats(answers, answers, answers, 1, "KiB"),
                  per_1000 / answers, "× the text",
                  note=(f"{allocated / entries:.0f} B per entry on disk "
                        f"({apparent / entries:.0f} B apparent); one run"))


RECORD_SIZE = 10_000
GOAL_OPEN_MS = 200.0


def _fill(directory: Path, count: int) -> None:
    from memories_magics.cache import ResponseCache
    from memories_magics.types import Request, Response, Usage

    cache = ResponseCache(directory)
    for i in range(count):
        cache.put(Request.from_prompt("openai", "gpt-4o-mini", f"{PROMPT} (question {i})"),
                  Response(LONG_ANSWER, "gpt-4o-mini", "openai", "stop", Usage(12, 90),
                           latency_s=0.5, provenance={"sdk": "openai 3.57.0"}))
    cache.compact()


def _record_figures(directory: Path) -> list[Figure]:
    import json

    import memories_magics.cache as cache_module
    from memories_magics.cache import ResponseCache
    from memories_magics.types import Request, Response

    cache_module.COMPACT_AFTER_S = 3600.0  # compaction is off the caller's thread: not timed
    big, small = directory / "big", directory / "small"
    _fill(big, RECORD_SIZE)
    _fill(small, 10)
    path = big / "records.jsonl"

    def open_record() -> None:
        ResponseCache(big).info()

    def parse_lines() -> None:
        for line in path.read_bytes().splitlines():
            json.loads(line)

    rounds = scaled(15)
    samples = interleave({"open": open_record, "raw": parse_lines}, rounds, 2)
    opened, raw = summarize(samples["open"], "ms", 1e3), summarize(samples["raw"], "ms", 1e3)
    counter = iter(range(10**9))

    def recorder(folder: Path):
        cache = ResponseCache(folder)

        def record() -> None:
            request = Request.from_prompt("openai", "gpt-4o-mini", f"new {next(counter)}")
            cache.put(request, Response(LONG_ANSWER, "gpt-4o-mini", "openai", "stop"))
        return record

    writes = interleave({"big": recorder(big), "small": recorder(small)}, scaled(200), 10)
    in_big, in_small = summarize(writes["big"], "ms", 1e3), summarize(writes["small"], "ms", 1e3)
    return [
        Figure("cache", f"open a record of {RECORD_SIZE:,} answers (index every line)", opened,
               "json.loads of its lines alone", raw, opened.median / raw.median, "ours/raw",
               goal=f"≤ {GOAL_OPEN_MS:g} ms", met=opened.median <= GOAL_OPEN_MS,
               note=f"{path.stat().st_size / 2**20:.1f} MiB file"),
        Figure("cache", f"record one answer into a record of {RECORD_SIZE:,}", in_big,
               "the same into a record of 10", in_small, in_big.median / in_small.median,
               "big/small", goal="does not grow with the record (ratio ≈ 1)",
               met=in_big.median / in_small.median < 1.5),
    ]


def _digest_figure() -> Figure:
    from memories_magics.config import Config
    from memories_magics.engine import Engine
    from memories_magics.providers import local_runtime as local

    engine = Engine(Config.load())
    spec, hosted = engine.model("smollm2"), engine.model("gpt-4o-mini")
    first = timed(lambda: local.gguf_sha256(spec))
    samples = interleave({"local": lambda: engine.request(spec, PROMPT),
                          "hosted": lambda: engine.request(hosted, PROMPT)}, ROUNDS, WARMUP)
    ours, base = summarize(samples["local"], "µs", 1e6), summarize(samples["hosted"], "µs", 1e6)
    return Figure("cache", "build a local request (GGUF sha256 in the key, file hashed once)",
                  ours, "build a hosted request (no digest)", base, ours.median / base.median,
                  "local/hosted", note=f"hashing the 94 MiB GGUF once took {first:.2f} s")


def main() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        with fake_server(text=ANSWER) as url:
            shell = ours_shell(**provider_env(url),
                               MEMORIES_MAGICS_CACHE_DIR=os.path.join(tmp, "hits"))
            figures = [_hit_latency(shell, url)]
        with fake_server(text=LONG_ANSWER) as url:
            os.environ.update(provider_env(url))
            figures.append(_size(url, Path(tmp) / "size"))
        figures += _record_figures(Path(tmp) / "records")
    figures.append(_digest_figure())
    return figures


if __name__ == "__main__":
    emit(main())
