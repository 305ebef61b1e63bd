"""Rendering a result as a MIME bundle that reads well everywhere.

Every bundle has ``text/plain`` (terminals, nbconvert --to script), the chosen format
(``text/markdown`` for markdown/code, ``application/json``, ``text/html``) and
``application/vnd.memories-magics.result+json`` for the JupyterLab extension. Nothing volatile
beyond what the cache stores goes into a bundle, so a replayed notebook renders byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

from .footer import cut_item, footer_items
from .safe import code_fence, displayable, extract_code, safe_markdown, sandboxed_html

RESULT_MIME = "application/vnd.memories-magics.result+json"


def footer(result: Any) -> str:
    """One line: model, tokens in/out, latency, first token, estimated cost, cache state
    (the texts of :func:`~memories_magics.display.footer.footer_items`)."""
    return " · ".join(item["text"] for item in footer_items(result))


def tool_steps_text(result: Any) -> str:
    """One line per tool call: ``name(arguments) → result``."""
    return "\n".join(f"{s.call.name}({json.dumps(s.call.arguments, ensure_ascii=False)}) → "
                     f"{s.result}" for s in result.tool_steps)


def result_json(result: Any) -> dict[str, Any]:
    """The payload of the extension's MIME type (memories_magics/payload.schema.json)."""
    response, request = result.response, result.request
    text, cut = displayable(response.text)
    items = footer_items(result) + ([cut_item(len(text), len(response.text))] if cut else [])
    return {
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
    }


def result_bundle(result: Any) -> dict[str, Any]:
    """The full MIME bundle for an ``LLMResult`` in its chosen format."""
    text, cut = displayable(result.response.text)
    line = footer(result)
    if cut:
        line += (f" · showing {len(text):,} of {len(result.response.text):,} characters "
                 "(the full text is in the result: -o VAR or _.text)")
    bundle: dict[str, Any] = {"text/plain": f"{text}\n\n[{line}]",
                              RESULT_MIME: result_json(result)}
    small = f"\n\n<sub>{safe_markdown(line)}</sub>"
    if result.format == "markdown":
        bundle["text/markdown"] = safe_markdown(text) + small
    elif result.format == "code":
        code, language = extract_code(text)
        bundle["text/markdown"] = code_fence(code, language) + small
        bundle["text/plain"] = f"{code}\n\n[{line}]"
    elif result.format == "json":
        value = result.value
        if value is not None or text.strip() == "null":
            pretty = json.dumps(value, indent=2, ensure_ascii=False)
            bundle["application/json"] = value if isinstance(value, (dict, list)) else {"value": value}
            bundle["text/markdown"] = code_fence(pretty, "json") + small
        else:
            bundle["text/markdown"] = (safe_markdown(text) +
                                       "\n\n**The answer is not valid JSON.**" + small)
    elif result.format == "html":
        bundle["text/html"] = sandboxed_html(text) + f"<div><sub>{safe_markdown(line)}</sub></div>"
    if result.tool_steps:
        steps = tool_steps_text(result)
        bundle["text/plain"] += f"\n\ntool calls:\n{steps}"
        if "text/markdown" in bundle:
            bundle["text/markdown"] += (f"\n\n<details><summary>tool calls</summary>\n\n"
                                        f"{code_fence(steps, 'text')}\n\n</details>")
    return bundle


def streaming_bundle(text: str, label: str) -> dict[str, Any]:
    """What the output shows while tokens arrive (plain and escaped Markdown, with a cursor)."""
    text = displayable(text)[0]
    return {"text/plain": text, "text/markdown": safe_markdown(text) + " ▌" +
            f"\n\n<sub>{safe_markdown(label)} · streaming…</sub>"}


def table_bundle(headers: list[str], rows: list[list[Any]], title: str = "") -> dict[str, Any]:
    """A small table as Markdown and aligned plain text."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    plain = [title] if title else []
    plain.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    plain += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    md = [f"**{safe_markdown(title)}**\n"] if title else []
    md.append("| " + " | ".join(headers) + " |")
    md.append("|" + "---|" * len(headers))
    md += ["| " + " | ".join(safe_markdown(c).replace("|", "\\|") for c in r) + " |"
           for r in cells]
    return {"text/plain": "\n".join(plain), "text/markdown": "\n".join(md)}
