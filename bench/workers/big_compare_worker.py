"""One side of the big-comparison benchmark, in its own process so that the parent can stop a
run that takes too long: ``python -m bench.workers.big_compare_worker``.

Two in-process models (``benchbig:a`` and ``benchbig:b``) stream two different answers of
about BYTES each (default ``ANSWER_BYTES``, 100 KB) in 4-character pieces, about a real
model's tokens; ``b`` is ``a`` with about one word in eight changed, dropped or added, so the
word diff has real work to do; words are drawn Zipf-distributed, as in prose (a few words are
very common, which is what makes naive sequence matching quadratic). Each stdin line ``fresh``
runs ``%%compare benchbig:a benchbig:b --cache refresh`` (the models answer, the answers are
written to the cache), ``cached`` the same cell with ``--cache use`` (both answers from the
cache); each prints one JSON line:

- ``total_s``: the whole cell, from run_cell to the cell's output formatted by the display
  hook (as a kernel formats it);
- ``streaming_s``: from the start until the slower model's last piece arrived (0 cached);
- ``after_s``: ``total_s - streaming_s``, the work after the answers arrived: diffs,
  aggregate, render, the cell's output;
- ``output_bytes``: the size of the result's MIME bundle (every part, as JSON).

Before that, when a model's last piece has been yielded, a line ``streamed SECONDS`` (since
the cell started), so that a run stopped for taking too long still tells its streaming time.

Prints ``ready`` once the shell is up and has run one small comparison (imports, first
renders); end of input exits.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

ANSWER_BYTES = 100_000
PIECE_CHARS = 4
#: The perf_counter time each model's last piece was yielded, by model name.
last_piece: dict[str, float] = {}
#: When the cell being measured started (perf_counter).
cell_started = 0.0


def answers(size: int = ANSWER_BYTES, seed: int = 15) -> dict[str, str]:
    """Two different texts of about ``size`` characters: ``a``, and ``b`` made from it by
    changing, dropping or adding about one word in eight (seeded, the same every run)."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                          for _ in range(rng.randint(2, 9))) for _ in range(2_000)]
    weights = [1 / rank for rank in range(1, len(vocabulary) + 1)]  # Zipf, as in prose

    def word() -> str:
        return rng.choices(vocabulary, weights)[0]

    words: list[str] = []
    length = 0
    while length < size:
        words.append(word() + ("." if rng.random() < 0.08 else ""))
        length += len(words[-1]) + 1
    changed: list[str] = []
    for kept in words:
        roll = rng.random()
        if roll < 0.04:
            continue  # dropped
        changed.append(word() if roll < 0.09 else kept)
        if roll > 0.96:
            changed.append(word())  # added
    return {"a": " ".join(words), "b": " ".join(changed)}


def _provider_class(texts: dict[str, str]) -> type:
    from memories_magics.providers.base import Provider
    from memories_magics.types import Chunk, Request, Response, Usage

    class BigProvider(Provider):
        """Streams ``texts[model]`` in PIECE_CHARS-character pieces, unpaced, from memory."""

        name = "benchbig"
        key_env = None

        def stream(self, request: Request) -> Iterator[Chunk]:
            text = texts[request.model]
            for start in range(0, len(text), PIECE_CHARS):
                yield Chunk(text=text[start:start + PIECE_CHARS])
            last_piece[request.model] = time.perf_counter()
            print(f"streamed {last_piece[request.model] - cell_started}", flush=True)
            yield Chunk(finish_reason="stop", usage=Usage(10, len(text) // PIECE_CHARS))

        def complete(self, request: Request) -> Response:
            return Response.from_chunks(list(self.stream(request)), request, latency_s=None,
                                        first_token_s=None)

    return BigProvider


def measure(shell: Any, cache: str, texts: dict[str, str], pair: str = "a b"
            ) -> dict[str, Any]:
    """Run the comparison of ``pair`` once with ``--cache cache``; the figures above."""
    from bench.shell import run

    global cell_started
    models = " ".join(f"benchbig:{name}" for name in pair.split())
    shell.outputs.clear()
    last_piece.clear()
    started = cell_started = time.perf_counter()
    run(shell, f"%%compare {models} --cache {cache}\nWrite 100 KB.")
    total = time.perf_counter() - started
    bundle = shell.outputs.last_result() or {}
    shown = json.dumps(bundle, ensure_ascii=False)
    if not all(texts[name][:100] in shown for name in pair.split()):
        raise RuntimeError("the comparison's output does not show both answers")
    streaming = max(last_piece.values()) - started if last_piece else 0.0
    if cache == "use" and last_piece:
        raise RuntimeError("the cached run called the models")
    return {"total_s": total, "streaming_s": streaming, "after_s": total - streaming,
            "output_bytes": len(shown.encode("utf-8"))}


def main() -> None:
    from bench.shell import ours_shell
    from memories_magics.providers import register_provider

    texts = answers(int(sys.argv[1]) if len(sys.argv) > 1 else ANSWER_BYTES)
    small = answers(1_000)
    texts.update({"warm-a": small["a"], "warm-b": small["b"]})
    register_provider("benchbig", _provider_class(texts))
    shell = ours_shell(MEMORIES_MAGICS_CACHE_DIR=tempfile.mkdtemp())
    measure(shell, "refresh", texts, "warm-a warm-b")
    last_piece.clear()
    print("ready", flush=True)
    for line in sys.stdin:
        mode = line.strip()
        result = measure(shell, "refresh" if mode == "fresh" else "use", texts)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
