"""5. ``%%compare`` of three slow models vs one ``%%llm`` and vs asking them one by one.

The fake server streams every answer in 11 pieces 50 ms apart (0.5–0.6 s a call). The three
models are OpenAI and Anthropic ids, all pointed at that server. Measured through a real
InteractiveShell, alternating; prints "not available" if ``%%compare`` is not registered.
"""

from __future__ import annotations

import tempfile

from bench.fakeserver import fake_server, provider_env
from bench.measure import Figure, bar, emit, interleave, scaled, summarize
from bench.shell import has_cell_magic, ours_shell, run

PROMPT = "Compare these answers."
SLOW_ANSWER = "Each of the three models takes about half a second to answer this."  # 11 pieces
CHUNK_DELAY_S = 0.05
MODELS = ("gpt-4o-mini", "claude-haiku", "gpt-4o")
ROUNDS = scaled(7)
GOAL_RATIO = 1.15


def main() -> list[Figure]:
    name = "%%compare of 3 slow models vs one %%llm"
    with tempfile.TemporaryDirectory() as tmp, \
            fake_server(text=SLOW_ANSWER, chunk_delay=CHUNK_DELAY_S) as url:
        shell = ours_shell(**provider_env(url), MEMORIES_MAGICS_CACHE_DIR=tmp)
        if not has_cell_magic(shell, "compare"):
            return [Figure("compare", name, None, note="not available (%%compare not registered)")]
        compare_cell = f"%%compare {' '.join(MODELS)} --cache off\n{PROMPT}"
        single_cells = [f"%%llm {model} --cache off\n{PROMPT}" for model in MODELS]

        def cells(*sources: str):
            def call() -> None:
                for source in sources:
                    shell.outputs.clear()
                    run(shell, source)
            return call

        cells(compare_cell)()
        bundle = shell.outputs.last_result() or {}
        if SLOW_ANSWER not in str(bundle):
            raise RuntimeError(f"%%compare did not show the answers: {str(bundle)[:300]}")
        samples = interleave({"compare": cells(compare_cell), "single": cells(single_cells[0]),
                              "sequential": cells(*single_cells)}, ROUNDS, warmup=1)
    compare, single, sequential = (summarize(samples[k], "ms", 1e3)
                                   for k in ("compare", "single", "sequential"))
    ratio = compare.median / single.median
    return [
        Figure("compare", name, compare, "one %%llm", single, ratio, "× one call",
               goal=f"≤ {GOAL_RATIO:g}×", met=ratio <= GOAL_RATIO,
               extra={"bars": [bar("%%compare, 3 models", compare, True),
                               bar("one %%llm", single, False),
                               bar("3 × %%llm in a row", sequential, False)]}),
        Figure("compare", "%%compare of 3 models vs three %%llm cells in a row", compare,
               "3 × %%llm, one after another", sequential, sequential.median / compare.median,
               "× faster"),
    ]


if __name__ == "__main__":
    emit(main())
