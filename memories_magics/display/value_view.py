"""A ``--schema`` answer as people read it: the validated value as tables (a tree of them for
nested values), the raw JSON folded away under it; or, when the answer does not match, the
validation errors in one block above the raw answer.

Values come from the model, so every key and leaf is text made displayable and escaped, and
the whole fragment goes through the same allow-list cleaner as model Markdown. Tables are
bounded (:data:`MAX_ROWS` rows, :data:`MAX_DEPTH` levels; deeper parts show as JSON), by the
limits vocabulary.json declares for the JupyterLab extension too, which draws the same tables
from :func:`schema_payload` (the value bounded the same way, never HTML).
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..schema import plain
from ..vocabulary import VALUE_TABLE
from .safe import clean_html, code_html, displayable, escape_html

#: Rows shown per table (the value itself keeps them all).
MAX_ROWS = VALUE_TABLE["max_rows"]
#: Nesting shown as tables; deeper values are shown as compact JSON.
MAX_DEPTH = VALUE_TABLE["max_depth"]
#: Characters shown of each key and leaf.
MAX_LEAF_CHARS = VALUE_TABLE["max_leaf_chars"]


def _leaf_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return displayable(text, MAX_LEAF_CHARS)[0]


def _leaf(value: Any) -> str:
    return escape_html(_leaf_text(value))


def bounded(value: Any, depth: int = 0) -> tuple[Any, bool]:
    """``value`` (plain JSON data) as the extension is sent it, and whether anything was left
    out: at most :data:`MAX_ROWS` items per list or object, containers below
    :data:`MAX_DEPTH` levels as compact JSON text, keys and strings made displayable and cut,
    non-finite numbers as text (JSON has none)."""
    if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
        return _leaf_text(value), True
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        cut = len(value) > MAX_ROWS
        for key, item in list(value.items())[:MAX_ROWS]:
            out[_leaf_text(str(key))], inner = bounded(item, depth + 1)
            cut = cut or inner
        return out, cut
    if isinstance(value, list):
        pairs = [bounded(item, depth + 1) for item in value[:MAX_ROWS]]
        return [v for v, _ in pairs], len(value) > MAX_ROWS or any(c for _, c in pairs)
    if isinstance(value, str):
        return displayable(value, MAX_LEAF_CHARS)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value), False
    if value is None or isinstance(value, (bool, int, float)):
        return value, False
    return _leaf_text(str(value)), False


def schema_payload(result: Any) -> dict[str, Any]:
    """The ``schema`` of a ``--schema`` result's payload: the schema's name, the
    validated value bounded for display (None when the answer does not match), whether part
    of it was left out, and the validation errors (empty when it matched)."""
    checked = result.checked
    value, cut = bounded(plain(checked.value)) if checked.ok else (None, False)
    return {"name": displayable(result.schema.name)[0], "ok": checked.ok, "value": value,
            "cut": cut, "errors": [displayable(e)[0] for e in checked.errors]}


def _records(value: list[Any]) -> list[str] | None:
    """The columns when ``value`` is a list of objects (a table), else None."""
    if not value or not all(isinstance(v, dict) for v in value):
        return None
    columns: list[str] = []
    for item in value:
        columns += [k for k in item if k not in columns]
    return columns


def value_html(value: Any, depth: int = 0) -> str:
    """``value`` (plain JSON data) as nested HTML tables: an object as field/value rows, a
    list of objects as one row each, other lists numbered."""
    if depth >= MAX_DEPTH and isinstance(value, (dict, list)):
        return f"<code>{_leaf(value)}</code>"
    more = ""
    if isinstance(value, (dict, list)) and len(value) > MAX_ROWS:
        more = f"<p><em>… {len(value) - MAX_ROWS:,} more (all of them are in .value)</em></p>"
    if isinstance(value, dict):
        rows = "".join(f"<tr><th>{_leaf(str(k))}</th><td>{value_html(v, depth + 1)}</td></tr>"
                       for k, v in list(value.items())[:MAX_ROWS])
        return f"<table><tbody>{rows}</tbody></table>{more}"
    if isinstance(value, list):
        columns = _records(value)
        if columns is None:
            items = "".join(f"<li>{value_html(v, depth + 1)}</li>" for v in value[:MAX_ROWS])
            return f"<ol start=\"0\">{items}</ol>{more}" if value else "<em>(empty list)</em>"
        head = "".join(f"<th>{_leaf(c)}</th>" for c in ["#", *columns])
        body = "".join(
            f"<tr><td>{i}</td>" + "".join(f"<td>{value_html(item[c], depth + 1)}</td>"
                                          if c in item else "<td></td>" for c in columns)
            + "</tr>" for i, item in enumerate(value[:MAX_ROWS]))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"
    return _leaf(value)


def schema_html(result: Any) -> str:
    """The body of a ``--schema`` result: the value's tables and the raw JSON in a folded
    block, or the errors in one block and the raw answer."""
    checked, schema = result.checked, result.schema
    raw = code_html(displayable(result.text)[0], "json")
    name = escape_html(displayable(schema.name)[0])
    if checked.ok:
        body = (f"<p><strong>{name}</strong></p>{value_html(plain(checked.value))}"
                f"<details><summary>raw JSON</summary>{raw}</details>")
    else:
        errors = "".join(f"<li>{escape_html(displayable(e)[0])}</li>" for e in checked.errors)
        kept = "" if result.response.cached else " and the answer was not cached"
        body = (f"<div><p><strong>The answer does not match the schema {name}</strong> "
                f"(.value is None{kept}):</p><ul>{errors}</ul></div>"
                f"<details><summary>the answer</summary>{raw}</details>")
    return clean_html(body)


def schema_plain(result: Any) -> str:
    """The text/plain of a ``--schema`` result: the value as indented JSON, or the errors."""
    checked = result.checked
    if checked.ok:
        return displayable(json.dumps(plain(checked.value), indent=2, ensure_ascii=False))[0]
    lines = [f"The answer does not match the schema {result.schema.name}:",
             *(f"  - {e}" for e in checked.errors), "", result.text]
    return displayable("\n".join(lines))[0]
