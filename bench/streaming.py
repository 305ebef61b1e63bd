"""6. Streaming render: how many chunks a second the display path takes, and how many display
updates it sends for them.

* ``StreamView`` alone (memories_magics.display.stream) with a display function that records
  calls: 20,000 one-token chunks fed as fast as possible.
* The same 20,000 chunks paced at 10,000 a second (2 s), to read the sustained update rate.
* The whole ``%%llm`` path through a real InteractiveShell, from an in-process provider that
  streams 20,000 one-token chunks (engine, StreamView, IPython's display machinery).
* The same over HTTP: the fake server streams 20,000 one-token chunks in the OpenAI format;
  ``%%llm`` vs the raw openai SDK reading the same stream in a cell, alternating.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench.fakeserver import fake_server, provider_env
from bench.measure import Figure, Stats, bar, counts, emit, interleave, scaled, summarize
from bench.shell import ours_shell, run

CHUNKS = 20_000
TOKEN = " tok"
PACED_RATE = 10_000  # chunks/s
RUNS = scaled(5)
GOAL_CHUNKS_PER_S = 2000
GOAL_UPDATES_PER_S = 20


class RecordingDisplay:
    """A display function and handle that only record when they were called."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def display(self, bundle: dict[str, Any], raw: bool = True, display_id: bool = True) -> Any:
        self.times.append(time.monotonic())
        return self

    def update(self, bundle: dict[str, Any], raw: bool = True) -> None:
        self.times.append(time.monotonic())


def peak_per_second(times: list[float]) -> int:
    """The most events in any one-second window."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def _feed(pace: float | None) -> tuple[float, int, list[float]]:
    """Feed CHUNKS chunks into a StreamView; returns (seconds, updates, update times)."""
    from memories_magics.display.stream import StreamView

    recorder = RecordingDisplay()
    view = StreamView("bench", display=recorder.display)
    started = time.perf_counter()
    for i in range(CHUNKS):
        if pace is not None:
            due = started + i / pace
            while time.perf_counter() < due:  # busy-wait: sleep() is far too coarse
                pass
        view.feed(TOKEN)
    seconds = time.perf_counter() - started
    view.show_final(view.bundle())  # the live view becomes the result in place
    return seconds, view.updates, recorder.times


def _provider_class() -> type:
    from memories_magics.providers.base import Provider
    from memories_magics.types import Chunk, Request, Response, Usage

    class FastProvider(Provider):
        """Streams CHUNKS one-token chunks at once, from memory."""

        name = "benchfast"
        key_env = None

        def stream(self, request: Request) -> Iterator[Chunk]:
            for _ in range(CHUNKS):
                yield Chunk(text=TOKEN)
            yield Chunk(finish_reason="stop", usage=Usage(1, CHUNKS))

        def complete(self, request: Request) -> Response:
            return Response.from_chunks(list(self.stream(request)), request, latency_s=None,
                                        first_token_s=None)

    return FastProvider


def _updates(shell: Any) -> int:
    return sum(kind in ("display", "update") for _, kind, _ in shell.outputs.events)


def _whole_path(shell: Any) -> tuple[list[float], list[int]]:
    from memories_magics.providers import register_provider

    register_provider("benchfast", _provider_class())
    seconds, updates = [], []
    for _ in range(RUNS + 1):
        shell.outputs.clear()
        started = time.perf_counter()
        run(shell, "%%llm benchfast:fast --cache off -o _bench_result\nGo.")
        seconds.append(time.perf_counter() - started)
        updates.append(_updates(shell))
        if len(shell.user_ns["_bench_result"].text) != CHUNKS * len(TOKEN):
            raise RuntimeError("the streamed answer is incomplete")
    return seconds[1:], updates[1:]


RAW_CELL = f"""\
_n = 0
with _oa.chat.completions.create(model="gpt-4o-mini",
                                 messages=[{{"role": "user", "content": "Go."}}],
                                 temperature=0.7, top_p=1.0, max_tokens=256, stream=True,
                                 stream_options={{"include_usage": True}}) as _events:
    for _event in _events:
        if _event.choices and _event.choices[0].delta.content:
            _n += 1
assert _n == {CHUNKS}, _n
"""


def _over_http(shell: Any) -> tuple[dict[str, list[float]], list[int]]:
    import openai

    shell.user_ns["_oa"] = openai.OpenAI()
    updates: list[int] = []

    def ours() -> None:
        shell.outputs.clear()
        run(shell, "%%llm gpt-4o-mini --cache off -o _bench_result\nGo.")
        updates.append(_updates(shell))
        if shell.user_ns["_bench_result"].text != TOKEN * CHUNKS:
            raise RuntimeError("the streamed answer is incomplete")

    def raw() -> None:
        shell.outputs.clear()
        run(shell, RAW_CELL)

    samples = interleave({"ours": ours, "raw": raw}, RUNS, warmup=1)
    return samples, updates[1:]


def main() -> list[Figure]:
    fast = [_feed(None) for _ in range(RUNS)]
    rate = summarize([CHUNKS / s for s, _, _ in fast], "chunks/s")
    paced_seconds, paced_updates, paced_times = _feed(PACED_RATE)
    sustained = paced_updates / paced_seconds
    peak = peak_per_second(paced_times)
    with tempfile.TemporaryDirectory() as tmp, \
            fake_server(chunks=[TOKEN] * CHUNKS) as url:
        shell = ours_shell(**provider_env(url), MEMORIES_MAGICS_CACHE_DIR=tmp)
        whole_seconds, whole_updates = _whole_path(shell)
        http, http_updates = _over_http(shell)
    whole = summarize([CHUNKS / s for s in whole_seconds], "chunks/s")
    ours_http = summarize([CHUNKS / s for s in http["ours"]], "chunks/s")
    raw_http = summarize([CHUNKS / s for s in http["raw"]], "chunks/s")
    http_rate = summarize([u / s for u, s in zip(http_updates, http["ours"], strict=True)],
                          "updates/s")
    updates = Stats(sustained, sustained, sustained, 1, "updates/s")
    return [
        Figure("stream", f"StreamView: {CHUNKS:,} one-token chunks, unpaced", rate,
               goal=f"≥ {GOAL_CHUNKS_PER_S:,} chunks/s", met=rate.p10 >= GOAL_CHUNKS_PER_S,
               note=f"display updates per run: {counts([u for _, u, _ in fast])}"),
        Figure("stream", f"StreamView at {PACED_RATE:,} chunks/s for {CHUNKS / PACED_RATE:g} s",
               updates, goal=f"≤ {GOAL_UPDATES_PER_S} updates/s",
               met=peak <= GOAL_UPDATES_PER_S + 1,
               note=f"{paced_updates} updates; at most {peak} in any 1-s window"),
        Figure("stream", f"%%llm whole path: {CHUNKS:,} chunks from an in-process provider",
               whole, goal=f"≥ {GOAL_CHUNKS_PER_S:,} chunks/s", met=whole.p10 >= GOAL_CHUNKS_PER_S,
               note=(f"display updates per run: {counts(whole_updates)} (the whole stream "
                     f"takes {summarize(whole_seconds, 'ms', 1e3)})")),
        Figure("stream", f"%%llm over HTTP: {CHUNKS:,} chunks, OpenAI format", ours_http,
               "raw openai SDK reading the same stream", raw_http,
               ours_http.median / raw_http.median, "ours/raw",
               goal=f"≥ {GOAL_CHUNKS_PER_S:,} chunks/s, ≤ {GOAL_UPDATES_PER_S} updates/s",
               met=(ours_http.p10 >= GOAL_CHUNKS_PER_S
                    and http_rate.median <= GOAL_UPDATES_PER_S + 1),
               note=f"display updates: {http_rate}",
               extra={"bars": [bar("%%llm", ours_http, True),
                               bar("raw openai SDK", raw_http, False)]}),
    ]


if __name__ == "__main__":
    emit(main())
