"""8. Prompts over data: rows per second through the row runner (``LoadModel.map``, the
same runner as ``%%llm --over``) against the fake server with a fixed latency per request.

- 100 rows at ``--concurrency 8`` vs the same rows at ``--concurrency 1`` (ratio; the ideal is 8);
- 100 rows at concurrency 8 vs a plain Python loop of openai SDK calls (what a user writes);
- 200 rows at 300 ms and concurrency 16 vs the ideal 200 × 0.3 / 16 s (goal ≤ 1.3×);
- a fully cached re-run of 10,000 rows (goal < 1 s);
- peak memory (tracemalloc) per row of 10,000 new rows vs 1,000 (flat: goal ≤ 1.1×).

The server runs in its own process (``bench/fakeserver.py``) and sleeps ``delay`` seconds
before each answer, so each figure is latency-bound as a real provider's would be.
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from bench.fakeserver import fake_server, provider_env
from bench.measure import Figure, Stats, emit, scaled, summarize

LATENCY_S = 0.1
ROWS = 100
BIG_LATENCY_S = 0.3
BIG_ROWS = 200
BIG_CONCURRENCY = 16
CACHED_ROWS = 10_000
MEMORY_ROWS = (1_000, 10_000)
RUNS = scaled(5)


def _model(cache: str, directory: str):  # type: ignore[no-untyped-def]
    from memories_magics import LoadModel
    from memories_magics.config import Config
    from memories_magics.engine import Engine

    engine = Engine(Config.load())
    engine.set_cache_dir(directory)
    return LoadModel("openai", "api", "gpt-4o-mini", cache=cache, engine=engine)


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _rows_per_s(samples: list[float], rows: int) -> Stats:
    return summarize([rows / s for s in samples], "rows/s")


def _concurrency(directory: str) -> list[Figure]:
    model = _model("off", directory)
    items = [f"question {i}" for i in range(ROWS)]

    def mapped(width: int) -> Callable[[], object]:
        def call() -> None:
            frame = model.map("Answer {item}", items, concurrency=width, progress=False)
            if not (frame["status"] == "done").all():
                raise RuntimeError(f"rows failed: {frame['error'].dropna().iloc[0]}")
        return call

    import openai

    client = openai.OpenAI()

    def loop() -> None:
        for item in items:
            client.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "user", "content": f"Answer {item}"}])

    mapped(8)()  # warm: SDK import, client, connections
    eight = _rows_per_s(_timed(mapped(8), RUNS), ROWS)
    one = _rows_per_s(_timed(mapped(1), max(3, RUNS // 2)), ROWS)
    raw = _rows_per_s(_timed(loop, max(3, RUNS // 2)), ROWS)
    return [
        Figure("over", f"{ROWS} rows at --concurrency 8 ({LATENCY_S * 1000:.0f} ms per answer)",
               eight, "same rows at --concurrency 1", one, eight.median / one.median,
               "× the rows/s", goal="≥ 6× (ideal 8×)", met=eight.median / one.median >= 6),
        Figure("over", f"{ROWS} rows at --concurrency 8", eight,
               "a plain loop of openai SDK calls", raw, eight.median / raw.median,
               "× the rows/s", note="the loop is what a user would write without --over"),
    ]


def _big(directory: str) -> Figure:
    model = _model("off", directory)
    items = [f"question {i}" for i in range(BIG_ROWS)]
    ideal = BIG_ROWS * BIG_LATENCY_S / BIG_CONCURRENCY
    samples = _timed(lambda: model.map("Answer {item}", items, concurrency=BIG_CONCURRENCY,
                                       progress=False), max(3, RUNS // 2))
    took = summarize(samples, "s")
    return Figure("over", f"{BIG_ROWS} rows at --concurrency {BIG_CONCURRENCY}, "
                  f"{BIG_LATENCY_S * 1000:.0f} ms per answer", took,
                  f"ideal {BIG_ROWS} × {BIG_LATENCY_S} / {BIG_CONCURRENCY} s",
                  Stats(ideal, ideal, ideal, 1, "s"), took.median / ideal, "× the ideal",
                  goal="≤ 1.3× the ideal", met=took.median <= 1.3 * ideal)


def _cached(directory: str) -> Figure:
    model = _model("use", directory)
    items = [f"question {i}" for i in range(CACHED_ROWS)]
    model.map("Answer {item}", items, concurrency=16, progress=False)  # fills the cache
    samples = _timed(lambda: model.map("Answer {item}", items, progress=False), 3)
    took = summarize(samples, "s")
    return Figure("over", f"fully cached re-run of {CACHED_ROWS:,} rows", took,
                  goal="< 1 s", met=took.median < 1.0,
                  note="every row read from the cache; no request")


def _peak_per_row(model: Any, rows: int) -> float:
    """tracemalloc's peak during a run of ``rows`` new rows (every one asked, streamed and
    recorded), in KB per row."""
    items = [f"memory question {rows} {i}" for i in range(rows)]
    tracemalloc.start()
    try:
        model.map("Answer {item}", items, concurrency=16, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / rows / 1e3


def _memory(directory: str) -> Figure:
    """Memory flat in the row count: the peak per row at 10,000 rows vs at 1,000 (a run
    that kept every stream's chunks, or anything per row beyond its answer, would grow).
    Each run has a cache folder of its own (one holding earlier runs' records would load
    their index into this run's peak), after a warm run (imports, the SDK client)."""
    def fresh(name: str) -> Any:
        return _model("use", os.path.join(directory, name))

    _peak_per_row(fresh("warm"), 100)
    small = [_peak_per_row(fresh(f"small{n}"), MEMORY_ROWS[0]) for n in range(2)]
    large = [_peak_per_row(fresh("large"), MEMORY_ROWS[1])]
    ours, base = summarize(large, "KB/row"), summarize(small, "KB/row")
    return Figure("over", f"peak memory per row, {MEMORY_ROWS[1]:,} new rows (tracemalloc)",
                  ours, f"{MEMORY_ROWS[0]:,} new rows", base, ours.median / base.median,
                  "× per row", goal="≤ 1.1× (flat)", met=ours.median <= 1.1 * base.median,
                  note="the result (a DataFrame of every answer) is part of the peak")


def main() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        with fake_server(delay=LATENCY_S) as url:
            os.environ.update(provider_env(url))
            figures = _concurrency(os.path.join(tmp, "a"))
        with fake_server(delay=BIG_LATENCY_S) as url:
            os.environ.update(provider_env(url))
            figures.append(_big(os.path.join(tmp, "b")))
        with fake_server() as url:
            os.environ.update(provider_env(url))
            figures.append(_cached(os.path.join(tmp, "c")))
            figures.append(_memory(os.path.join(tmp, "d")))
    return figures


if __name__ == "__main__":
    emit(main())
