"""Running many requests (``--over``'s jobs) concurrently through :meth:`Engine.answer`.

Each provider is a *lane* with its own worker threads (``concurrency`` of them; a local model
one, as it runs one answer at a time), so one slow or rate-limited provider never holds up
another. An HTTP 429 closes its lane's gate for the server's Retry-After (else 0.5 s, 1 s,
2 s, …) and puts the row back: rows are not failed for being rate limited unless it goes on.
Any other error is that row's one line and the rest go on. A budget is checked before each
request (what was spent plus what is running plus this one's estimate). Ctrl-C on the calling
thread stops everything at once: finished rows are kept, the others are marked interrupted
and a thread still waiting on its server is left behind (its late answer is ignored here;
if it completes, the engine caches it as any complete answer).

Written by hand because the per-provider gates, the requeue on 429 and the abandon-on-Ctrl-C
are what no executor provides (``ThreadPoolExecutor`` joins its threads at exit, so a row
that never ends would hold the kernel).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .engine import Engine
from .errors import MemoriesError, ProviderError
from .over import Job, usd
from .schema import Schema
from .secrets import redact
from .types import Response

#: A row rate limited this many times in a row records the 429 as its error.
MAX_RATE_LIMITED = 8
#: Longest pause a lane takes after a 429.
MAX_BACKOFF_S = 30.0
#: After Ctrl-C, how long to wait for rows that are about to finish.
CANCEL_GRACE_S = 0.3


@dataclass
class RowOutcome:
    """What one job ended with: ``state`` is one of vocabulary.json's row_states."""

    job: Job
    state: str = "interrupted"
    response: Response | None = None
    error: str = "interrupted before it finished"

    @property
    def cost_usd(self) -> float:
        """What this answer cost when it was made (0 without usage)."""
        if self.response is None:
            return 0.0
        usage = self.response.usage
        return self.job.spec.cost(usage.input_tokens, usage.output_tokens)


class Ledger:
    """Money spent and reserved by running rows, against an optional budget."""

    def __init__(self, budget: float | None) -> None:
        self.budget = budget
        self.spent = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, amount: float) -> bool:
        """Take ``amount`` for a row about to be asked, unless it would pass the budget."""
        with self._lock:
            if self.budget is not None and self.spent + self._reserved + amount > self.budget:
                return False
            self._reserved += amount
            return True

    def settle(self, reserved: float, spent: float) -> None:
        """A row ended: release its reservation, count what it cost."""
        with self._lock:
            self._reserved -= reserved
            self.spent += spent


class Lane:
    """One provider's queue of jobs and its rate-limit gate."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._open_at = 0.0
        self._lock = threading.Lock()

    def back_off(self, retry_after: float | None, attempt: int) -> None:
        """Close the gate for Retry-After seconds (when sane), else 0.5 s × 2^attempt."""
        if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
            pause = min(retry_after, MAX_BACKOFF_S)
        else:
            pause = min(0.5 * 2 ** attempt, MAX_BACKOFF_S)
        with self._lock:
            self._open_at = max(self._open_at, time.monotonic() + pause)

    def wait_open(self, cancel: threading.Event) -> None:
        """Wait until the gate is open (or the run is cancelled)."""
        while not cancel.is_set():
            with self._lock:
                left = self._open_at - time.monotonic()
            if left <= 0:
                return
            cancel.wait(min(left, 0.05))


def run_jobs(engine: Engine, jobs: Sequence[Job], *, concurrency: int, cache: str | None,
             stream: bool = True, budget: float | None = None,
             cancel: threading.Event | None = None,
             on_settle: Callable[[RowOutcome], None] | None = None,
             schema: Schema | None = None, retries: int = 0) -> list[RowOutcome]:
    """Run ``jobs`` (at most ``concurrency`` at once per provider, one for a local model) and
    return their outcomes in the jobs' order. ``on_settle`` runs on the calling thread as each
    job ends. Ctrl-C (or setting ``cancel``) stops the run and returns what finished. With
    ``schema`` each answer is validated (one that does not match fails its row, uncached),
    after up to ``retries`` re-asks."""
    cancel = cancel if cancel is not None else threading.Event()
    outcomes: list[RowOutcome | None] = [None] * len(jobs)
    settled: queue.SimpleQueue[tuple[int, RowOutcome]] = queue.SimpleQueue()
    ledger = Ledger(budget)
    lanes: dict[str, Lane] = {}
    pending = set(range(len(jobs)))
    for position, job in enumerate(jobs):
        if job.hit is not None:  # read while planning: settled here, no thread, no request
            engine.record_hit(job.spec, job.hit)
            if schema is not None:  # as the engine checks a hit it reads itself
                schema.judge(job.hit)
            _take(outcomes, pending, position, _finished(job, job.hit), on_settle)
        else:
            lanes.setdefault(job.spec.provider, Lane()).jobs.put(position)

    def work(lane: Lane) -> None:
        rate_limited: dict[int, int] = {}
        while not cancel.is_set():
            try:
                position = lane.jobs.get_nowait()
            except queue.Empty:
                return
            lane.wait_open(cancel)
            job = jobs[position]
            reserved = job.estimate_usd
            if cancel.is_set():
                return
            if not ledger.reserve(reserved):
                settled.put((position, RowOutcome(
                    job, "skipped", None, f"not asked: it could pass --budget {usd(budget or 0)}"
                    f" ({usd(ledger.spent)} spent)")))
                continue
            outcome, spent = RowOutcome(job), 0.0
            try:
                response = engine.run(job.spec, job.request, cache=cache, stream=stream,
                                      cancel=cancel, provider=job.provider, schema=schema,
                                      retries=retries)
                outcome = _finished(job, response)
                spent = 0.0 if response.cached else outcome.cost_usd
            except ProviderError as exc:
                tries = rate_limited.get(position, 0)
                if exc.status == 429 and tries < MAX_RATE_LIMITED and not cancel.is_set():
                    rate_limited[position] = tries + 1
                    lane.back_off(exc.retry_after, tries)
                    lane.jobs.put(position)
                    ledger.settle(reserved, 0.0)
                    continue
                outcome = RowOutcome(job, "failed", None, str(exc))
            except MemoriesError as exc:
                outcome = RowOutcome(job, "failed", None, str(exc))
            except Exception as exc:  # noqa: BLE001 - one row's bug is that row's error
                outcome = RowOutcome(job, "failed", None,
                                     redact(f"{type(exc).__name__}: {exc}").splitlines()[0])
            ledger.settle(reserved, spent)
            settled.put((position, outcome))

    for provider, lane in lanes.items():
        width = 1 if provider == "local" else max(1, concurrency)
        for n in range(min(width, len(pending))):
            threading.Thread(target=work, args=(lane,), name=f"over-{provider}-{n}",
                             daemon=True).start()
    try:
        while pending:
            try:
                position, outcome = settled.get(timeout=0.1)
            except queue.Empty:
                continue
            _take(outcomes, pending, position, outcome, on_settle)
    except KeyboardInterrupt:
        cancel.set()
        deadline = time.monotonic() + CANCEL_GRACE_S
        while pending and time.monotonic() < deadline:
            try:
                position, outcome = settled.get(timeout=0.05)
            except queue.Empty:
                continue
            _take(outcomes, pending, position, outcome, None)
    return [RowOutcome(job) if outcome is None else outcome  # unfinished: interrupted
            for job, outcome in zip(jobs, outcomes, strict=True)]


def _take(outcomes: list[RowOutcome | None], pending: set[int], position: int, outcome: RowOutcome,
          on_settle: Callable[[RowOutcome], None] | None) -> None:
    outcomes[position] = outcome
    pending.discard(position)
    if on_settle is not None:
        on_settle(outcome)


def _finished(job: Job, response: Response) -> RowOutcome:
    """A Response as an outcome: cached, done (complete and cacheable), interrupted, or
    failed (cut, an error, an empty answer: none of them cached, so a re-run asks again; a
    recorded answer that no longer matches the schema)."""
    if response.interrupted:
        return RowOutcome(job, "interrupted", response, "interrupted before it finished")
    if response.cached and response.error:
        return RowOutcome(job, "failed", response, response.error)
    if response.cached:
        return RowOutcome(job, "cached", response, "")
    if response.cacheable:
        return RowOutcome(job, "done", response, "")
    why = response.error or ("the answer was empty" if not response.text.strip() else
                             f"the answer ended with {response.finish_reason!r}")
    return RowOutcome(job, "failed", response, f"{why}; not cached")
