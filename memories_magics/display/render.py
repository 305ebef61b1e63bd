"""Rendering a result as a MIME bundle that reads well everywhere.

Every bundle has ``text/plain`` (terminals, nbconvert --to script; control sequences stripped),
``text/html`` (model Markdown rendered and sanitised by :mod:`.safe`, never raw
``text/markdown``), ``application/json`` for a ``-f json`` answer that parses, and
``application/vnd.memories-magics.result+json`` for the JupyterLab extension. Nothing volatile
beyond what the cache stores goes into a bundle, so a replayed notebook renders byte for byte.
"""

from __future__ import annotations

import json
from contextlib import suppress
from functools import cache
from importlib.resources import files
from typing import Any

from ..code_blocks import extract_code
from .footer import FooterItem, cut_item, footer_items
from .safe import code_html, displayable, escape_html, markdown_html, sandboxed_html
from .thumbnails import sent_items, sent_line, thumbnails_html

RESULT_MIME = "application/vnd.memories-magics.result+json"


def tool_steps_text(result: Any) -> str:
    """One line per tool call: ``name(arguments) → result``."""
    return "\n".join(f"{s.call.name}({json.dumps(s.call.arguments, ensure_ascii=False)}) → "
                     f"{s.result}" for s in result.tool_steps)


def result_json(result: Any) -> dict[str, Any]:
    """The payload of the extension's MIME type (memories_magics/payload.schema.json)."""
    return _payload(result, displayable(result.response.text), footer_items(result))


def _payload(result: Any, shown: tuple[str, bool], items: list[FooterItem]) -> dict[str, Any]:
    """:func:`result_json` from the answer as shown (its text and whether it was cut) and
    its footer items, which :func:`result_bundle` has already made."""
    response, request = result.response, result.request
    text, cut = shown
    items = items + ([cut_item(len(text), len(response.text))] if cut else [])
    payload: dict[str, Any] = {
        "text": text, "truncated": cut, "full_length": len(response.text),
        "format": result.format, "model": result.label,
        "model_id": response.model_id, "provider": response.provider,
        "parameters": {"system": request.system, "temperature": request.temperature,
                       "top_p": request.top_p, "max_tokens": request.max_tokens,
                       "seed": request.seed},
        "usage": {"input_tokens": response.usage.input_tokens,
                  "output_tokens": response.usage.output_tokens},
        "cost_usd": result.cost_usd, "latency_s": response.latency_s,
        "first_token_s": response.first_token_s, "finish_reason": response.finish_reason,
        "cached": response.cached, "interrupted": response.interrupted,
        "complete": response.complete, "cache_key": response.cache_key,
        "note": result.note or None, "footer_items": items,
        "tools_replayed": result.tools_replayed,
        "tool_steps": [{"name": s.call.name, "arguments": s.call.arguments,
                        "result": displayable(s.result)[0], "is_error": s.is_error}
                       for s in result.tool_steps],
        "provenance": {k: displayable(v)[0] for k, v in response.provenance.items()
                       if k in provenance_fields()},
    }
    if result.schema is not None:
        from .value_view import schema_payload

        payload["schema"] = schema_payload(result)  # only with --schema
    return payload


@cache
def provenance_fields() -> frozenset[str]:
    """The provenance fields the payload schema declares (a record's others are not shown)."""
    schema = json.loads(files("memories_magics").joinpath("payload.schema.json").read_text())
    return frozenset(schema["definitions"]["provenance"]["properties"])


def result_bundle(result: Any) -> dict[str, Any]:
    """The full MIME bundle for an ``LLMResult`` in its chosen format."""
    text, cut = displayable(result.response.text)
    items = footer_items(result)
    line = displayable(" · ".join(item["text"] for item in items))[0]
    if cut:
        line += (f" · showing {len(text):,} of {len(result.response.text):,} characters "
                 "(the full text is in the result: -o VAR or _.text)")
    payload, sent = _payload(result, (text, cut), items), sent_items(result.request)
    if sent:  # only with images (a %%compare shows them once, in its own payload)
        payload["sent"] = sent
    bundle: dict[str, Any] = {"text/plain": f"{text}\n\n[{line}]", RESULT_MIME: payload}
    body: str | None = None  # -f text: text/plain only
    if result.schema is not None:
        from .value_view import schema_html, schema_plain

        body = schema_html(result)
        bundle["text/plain"] = f"{schema_plain(result)}\n\n[{line}]"
    elif result.format == "code":
        code, language = extract_code(text)
        body = code_html(code, language)
        bundle["text/plain"] = f"{code}\n\n[{line}]"
    elif result.format == "json" and (result.value is not None or text.strip() == "null"):
        pretty, too_long = displayable(json.dumps(result.value, indent=2, ensure_ascii=False))
        if not too_long:
            with suppress(ValueError):  # the value as shown, secrets masked (if still JSON)
                shown = json.loads(pretty)
                bundle["application/json"] = (shown if isinstance(shown, (dict, list))
                                              else {"value": shown})
        body = code_html(pretty, "json")
    elif result.format == "json":
        body = markdown_html(text, shown=True) + \
            "<p><strong>The answer is not valid JSON.</strong></p>"
    elif result.format == "html":
        body = sandboxed_html(text)
    elif result.format == "markdown":
        body = markdown_html(text, shown=True)
    if result.tool_steps:
        steps = displayable(tool_steps_text(result))[0]
        bundle["text/plain"] += f"\n\ntool calls:\n{steps}"
        if body is not None:
            body += f"<details><summary>tool calls</summary>{code_html(steps)}</details>"
    if sent:  # what the model was shown, above its answer
        bundle["text/plain"] = f"[{sent_line(sent)}]\n\n{bundle['text/plain']}"
        body = thumbnails_html(sent) + (body if body is not None
                                        else f"<pre>{escape_html(text)}</pre>")
    if body is not None:
        bundle["text/html"] = body + _small(line)
    return bundle


def _small(line: str) -> str:
    """A footer line under an answer, as HTML."""
    return f"<p><sub>{escape_html(line)}</sub></p>"


def streaming_bundle(text: str, label: str) -> dict[str, Any]:
    """What the output shows while tokens arrive: plain text, and the Markdown rendered and
    cleaned as the final result is, with a cursor."""
    text = displayable(text)[0]
    label = displayable(label)[0]
    return {"text/plain": text,
            "text/html": markdown_html(text + " ▌", shown=True) + _small(f"{label} · streaming…")}


def table_bundle(headers: list[str], rows: list[list[Any]], title: str = "") -> dict[str, Any]:
    """A small table as HTML and aligned plain text (every cell escaped)."""
    title, headers = displayable(title)[0], [displayable(h)[0] for h in headers]
    cells = [[displayable(str(c))[0] for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    plain = [title] if title else []
    plain.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    plain += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
              for r in cells]

    def row(tag: str, values: list[str]) -> str:
        return "<tr>" + "".join(f"<{tag}>{escape_html(v)}</{tag}>" for v in values) + "</tr>"

    caption = f"<p><strong>{escape_html(title)}</strong></p>" if title else ""
    table = (f"{caption}<table><thead>{row('th', headers)}</thead><tbody>"
             + "".join(row("td", r) for r in cells) + "</tbody></table>")
    return {"text/plain": "\n".join(plain), "text/html": table}
