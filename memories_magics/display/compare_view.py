"""Static rendering of a comparison: columns, aggregate and diff as escaped HTML and plain text
(nbconvert, GitHub, VS Code, terminals), plus the JupyterLab extension's JSON, which is the one
interactive surface. Every text is cut for display as ``%%llm`` cuts an answer, and the diff is
computed once, over the texts shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..diff import diff_ops
from ..vocabulary import COMPARE_MIME
from .render import result_json
from .safe import displayable, escape_html
from .thumbnails import sent_items, sent_line, thumbnails_html

if TYPE_CHECKING:
    from ..compare import CompareResult

__all__ = ["COMPARE_MIME", "columns_html", "compare_bundle", "compare_json", "diff_html",
           "shown_diff"]

_COLUMN = ("flex:1 1 0;min-width:14em;border:1px solid rgba(128,128,128,.35);"
           "border-radius:4px;padding:.5em")
_MARK = {"insert": "background:rgba(46,160,67,.25);text-decoration:none",
         "delete": "background:rgba(248,81,73,.25)"}
_TAG = {"insert": "ins", "delete": "del"}
#: Word and character marks coloured where a viewer keeps <style> (nbconvert, VS Code, Lab);
#: elsewhere (GitHub) they stay struck out / underlined, the tags' own look.
_DIFF_CLASS = "memories-magics-static-diff"
_DIFF_STYLE = (f"<style>.{_DIFF_CLASS} ins{{{_MARK['insert']}}}"
               f".{_DIFF_CLASS} del{{{_MARK['delete']}}}</style>")
_GUTTER = {"equal": " ", "delete": "-", "insert": "+"}
_PLAIN = {"delete": ("[-", "-]"), "insert": ("{+", "+}")}


def columns_html(columns: list[tuple[str, str, str]]) -> str:
    """``(label, text, footer)`` columns side by side; everything escaped, texts cut."""
    cells = "".join(
        f'<div style="{_COLUMN}"><div><b>{escape_html(label)}</b></div>'
        f'<div style="white-space:pre-wrap;overflow-wrap:break-word;margin:.4em 0">'
        f'{escape_html(displayable(text)[0])}</div>'
        f'<div style="opacity:.7;font-size:85%">{escape_html(footer)}</div></div>'
        for label, text, footer in columns)
    return f'<div style="display:flex;gap:.5em;flex-wrap:wrap">{cells}</div>'


def _lines(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Line-diff ops as one ``(op, line)`` row per line (newline dropped)."""
    return [(op, line) for op, text in ops for line in text.splitlines()]


def _spaced(ops: list[tuple[str, str]], mode: str) -> list[tuple[str, str]]:
    """Word ops with a space between a deletion and the insertion that replaces it when
    neither brings its own, so the two words don't read as one ("often classified")."""
    out: list[tuple[str, str]] = []
    for i, (op, text) in enumerate(ops):
        out.append((op, text))
        after = ops[i + 1] if i + 1 < len(ops) else None
        if mode == "word" and op == "delete" and after is not None and after[0] == "insert" \
                and not text[-1:].isspace() and not after[1][:1].isspace():
            out.append(("gap", " "))
    return out


def diff_html(ops: list[tuple[str, str]], mode: str = "word") -> str:
    """Diff operations as escaped HTML: inline marks for words and characters, one row per
    line with a -/+ gutter for lines."""
    if mode == "line":
        rows = "".join(
            f'<div style="{_MARK.get(op, "")}">{_GUTTER[op]} {escape_html(line)}</div>'
            for op, line in _lines(ops))
        return f'<div style="white-space:pre-wrap;font-family:monospace">{rows}</div>'
    parts = [escape_html(text) if op in ("equal", "gap") else
             f"<{_TAG[op]}>{escape_html(text)}</{_TAG[op]}>" for op, text in _spaced(ops, mode)]
    return (f'{_DIFF_STYLE}<div class="{_DIFF_CLASS}" style="white-space:pre-wrap;'
            f'overflow-wrap:break-word">{"".join(parts)}</div>')


def diff_text(ops: list[tuple[str, str]], mode: str = "word") -> str:
    """Diff operations as plain text: ``[-old-]{+new+}`` inline, or -/+ lines."""
    if mode == "line":
        return "\n".join(f"{_GUTTER[op]} {line}" for op, line in _lines(ops))
    return "".join(text if op in ("equal", "gap") else _PLAIN[op][0] + text + _PLAIN[op][1]
                   for op, text in _spaced(ops, mode))


def shown_diff(result: CompareResult, a: int | None = None, b: int | None = None,
               mode: str | None = None) -> list[tuple[str, str]]:
    """Differences between outcomes ``a`` and ``b`` of a ``CompareResult`` (default: its shown
    pair and mode) over the texts as displayed (cut like any long answer) without their
    trailing whitespace (blank lines a model ends with are no difference to a reader); each
    pair and mode is computed once and kept in ``result.diffs``."""
    pair = result.diff_pair or (0, 0)
    key = (pair[0] if a is None else a, pair[1] if b is None else b, mode or result.diff_mode)
    if key not in result.diffs:
        first, second = (result.outcomes[i].result for i in key[:2])
        result.diffs[key] = list(diff_ops(displayable(first.text)[0].rstrip() if first else "",
                                          displayable(second.text)[0].rstrip() if second else "",
                                          key[2]))
    return result.diffs[key]


def fields_table(result: Any) -> dict[str, str]:
    """``%%compare --schema``: one row per field, a column per model (– where a model has no
    valid value or no such field) and the agreement, as HTML and plain text."""
    from .render import table_bundle

    labels = [o.label for o in result.outcomes]
    rows = [[row.path, *("–" if v is None else v for v in row.values), row.agreement]
            for row in result.fields]
    name = displayable(result.schema.name)[0]
    return table_bundle(["field", *labels, "agree"], rows, f"{name}, field by field")


def _column(outcome: Any) -> dict[str, Any]:
    if outcome.result is not None:
        return {**result_json(outcome.result), "error": None}
    return {"model": outcome.label, "model_id": outcome.spec.model_id, "text": "",
            "error": outcome.error,
            "footer_items": [{"kind": "model", "text": outcome.label},
                             {"kind": "error", "text": f"error: {outcome.error}"}]}


def _footer(column: dict[str, Any]) -> str:
    return " · ".join(item["text"] for item in column["footer_items"])


def compare_json(result: Any, ops: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The payload of the extension's compare MIME type (memories_magics/payload.schema.json);
    ``ops`` is the shown pair's diff when the caller has it already. Every model was sent the
    same images: ``sent`` (only when there were any) is theirs, once."""
    aggregate, pair = result.aggregate, result.diff_pair
    payload: dict[str, Any] = {
        "prompt": displayable(result.prompt)[0],
        "results": [_column(outcome) for outcome in result.outcomes],
        "aggregate": None if aggregate is None else {
            "method": aggregate.method, "winner": aggregate.winner, "score": aggregate.score,
            "explanation": aggregate.explanation, "line": result.aggregate_line,
            "text": displayable(aggregate.text)[0]},
        "diff": None if pair is None else {
            "mode": result.diff_mode, "a": pair[0], "b": pair[1],
            "ops": [list(op) for op in (shown_diff(result) if ops is None else ops)]},
    }
    request = sent_request(result)
    if request is not None:
        payload["sent"] = sent_items(request)
    return payload


def sent_request(result: Any) -> Any:
    """The first request of a comparison that sent images (None when none did)."""
    return next((o.request for o in result.outcomes if o.request.attachments), None)


def compare_bundle(result: Any) -> dict[str, Any]:
    """text/plain, static text/html and the extension's JSON for a ``CompareResult``."""
    ops = shown_diff(result) if result.diff_pair is not None else []
    payload = compare_json(result, ops)
    columns = [(column["model"], column["text"], _footer(column))
               for column in payload["results"]]
    html = [columns_html(columns)]
    plain = [f"== {label}\n{text}\n[{footer}]" for label, text, footer in columns]
    if result.schema is not None:
        table = fields_table(result)
        html.insert(0, table["text/html"])
        plain.insert(0, table["text/plain"])
    if "sent" in payload:  # every model was sent the same images: shown once, above
        html.insert(0, thumbnails_html(payload["sent"]))
        plain.insert(0, f"[{sent_line(payload['sent'])}]")
    line = result.aggregate_line
    if line:
        html.append(f"<p><b>Aggregate</b> {escape_html(line)}</p>")
        plain.append(f"== aggregate\n{line}")
    if result.diff_pair is not None:
        a, b = (result.outcomes[i].label for i in result.diff_pair)
        mode = result.diff_mode
        html.append(f"<p><b>Diff</b> ({escape_html(mode)}): <del>{escape_html(a)}</del> → "
                    f"<ins>{escape_html(b)}</ins></p>" + diff_html(ops, mode))
        plain.append(f"== diff ({mode}): [-{a}-] → {{+{b}+}}\n{diff_text(ops, mode)}")
    return {"text/plain": "\n\n".join(plain), "text/html": "".join(html),
            COMPARE_MIME: payload}
