"""The tool messages of a chat request, checked as each provider's API checks them.

`problem(provider, body, mistral)` is what the real API would answer with a 400 (None when the
request's tool history is well formed): Anthropic refuses ``tool_use``/``tool_result`` blocks
in a request that defines no tools; Mistral refuses tool-call ids that are not 9 letters or
digits; every chat API refuses a tool result that answers no earlier call.
"""

from __future__ import annotations

import re

_MISTRAL_ID = re.compile(r"[a-zA-Z0-9]{9}\Z")


def _blocks(body: dict) -> list[dict]:
    return [part for message in body.get("messages") or []
            if isinstance(message, dict) and isinstance(message.get("content"), list)
            for part in message["content"] if isinstance(part, dict)]


def _anthropic(body: dict) -> str | None:
    blocks = _blocks(body)
    if not body.get("tools") and any(b.get("type") in ("tool_use", "tool_result")
                                     for b in blocks):
        return "Requests which include `tool_use` or `tool_result` blocks must define tools."
    called = set()
    for block in blocks:
        if block.get("type") == "tool_use":
            called.add(block.get("id"))
        elif block.get("type") == "tool_result" and block.get("tool_use_id") not in called:
            return ("unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{block.get('tool_use_id')}")
    return None


def _chat(body: dict, mistral: bool) -> str | None:
    called = set()
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        for call in message.get("tool_calls") or []:
            called.add(call.get("id"))
            if mistral and not _MISTRAL_ID.match(str(call.get("id"))):
                return (f"Tool call id was {call.get('id')} but must be a-z, A-Z, 0-9, with a "
                        "length of 9.")
        if message.get("role") == "tool" and message.get("tool_call_id") not in called:
            return ("Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.")
    return None


def problem(provider: str, body: dict, mistral: bool = False) -> str | None:
    """What the provider's API would say is wrong with the request's tool messages."""
    if provider == "anthropic":
        return _anthropic(body)
    return _chat(body, mistral)
