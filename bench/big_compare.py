"""7. ``%%compare`` of two 100 KB answers: the work after the answers have arrived.

Two in-process models stream two different ~100 KB answers (bench/workers/big_compare_worker.py
says how they differ); the figure is the time from the slower model's last piece to the
cell's output formatted (diffs, aggregate, render, the output's MIME bundle), fresh (the
models answer, ``--cache refresh``) and cached (``--cache use``: everything comes from the
cache), with the streaming time reported apart. The worker runs in its own process so that a
run still busy after ``TIMEOUT_S`` (``BENCH_BIG_COMPARE_TIMEOUT_S``) is stopped and reported
as such instead of holding up the bench. Nothing here is paced: the answers arrive as fast as
``%%compare``'s live view takes them.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Any

from bench.common import ROOT, child_env
from bench.measure import Figure, emit, fmt, scaled, summarize
from bench.workers.big_compare_worker import ANSWER_BYTES

ROUNDS = scaled(3)
TIMEOUT_S = float(os.environ.get("BENCH_BIG_COMPARE_TIMEOUT_S", "60"))
GOAL_S = 1.0
SIZE = f"{ANSWER_BYTES // 1000} KB"


class TimedOut(Exception):
    """A run was still busy after TIMEOUT_S."""


class Worker:
    """A big_compare_worker child process whose every run has a deadline; ``streamed`` holds
    the last run's ``streamed SECONDS`` reports (one per model)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.workers.big_compare_worker"], cwd=ROOT,
            env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.streamed: list[float] = []
        threading.Thread(target=self._read, daemon=True).start()
        if self._answer() != "ready":
            raise RuntimeError("the big_compare worker did not start")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("")

    def _answer(self) -> str:
        """The next line that is not a ``streamed`` report, within TIMEOUT_S."""
        self.streamed = []
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimedOut from None
            if not line:
                raise RuntimeError("the big_compare worker died; run it by hand to see why")
            if not line.startswith("streamed "):
                return line
            self.streamed.append(float(line.split()[1]))

    def ask(self, mode: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(mode + "\n")
        self.process.stdin.flush()
        return dict(json.loads(self._answer()))

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def _runs() -> tuple[dict[str, list[dict[str, Any]]], str | None, list[float]]:
    """Alternate fresh and cached runs; stop at the first run that times out. Returns the
    runs, the mode that timed out (if one did) and the streaming times of every fresh run,
    a stopped one included."""
    runs: dict[str, list[dict[str, Any]]] = {"fresh": [], "cached": []}
    streamed: list[float] = []
    worker = Worker()
    try:
        for _ in range(ROUNDS):
            for mode in runs:
                try:
                    runs[mode].append(worker.ask(mode))
                except TimedOut:
                    timed_out: str | None = mode
                else:
                    timed_out = None
                if mode == "fresh":  # nan: stopped before the last piece
                    streamed.append(max(worker.streamed, default=float("nan")))
                if timed_out:
                    return runs, timed_out, streamed
    finally:
        worker.close()
    return runs, None, streamed


def main() -> list[Figure]:
    runs, timed_out, streamed = _runs()
    figures = []
    busy = f"still busy after {TIMEOUT_S:g} s (the timeout per run; BENCH_BIG_COMPARE_TIMEOUT_S)"
    for mode, how in (("fresh", "fresh (the models answer)"), ("cached", "cached")):
        name = f"%%compare of two {SIZE} answers, {how}: work after they arrived"
        sample = runs[mode]
        if not sample:
            note = (busy if mode == timed_out
                    else "not measured: the fresh run before it was " + busy)
            figures.append(Figure("bigcompare", name, None, goal=f"≤ {GOAL_S:g} s", met=False,
                                  note=note))
            continue
        after = summarize([r["after_s"] for r in sample], "s")
        size = summarize([r["output_bytes"] for r in sample], "KB", 1e-3)
        note = f"the cell's output: {fmt(size.median)} KB"
        if mode == timed_out:
            note += f"; a later run was {busy}"
        figures.append(Figure("bigcompare", name, after, goal=f"≤ {GOAL_S:g} s",
                              met=after.median <= GOAL_S and mode != timed_out, note=note))
    known = [s for s in streamed if s == s]  # a stopped run may not have streamed to the end
    figures.append(Figure(
        "bigcompare", f"%%compare of two {SIZE} answers: streaming until the last piece",
        summarize(known, "s") if known else None,
        note="in-process models, unpaced: the live columns' own cost"
             + ("" if known else f"; {busy} before the answers had arrived")))
    return figures


if __name__ == "__main__":
    emit(main())
