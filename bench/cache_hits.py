"""3. The response cache: ``%%llm`` answered from a warm cache, and its size on disk.

The hit is timed through a real InteractiveShell, alternating with the same cell with
``--cache off`` against the instant local fake server (the cheapest possible real call).
The size is what 1,000 distinct answers of about 1 KB occupy in the cache directory after
the kernel closes it (SQLite database, WAL and any value files).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.fakeserver import ANSWER, fake_server, provider_env
from bench.measure import Figure, Stats, bar, emit, interleave, scaled, summarize
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


def main() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        with fake_server(text=ANSWER) as url:
            shell = ours_shell(**provider_env(url),
                               MEMORIES_MAGICS_CACHE_DIR=os.path.join(tmp, "hits"))
            figures = [_hit_latency(shell, url)]
        with fake_server(text=LONG_ANSWER) as url:
            os.environ.update(provider_env(url))
            figures.append(_size(url, Path(tmp) / "size"))
    return figures


if __name__ == "__main__":
    emit(main())
