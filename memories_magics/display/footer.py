"""The footer under an answer, as short items the kernel writes once for every front end.

``footer_items`` is the one place that turns a result's bookkeeping into words: the text/plain
and Markdown footers join the items' texts, and the JupyterLab extension draws the same items
from the payload (styled by ``kind``), so the two can't drift. Only the normalised finish
reasons (vocabulary.json) are known here: ``length`` means the answer stopped at --max-tokens.
"""

from __future__ import annotations

from typing import Any, TypedDict


class FooterItem(TypedDict):
    """One piece of the footer: ``kind`` (see vocabulary.json ``footer_kinds``) and its text."""

    kind: str
    text: str


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} s"


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def cost_text(result: Any) -> str:
    """"$0 (local)", "<$0.0001 est." for a tiny cost, else "~$0.0123 est."."""
    if result.spec.type == "local":
        return "$0 (local)"
    cost = result.cost_usd
    return "<$0.0001 est." if 0 < cost < 0.00005 else f"~${cost:.4f} est."


def _state(response: Any) -> FooterItem | None:
    """Why an answer may be incomplete, from its normalised finish reason."""
    if response.interrupted:
        return {"kind": "interrupted", "text": "interrupted: partial answer, not cached"}
    if response.finish_reason in (None, "error"):
        why = f" ({response.error})" if response.error else ""
        return {"kind": "truncated",
                "text": f"truncated: the stream ended early{why}, not cached"}
    if response.error:  # e.g. an empty answer that claims it finished
        return {"kind": "error", "text": f"{response.error}, not cached"}
    if response.finish_reason == "length":
        return {"kind": "max_tokens", "text": "stopped at --max-tokens"}
    if response.finish_reason == "content_filter":
        return {"kind": "content_filter", "text": "stopped by the provider's content filter"}
    return None


def footer_items(result: Any) -> list[FooterItem]:
    """Model, tokens in/out, latency, first token, cost, then cache state, warnings, tool
    calls and the result's note (e.g. which fallback answered)."""
    response = result.response
    usage = response.usage
    items: list[FooterItem] = [
        {"kind": "model", "text": result.label},
        {"kind": "tokens", "text": f"{_count(usage.input_tokens)} in / "
                                   f"{_count(usage.output_tokens)} out tokens"},
        {"kind": "latency", "text": _seconds(response.latency_s)},
        {"kind": "first_token", "text": f"first token {_seconds(response.first_token_s)}"},
        {"kind": "cost", "text": cost_text(result)},
    ]
    if response.cached:
        items.append({"kind": "cached", "text": "cached"})
    state = _state(response)
    if state is not None:
        items.append(state)
    if result.tool_steps:
        count = len(result.tool_steps)
        replayed = " replayed from cache (functions not re-run)" if result.tools_replayed else ""
        items.append({"kind": "tools",
                      "text": f"{count} tool call{'s' * (count != 1)}{replayed}"})
    checked = getattr(result, "checked", None)
    if checked is not None and response.complete:
        items.append({"kind": "note", "text": f"valid {result.schema.name}"} if checked.ok else
                     {"kind": "error", "text": f"does not match {result.schema.name}"})
    if result.note:
        items.append({"kind": "note", "text": result.note})
    return items


def cut_item(shown: int, full: int) -> FooterItem:
    """The item that says a long answer was cut for display."""
    return {"kind": "cut", "text": f"showing {shown:,} of {full:,} characters "
                                   "(the full text is in the result: -o VAR or _.text)"}
