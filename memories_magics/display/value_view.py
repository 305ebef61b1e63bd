"""A ``--schema`` answer as people read it: the validated value as tables (a tree of them for
nested values), the raw JSON folded away under it; or, when the answer does not match, the
validation errors in one block above the raw answer.

Values come from the model, so every key and leaf is text made displayable and escaped, and
the whole fragment goes through the same allow-list cleaner as model Markdown. Tables are
bounded (:data:`MAX_ROWS` rows, :data:`MAX_DEPTH` levels; deeper parts show as JSON).
"""

from __future__ import annotations

import json
from typing import Any

from ..schema import plain
from .safe import clean_html, code_html, displayable, escape_html

#: Rows shown per table (the value itself keeps them all).
MAX_ROWS = 200
#: Nesting shown as tables; deeper values are shown as compact JSON.
MAX_DEPTH = 4


def _leaf(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return escape_html(displayable(text, 2_000)[0])


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
