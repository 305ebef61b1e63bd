"""The result of a run over data: a pandas DataFrame in input order (one row per input and
model), the counts, and a per-model summary of a grid with ``--check`` scores.

:class:`OverResult` is what the cell shows (a compact table, :mod:`.display.over_view`);
``-o VAR`` stores its :attr:`~OverResult.frame`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .code_blocks import extract_code
from .schema import schema_columns, value_row
from .secrets import redact
from .vocabulary import ROW_STATES

if TYPE_CHECKING:
    import pandas as pd

    from .over import Plan
    from .row_runner import RowOutcome
    from .schema import Schema

#: The answer's columns, after the input's (the last three only with a check, in a grid).
ANSWER_COLUMNS = ("text", "model", "status", "cached", "error", "input_tokens",
                  "output_tokens", "cost_usd", "latency_s", "check", "check_error", "chosen")


@dataclass
class OverResult:
    """A finished (or interrupted) run over ``source``'s rows for ``labels`` (the models)."""

    frame: pd.DataFrame
    labels: list[str]
    source: str
    spent_usd: float = 0.0
    interrupted: bool = False
    check: str | None = None
    note: str = ""
    #: ``--schema``: the columns holding the value's fields (the table shows them).
    fields: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """How many answers are in each row state (done, cached, failed, …)."""
        found = self.frame["status"].value_counts()
        return {state: int(found.get(state, 0)) for state in ROW_STATES}

    @property
    def tokens(self) -> int:
        """Input plus output tokens of every answer."""
        return int(self.frame["input_tokens"].fillna(0).sum()
                   + self.frame["output_tokens"].fillna(0).sum())

    @property
    def cost_usd(self) -> float:
        """Estimated cost of every answer, when it was made (cached ones included)."""
        return float(self.frame["cost_usd"].fillna(0).sum())

    def summary(self) -> pd.DataFrame:
        """Per model: answers, failed, the check's mean (a pass rate for True/False), tokens,
        cost and mean latency."""
        import pandas as pd

        rows = []
        for label in self.labels:
            part = self.frame[self.frame["model"] == label]
            row: dict[str, Any] = {
                "model": label, "answers": int(part["status"].isin(["done", "cached"]).sum()),
                "failed": int((part["status"] == "failed").sum())}
            if self.check is not None:
                scores = [float(v) for v in part["check"] if _is_score(v)]
                row["check"] = sum(scores) / len(scores) if scores else math.nan
            if "chosen" in part and self.frame["chosen"].notna().any():
                row["chosen"] = int((part["chosen"] == True).sum())  # noqa: E712 - None too
            row.update({"tokens": int(part["input_tokens"].fillna(0).sum()
                                      + part["output_tokens"].fillna(0).sum()),
                        "cost_usd": float(part["cost_usd"].fillna(0).sum()),
                        "latency_s": float(part["latency_s"].mean())
                        if part["latency_s"].notna().any() else math.nan})
            rows.append(row)
        summary: pd.DataFrame = pd.DataFrame(rows).set_index("model")
        return summary

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items() if v)
        return f"OverResult({self.source!r}, {len(self.frame)} answers: {counts})"


def _is_score(value: Any) -> bool:
    return isinstance(value, (bool, int, float)) and not (isinstance(value, float)
                                                         and math.isnan(value))


def build(plan: Plan, outcomes: Sequence[RowOutcome], *, fmt: str = "markdown",
          check: Callable[..., Any] | str | None = None, check_name: str | None = None,
          spent_usd: float = 0.0, interrupted: bool = False, note: str = "",
          aggregate_method: str | None = None, schema: Schema | None = None) -> OverResult:
    """The DataFrame: the input's columns (``item`` for a list; one named like an answer
    column or a schema field gets ``input_`` before its name), then :data:`ANSWER_COLUMNS`,
    then ``check``/``check_error`` with a check, ``chosen`` in a grid with an aggregation
    method, and the value's fields (``--schema``; a field named like an answer column gets
    ``value_`` before its name) or a JSON answer's fields (``-f json``)."""
    import pandas as pd

    inputs = plan.rows.frame
    fields = {} if schema is None else {
        f: f"value_{f}" if f in ANSWER_COLUMNS else f for f in schema_columns(schema)}
    names = _input_names([str(c) for c in inputs.columns], set(fields.values()))
    records, index = [], []
    bindings = list(plan.rows.bindings()) if check is not None else []
    values = list(inputs.itertuples(index=False, name=None))
    for outcome in outcomes:
        position = outcome.job.row
        record: dict[str, Any] = dict(zip(names, values[position], strict=True))
        record.update(_answer(outcome))
        if schema is not None:
            record.update(_value_fields(schema, outcome, record, fields))
        if check is not None:
            record.update(run_check(check, outcome, bindings[position]))
        for name, value in ({} if schema else answer_fields(record["text"], fmt)).items():
            record.setdefault(name, value)
        records.append(record)
        index.append(inputs.index[position])
    if aggregate_method is not None and len(plan.labels) > 1:
        mark_chosen(records, outcomes, aggregate_method, tuple(fields.values()))
    frame = pd.DataFrame.from_records(records, index=pd.Index(index, name=inputs.index.name))
    return OverResult(frame, plan.labels, plan.rows.name, spent_usd, interrupted,
                      check_name if check is not None else None, note, tuple(fields.values()))


def _value_fields(schema: Schema, outcome: RowOutcome, record: dict[str, Any],
                  columns: dict[str, str]) -> dict[str, Any]:
    """The value's fields of an answered row (None for every field of a row without a
    valid value): the value the engine or the row runner checked (a cached answer that no
    longer matches is a failed row)."""
    values: dict[str, Any] = dict.fromkeys(columns.values())
    response = outcome.response
    if record["status"] not in ("done", "cached") or response is None:
        return values
    values.update({columns[f]: v for f, v in value_row(schema, response.value).items()})
    return values


def mark_chosen(records: list[dict[str, Any]], outcomes: Sequence[RowOutcome],
                method: str, fields: tuple[str, ...] = ()) -> None:
    """Per input row of a grid, ``method`` (consensus, voting, best_confidence) over the
    models' answers (with ``--schema``, over their values' ``fields``, as canonical JSON):
    ``chosen`` is True for the answer it picks, False for the others, None where nothing was
    picked (a tie, or no answer)."""
    from .aggregate import Candidate, aggregate

    def compared(record: dict[str, Any]) -> str:
        if not fields:
            return str(record["text"])
        return json.dumps({f: record[f] for f in fields}, ensure_ascii=False, sort_keys=True)

    by_row: dict[int, list[int]] = {}
    for position, outcome in enumerate(outcomes):
        by_row.setdefault(outcome.job.row, []).append(position)
    for positions in by_row.values():
        answered = [p for p in positions if records[p]["status"] in ("done", "cached")]
        found = aggregate(method, [Candidate(outcomes[p].job.spec.label, compared(records[p]),
                                             _logprobs(outcomes[p])) for p in answered])
        winner = None if found is None or found.winner is None else answered[found.winner]
        for p in positions:
            records[p]["chosen"] = None if winner is None else p == winner


def _logprobs(outcome: RowOutcome) -> tuple[float, ...]:
    return tuple(outcome.response.logprobs) if outcome.response is not None else ()


def _input_names(columns: list[str], fields: set[str]) -> list[str]:
    """An input column keeps its name unless an answer column or a schema field has it
    (``text`` becomes ``input_text``; the template still says ``{text}``)."""
    taken = set(ANSWER_COLUMNS) | fields | set(columns)
    names = []
    for column in columns:
        name = column
        while name in ANSWER_COLUMNS or name in fields or (name != column and name in taken):
            name = f"input_{name}"
        names.append(name)
        taken.add(name)
    return names


def _answer(outcome: RowOutcome) -> dict[str, Any]:
    response = outcome.response
    usage = response.usage if response is not None else None
    return {"text": response.text if response is not None else "",
            "model": outcome.job.spec.label, "status": outcome.state,
            "cached": outcome.state == "cached", "error": outcome.error or None,
            "input_tokens": usage.input_tokens if usage else None,
            "output_tokens": usage.output_tokens if usage else None,
            "cost_usd": outcome.cost_usd,
            "latency_s": response.latency_s if response is not None else None}


def run_check(check: Callable[..., Any] | str, outcome: RowOutcome,
              row: dict[str, Any]) -> dict[str, Any]:
    """``check(text, row)`` for an answered row: a bool or a number in ``check``; anything
    else, or an exception, in ``check_error`` (one line), never a dead cell."""
    if outcome.state not in ("done", "cached"):
        return {"check": None, "check_error": "not checked: no answer"}
    if not callable(check):
        return {"check": None, "check_error": f"--check {check}: not a function; define "
                                              "def check(text, row) -> bool or float"}
    try:
        value = check(outcome.response.text if outcome.response else "", row)
    except Exception as exc:  # noqa: BLE001 - the user's check; shown in its row
        line = (str(exc).splitlines() or [""])[0][:200]
        return {"check": None, "check_error": redact(f"{type(exc).__name__}: {line}")}
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
        return {"check": value, "check_error": None}
    return {"check": None, "check_error": f"the check returned {type(value).__name__}, not "
                                          "True/False or a number"}


def answer_fields(text: str, fmt: str) -> dict[str, Any]:
    """The fields of a JSON-object answer (``-f json``) as extra columns; ``{}`` otherwise.
    The seam for ``--schema``: a schema's fields arrive here the same way."""
    if fmt != "json" or not text:
        return {}
    code, _ = extract_code(text)
    try:
        value = json.loads(code)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v)
            for k, v in value.items()}
