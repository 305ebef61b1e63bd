"""Asking several models at once: concurrent calls, per-model failures, aggregation, diff.

Each model runs on its own thread through :meth:`Engine.run` (local models queue on their
runtime's lock), so the wall time is about the slowest model's. A model that fails keeps its
error in its column; the others finish and are cached as usual.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .aggregate import Aggregate, Candidate, aggregate
from .config import ModelSpec
from .engine import Engine
from .errors import MemoriesError
from .result import LLMResult
from .schema import FieldRow, Schema, canonical_value, field_rows
from .secrets import redact
from .types import Request

#: How long an interrupted comparison waits for models to notice before returning.
CANCEL_GRACE_S = 2.0


@dataclass
class ModelOutcome:
    """One column: the model's result, or the one-line error it failed with."""

    spec: ModelSpec
    request: Request
    result: LLMResult | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """The model's alias, else its id."""
        return self.spec.label


@dataclass
class CompareResult:
    """What ``%%compare`` returns and ``-o VAR`` stores: every model's outcome, the aggregate
    (its ``winner`` indexes :attr:`outcomes`) and the diff between two answers.

    In a notebook it renders through :mod:`memories_magics.display.compare_view` (an IPython
    formatter): static columns, aggregate and diff for any viewer, and the JSON that the
    JupyterLab extension turns into the interactive view (re-pick the pair, switch mode)."""

    prompt: str
    outcomes: list[ModelOutcome]
    aggregate: Aggregate | None = None
    diff_mode: str = "word"
    diff_pair: tuple[int, int] | None = field(default=None)
    #: Diff operations by ``(a, b, mode)``, filled by the display as it computes them
    #: (:func:`memories_magics.display.compare_view.shown_diff`) so each is computed once.
    diffs: dict[tuple[int, int, str], list[tuple[str, str]]] = field(
        default_factory=dict, repr=False, compare=False)
    #: ``--schema``: the values are compared field by field (:attr:`fields`).
    schema: Schema | None = None

    @property
    def values(self) -> dict[str, object]:
        """``--schema``: each model's validated value by label (None where it did not match)."""
        return {o.label: o.result.value for o in self.outcomes if o.result is not None}

    @property
    def fields(self) -> list[FieldRow]:
        """``--schema``: one row per field, each model's value and their agreement."""
        return field_rows([o.result.value if o.result is not None else None
                           for o in self.outcomes])

    @property
    def labels(self) -> list[str]:
        """Each outcome's label, numbered when a model is compared with itself
        (``m``, ``m (2)``), so that no result hides another."""
        seen: dict[str, int] = {}
        labels = []
        for outcome in self.outcomes:
            seen[outcome.label] = seen.get(outcome.label, 0) + 1
            count = seen[outcome.label]
            labels.append(outcome.label if count == 1 else f"{outcome.label} ({count})")
        return labels

    @property
    def results(self) -> dict[str, LLMResult]:
        """Successful results by label (see :attr:`labels`)."""
        return {label: o.result for label, o in zip(self.labels, self.outcomes, strict=True)
                if o.result is not None}

    @property
    def errors(self) -> dict[str, str]:
        """Failed models' errors by label (see :attr:`labels`)."""
        return {label: o.error for label, o in zip(self.labels, self.outcomes, strict=True)
                if o.error is not None}

    @property
    def aggregate_line(self) -> str:
        """The aggregate in one line: method, winner, score and why ("" without one)."""
        if self.aggregate is None:
            return ""
        winner = "no winner" if self.aggregate.winner is None else \
            self.outcomes[self.aggregate.winner].label
        score = "" if self.aggregate.score is None else f" (score {self.aggregate.score:.2f})"
        return f"{self.aggregate.method}: {winner}{score}: {self.aggregate.explanation}"

    @property
    def text(self) -> str:
        """The aggregate's chosen answer ("" when every model failed)."""
        return self.aggregate.text if self.aggregate else ""

    def __str__(self) -> str:
        return self.text


def run_models(engine: Engine, specs: list[ModelSpec], requests: list[Request], *,
               cache: str | None = None, stream: bool = True,
               on_chunk: Callable[[int, str], None] | None = None,
               on_done: Callable[[int, ModelOutcome], None] | None = None,
               fmt: str = "markdown",
               cancel: threading.Event | None = None, schema: Schema | None = None,
               retries: int = 0,
               explain: Callable[[ModelSpec, MemoriesError], MemoriesError] | None = None,
               before: Callable[[ModelSpec, Request], None] | None = None
               ) -> list[ModelOutcome]:
    """Run every request concurrently. Callbacks run on the calling thread, which is the one
    that may be interrupted: Ctrl-C stops all models and keeps what they had streamed.
    Setting ``cancel`` (e.g. the panel's Stop button, from another thread) does the same.
    ``before(spec, request)`` runs in a model's column before it is asked (a one-line error
    there is that column's); ``explain(spec, error)`` may reword a column's error (a thread's
    context error names its fix)."""
    outcomes = [ModelOutcome(spec, request) for spec, request in zip(specs, requests, strict=True)]
    events: queue.Queue[tuple[str, int, Any]] = queue.Queue()
    cancel = cancel if cancel is not None else threading.Event()

    def work(index: int) -> None:
        outcome = outcomes[index]
        result, error = None, None
        checked = False
        try:
            if before is not None:
                before(outcome.spec, outcome.request)
            checked = True
            response = engine.run(outcome.spec, outcome.request, cache=cache, stream=stream,
                                  schema=schema, retries=retries,
                                  cancel=cancel,
                                  on_chunk=lambda c: events.put(("chunk", index, c.text)))
            result = LLMResult(response, outcome.spec, outcome.request, fmt, schema=schema)
        except MemoriesError as exc:
            error = str(exc if explain is None or not checked else explain(outcome.spec, exc))
        except Exception as exc:  # noqa: BLE001 - shown in the model's column, never raised
            error = redact(f"{type(exc).__name__}: {exc}")
        finally:
            with settled:  # a model given up on after Ctrl-C no longer changes the result
                if index not in abandoned:
                    outcome.result, outcome.error = result, error
            events.put(("done", index, None))

    settled = threading.Lock()
    abandoned: set[int] = set()
    for index in range(len(outcomes)):
        threading.Thread(target=work, args=(index,), name=f"compare-{index}", daemon=True).start()
    pending = set(range(len(outcomes)))
    try:
        while pending:
            kind, index, text = events.get()
            if kind == "chunk" and on_chunk is not None:
                on_chunk(index, text)
            elif kind == "done":
                pending.discard(index)
                if on_done is not None:
                    on_done(index, outcomes[index])
    except KeyboardInterrupt:
        cancel.set()
        _drain(events, pending)
        with settled:
            for index in pending:
                abandoned.add(index)
                outcomes[index].error = "interrupted before the model answered"
    return outcomes


def _drain(events: queue.Queue[tuple[str, int, Any]], pending: set[int]) -> None:
    """After Ctrl-C: give models a moment to stop and hand back their partial answers; a
    second Ctrl-C stops waiting."""
    deadline = time.monotonic() + CANCEL_GRACE_S
    try:
        while pending and time.monotonic() < deadline:
            try:
                kind, index, _ = events.get(timeout=0.05)
            except queue.Empty:
                continue
            if kind == "done":
                pending.discard(index)
    except KeyboardInterrupt:
        return


def summarise(prompt: str, outcomes: list[ModelOutcome], method: str,
              diff_mode: str, schema: Schema | None = None) -> CompareResult:
    """Aggregate the successful answers and pick the pair to diff (first two that answered).
    With ``schema`` the valid values are aggregated, as canonical JSON."""
    results = {i: o.result for i, o in enumerate(outcomes) if o.result is not None
               and (schema is None or o.result.value is not None)}
    answered = list(results)
    candidates = [Candidate(outcomes[i].label, _compared(result, schema),
                            result.response.logprobs) for i, result in results.items()]
    found = aggregate(method, candidates)
    if found is not None and found.winner is not None:
        found = Aggregate(found.method, answered[found.winner], found.score, found.explanation,
                          found.text)
    pair = (answered[0], answered[1]) if len(answered) >= 2 else None
    return CompareResult(prompt, outcomes, found, diff_mode, pair, schema=schema)


def _compared(result: LLMResult, schema: Schema | None) -> str:
    return result.text if schema is None else canonical_value(result.value)
