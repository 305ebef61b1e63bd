"""1. ``%load_ext`` in a fresh process: ours vs jupyter-ai 2 and jupyter-ai 3.

Each sample is a new ``python`` process that builds an InteractiveShell and then times only
the ``load_ext`` call (bench/workers/load_ext.py). Contenders alternate round by round, after
one untimed warm-up run each (which also writes any missing ``.pyc`` files and warms the OS
file cache, as a user's second notebook would find it).
"""

from __future__ import annotations

import statistics
import sys

from bench import baselines
from bench.common import BENCH, child_env, run_json
from bench.measure import Figure, bar, emit, scaled, summarize

WORKER = str(BENCH / "workers" / "load_ext.py")
#: Fresh processes per contender (ours gets three per round: it is cheap and we want its spread).
ROUNDS = scaled(7)
OURS_PER_ROUND = 3
GOAL_MS = 10.0
GOAL_RATIO = 100.0


def _sample(python: str, extension: str, magic: str) -> float:
    result = run_json([python, WORKER, extension], env=child_env(**baselines.BASELINE_ENV))
    if magic not in result["cell_magics"]:
        raise RuntimeError(f"%load_ext {extension} registered no %%{magic}")
    return result["seconds"]


def main() -> list[Figure]:
    contenders = {"ours": (sys.executable, "memories_magics", "llm", OURS_PER_ROUND)}
    for baseline in baselines.BASELINES:
        if baseline.python.exists():
            contenders[baseline.key] = (str(baseline.python), baseline.extension, "ai", 1)
    samples: dict[str, list[float]] = {key: [] for key in contenders}
    for python, extension, magic, _ in contenders.values():
        _sample(python, extension, magic)  # warm-up
    keys = list(contenders)
    for round_no in range(ROUNDS):
        shift = round_no % len(keys)
        for key in keys[shift:] + keys[:shift]:
            python, extension, magic, repeats = contenders[key]
            for _ in range(repeats):
                samples[key].append(_sample(python, extension, magic))

    ours = summarize(samples["ours"], "ms", 1e3)
    figures = [Figure("load", "%load_ext memories_magics", ours, goal=f"< {GOAL_MS:g} ms",
                      met=ours.median < GOAL_MS,
                      extra={"bars": [bar("memories_magics", ours, True)]})]
    medians = {key: statistics.median(s) for key, s in samples.items() if key != "ours"}
    fastest = min(medians, key=medians.get) if medians else None
    for baseline in baselines.BASELINES:
        if baseline.key not in samples:
            figures.append(Figure("load", f"vs {baseline.label}", ours, note="not available"))
            continue
        theirs = summarize(samples[baseline.key], "ms", 1e3)
        ratio = theirs.median / ours.median
        is_fastest = baseline.key == fastest
        short = baseline.label.split(" (")[0]
        figures.append(Figure(
            "load", f"vs {baseline.label}", ours, short, theirs, ratio, "× faster",
            goal=f"≥ {GOAL_RATIO:g}× faster" if is_fastest else "",
            met=(ratio >= GOAL_RATIO) if is_fastest else None,
            note="the faster baseline" if is_fastest else "",
            extra={"versions": baselines.versions(baseline),
                   "bars": [bar(short, theirs, False)]}))
    return figures


if __name__ == "__main__":
    emit(main())
