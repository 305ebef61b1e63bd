"""Static rendering of a comparison: columns, aggregate and diff as escaped HTML, plain text
and the JupyterLab extension's JSON. Works in any viewer, with or without widgets."""

from __future__ import annotations

from typing import Any

from .render import result_json
from .safe import displayable, escape_html

COMPARE_MIME = "application/vnd.memories-magics.compare+json"

_COLUMN = ("flex:1 1 0;min-width:14em;border:1px solid rgba(128,128,128,.35);"
           "border-radius:4px;padding:.5em")
_DIFF_STYLE = {"insert": "background:rgba(46,160,67,.25);text-decoration:none",
               "delete": "background:rgba(248,81,73,.25)"}
_DIFF_TAG = {"insert": "ins", "delete": "del"}


def columns_html(columns: list[tuple[str, str, str]]) -> str:
    """``(label, text, footer)`` columns side by side; everything escaped."""
    cells = "".join(
        f'<div style="{_COLUMN}"><div><b>{escape_html(label)}</b></div>'
        f'<div style="white-space:pre-wrap;margin:.4em 0">{escape_html(text)}</div>'
        f'<div style="opacity:.7;font-size:85%">{escape_html(footer)}</div></div>'
        for label, text, footer in columns)
    return f'<div style="display:flex;gap:.5em;flex-wrap:wrap">{cells}</div>'


def diff_html(ops: list[tuple[str, str]]) -> str:
    """Diff operations as highlighted, escaped HTML."""
    parts = []
    for op, text in ops:
        if op == "equal":
            parts.append(escape_html(text))
        else:
            parts.append(f'<{_DIFF_TAG[op]} style="{_DIFF_STYLE[op]}">{escape_html(text)}'
                         f"</{_DIFF_TAG[op]}>")
    return f'<div style="white-space:pre-wrap">{"".join(parts)}</div>'


def compare_json(result: Any) -> dict[str, Any]:
    """The payload of the extension's compare MIME type."""
    results = []
    for outcome in result.outcomes:
        if outcome.result is not None:
            results.append({**result_json(outcome.result), "error": None})
        else:
            results.append({"model": outcome.label, "model_id": outcome.spec.model_id,
                            "text": "", "error": outcome.error})
    aggregate = result.aggregate
    pair = result.diff_pair
    return {
        "prompt": result.prompt, "results": results,
        "aggregate": None if aggregate is None else {
            "method": aggregate.method, "winner": aggregate.winner, "score": aggregate.score,
            "explanation": aggregate.explanation, "text": aggregate.text},
        "diff": None if pair is None else {"mode": result.diff_mode, "a": pair[0], "b": pair[1],
                                           "ops": [list(op) for op in result.diff_ops()]},
    }


def compare_bundle(result: Any) -> dict[str, Any]:
    """text/plain, static text/html and the extension's JSON for a ``CompareResult``."""
    columns = [(o.label, displayable(o.result.text)[0] if o.result else "",
                o.footer) for o in result.outcomes]
    html = [columns_html(columns)]
    plain = [f"== {label}\n{text}\n[{footer}]" for label, text, footer in columns]
    line = result.aggregate_line
    if line:
        html.append(f"<p><b>Aggregate</b> {escape_html(line)}</p>")
        plain.append(f"== aggregate\n{line}")
    pair = result.diff_pair
    if pair is not None:
        a, b = (result.outcomes[i].label for i in pair)
        html.append(f"<p><b>Diff</b> ({escape_html(result.diff_mode)}): "
                    f"<del>{escape_html(a)}</del> → <ins>{escape_html(b)}</ins></p>"
                    + diff_html(result.diff_ops()))
    return {"text/plain": "\n\n".join(plain), "text/html": "".join(html),
            COMPARE_MIME: compare_json(result)}
