"""How a run over data shows: one line of counts, a grid's per-model summary, and the first
and last rows (never hundreds of answers; with ``--schema`` their values' fields in place of
the raw JSON), as an HTML table with a plain-text fallback.
Every cell goes through :func:`~.render.table_bundle` (escaped, secrets masked)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from ..over import usd
from .render import table_bundle
from .safe import displayable, escape_html

#: Rows shown at each end of a long run.
SHOWN_AT_EACH_END = 5
#: Characters of an answer or an input shown in a cell of the table.
CELL_CHARS = 60
#: Input columns shown (the rest are in the DataFrame).
INPUT_COLUMNS_SHOWN = 3
#: A ``--schema`` value's fields shown, in place of the raw text (the rest are in the frame).
FIELDS_SHOWN = 5


def headline(result: Any) -> str:
    """``smollm2 over texts: 10 answers · 8 done · 2 cached · 0 failed · 1,234 tokens · $0``."""
    counts = result.counts()
    parts = [f"{len(result.frame):,} answers"]
    parts += [f"{counts[s]:,} {s}" for s in ("done", "cached", "failed")]
    parts += [f"{counts[s]:,} {s}" for s in ("interrupted", "skipped") if counts[s]]
    parts += [f"{result.tokens:,} tokens", f"{usd(result.cost_usd)} est. cost"
              + (f" ({usd(result.spent_usd)} this run)" if result.spent_usd else "")]
    return f"{', '.join(result.labels)} over {result.source}: " + " · ".join(parts)


def over_bundle(result: Any) -> dict[str, Any]:
    """The MIME bundle of an :class:`~memories_magics.over_result.OverResult`."""
    pieces = [_line(headline(result))]
    notes = [result.note] if result.note else []
    unfinished = result.counts()["interrupted"]
    if result.interrupted:
        notes.append(f"interrupted: {unfinished:,} answers did not finish; re-run the cell to "
                     "ask only those (the finished ones are cached)")
    for note in notes:
        pieces.append(_line(note))
    if len(result.labels) > 1 or result.check is not None:
        summary = result.summary().reset_index()
        shown: dict[str, Callable[[Any], str]] = {
            "cost_usd": usd, "latency_s": lambda v: f"{v:.2f} s", "check": lambda v: f"{v:.2f}"}
        pieces.append(table_bundle(
            [str(c) for c in summary.columns],
            [[_cell(v) if c not in shown or _cell(v) == "" else shown[c](v)
              for c, v in zip(summary.columns, row, strict=True)]
             for row in summary.itertuples(index=False, name=None)], "per model"))
    headers, rows = _rows(result)
    pieces.append(table_bundle(headers, rows))
    return {"text/plain": "\n\n".join(p["text/plain"] for p in pieces if p["text/plain"]),
            "text/html": "".join(p["text/html"] for p in pieces)}


def _line(text: str) -> dict[str, str]:
    shown = displayable(text)[0]
    return {"text/plain": shown, "text/html": f"<p>{escape_html(shown)}</p>"}


def _rows(result: Any) -> tuple[list[str], list[list[str]]]:
    frame = result.frame
    answer_start = list(frame.columns).index("text")
    inputs = [str(c) for c in frame.columns[:answer_start]][:INPUT_COLUMNS_SHOWN]
    answer = list(result.fields[:FIELDS_SHOWN]) if result.fields else ["text"]
    shown = inputs + (["model"] if len(result.labels) > 1 else []) + answer + ["status"]
    if result.check is not None:
        shown.append("check")
    headers = ["index", *shown]
    count = len(frame)
    if count > 2 * SHOWN_AT_EACH_END + 1:
        positions: list[int | None] = [*range(SHOWN_AT_EACH_END), None,
                                       *range(count - SHOWN_AT_EACH_END, count)]
    else:
        positions = list(range(count))
    rows = []
    for position in positions:
        if position is None:
            rows.append(["…"] + [f"{count - 2 * SHOWN_AT_EACH_END:,} more" if n == 0 else ""
                                 for n in range(len(shown))])
            continue
        record = frame.iloc[position]
        cells = [_cell(frame.index[position])]
        for column in shown:
            value = record[column]
            if column == "status" and _cell(record["error"]):  # None or NaN: no error
                value = f"{value}: {record['error']}"
            if column == "check" and _cell(value) == "" and _cell(record.get("check_error")):
                value = f"error: {record['check_error']}"
            cells.append(_cell(value))
        rows.append(cells)
    return headers, rows


def _cell(value: Any) -> str:
    """A value in a table cell: one line, at most :data:`CELL_CHARS` characters."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):  # a --schema field holding an object or a list
        value = json.dumps(value, ensure_ascii=False)
    text = " ".join(str(value).split())
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1] + "…"
