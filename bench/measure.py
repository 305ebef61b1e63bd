"""Statistics and timing helpers shared by every measurement (standard library only, so the
workers that run inside the baselines' virtual environments can import it too).

A figure is a median with its spread (p10–p90) over repeated runs, never a single run::

    samples = interleave({"ours": ours, "raw": raw}, runs=200, warmup=20)
    overhead = paired_differences(samples["ours"], samples["raw"])   # ours - raw, per round
    Figure("overhead", "OpenAI streaming", "ms", ours=summarize(...), ...)
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: Printed before the JSON result on a worker's stdout, so stray output above it is ignored.
RESULT_MARKER = "@@BENCH-RESULT@@"


@dataclass
class Stats:
    """Median and p10–p90 spread of ``n`` samples, in ``unit``."""

    median: float
    p10: float
    p90: float
    n: int
    unit: str

    def __str__(self) -> str:
        return f"{fmt(self.median)} [{fmt(self.p10)}–{fmt(self.p90)}] {self.unit}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stats:
        return cls(**data)


def scaled(runs: int) -> int:
    """``runs``, or a tenth of it (at least 3) when ``BENCH_QUICK=1`` (``run.py --quick``: a
    smoke run that checks the benchmarks work, not a measurement)."""
    return max(3, runs // 10) if os.environ.get("BENCH_QUICK") == "1" else runs


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no samples")
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(samples: Sequence[float], unit: str, scale: float = 1.0) -> Stats:
    """Median and p10–p90 of ``samples`` multiplied by ``scale`` (e.g. 1e3 for s -> ms)."""
    values = [s * scale for s in samples]
    return Stats(statistics.median(values), percentile(values, 10), percentile(values, 90),
                 len(values), unit)


def paired_differences(ours: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """``ours[i] - baseline[i]``: samples taken in the same round, so slow phases of the machine
    hit both sides alike."""
    return [a - b for a, b in zip(ours, baseline, strict=True)]


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes (``perf_counter``)."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def interleave(contenders: dict[str, Callable[[], Any]], runs: int, warmup: int = 0,
               timer: Callable[[Callable[[], Any]], float] = timed) -> dict[str, list[float]]:
    """Time each contender ``runs`` times, alternating between them round by round (the order
    rotates each round), after ``warmup`` untimed rounds. Returns seconds per contender."""
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(warmup + runs):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = timer(contenders[name])
            if round_no >= warmup:
                samples[name].append(seconds)
    return samples


def counts(values: Sequence[float]) -> str:
    """A few counts in words: "1" when they are all equal, else "median 3 (2–5)"."""
    low, high = min(values), max(values)
    if low == high:
        return f"{low:g}"
    return f"median {statistics.median(values):g} ({low:g}–{high:g})"


def fmt(value: float | None) -> str:
    """A number with about three significant digits (no scientific notation)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


@dataclass
class Figure:
    """One line of the results table.

    ``ours`` is our figure; ``baseline`` the alternative's, measured in the same process or
    run; ``ratio`` compares them as ``ratio_label`` says (e.g. "× faster" or "ours/raw").
    ``goal`` is the target in words and ``met`` whether it holds (None: no goal, or not
    measurable here). ``note`` carries what a reader needs to read the figure right.
    """

    group: str
    name: str
    ours: Stats | None
    baseline_name: str = ""
    baseline: Stats | None = None
    ratio: float | None = None
    ratio_label: str = ""
    goal: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        data = dict(data)
        for key in ("ours", "baseline"):
            if data.get(key) is not None:
                data[key] = Stats.from_dict(data[key])
        return cls(**data)


def bar(label: str, stats: Stats, ours: bool) -> dict[str, Any]:
    """One bar of the group's panel in bench/plot.png (put in ``Figure.extra["bars"]``)."""
    return {"label": label, "stats": asdict(stats), "ours": ours}


def emit(payload: Any) -> None:
    """Print ``payload`` as the worker's result (JSON after :data:`RESULT_MARKER`)."""
    if isinstance(payload, list) and payload and isinstance(payload[0], Figure):
        payload = [f.to_dict() for f in payload]
    sys.stdout.write("\n" + RESULT_MARKER + json.dumps(payload) + "\n")
    sys.stdout.flush()


def parse_emitted(stdout: str) -> Any:
    """The payload a worker printed with :func:`emit`."""
    _, marker, tail = stdout.rpartition(RESULT_MARKER)
    if not marker:
        raise ValueError("the worker printed no result")
    return json.loads(tail.strip().splitlines()[0])
