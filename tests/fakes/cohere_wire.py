"""Cohere v2 Chat wire format (`POST /v2/chat`).

Streams SSE events carrying both `event: <type>` and `data: {"type": <type>, ...}`:
message-start, content-start, content-delta, content-end (text) or tool-plan-delta,
tool-call-start, tool-call-delta, tool-call-end (tools), then message-end with
`delta.finish_reason` and `delta.usage`.
"""

from __future__ import annotations

from collections.abc import Iterator

from .reply import Exchange, Frame, finish_reason, new_id, split_arguments, sse

PROVIDER = "cohere"


def response_headers(x: Exchange) -> dict:
    return {}


def error_body(x: Exchange) -> dict:
    return {"id": new_id(""), "message": x.reply.error_message}


def _usage(x: Exchange) -> dict:
    out = x.reply.completion_tokens()
    tokens = {"input_tokens": x.reply.input_tokens, "output_tokens": out}
    return {"billed_units": dict(tokens), "tokens": dict(tokens)}


def _wants_logprobs(x: Exchange) -> bool:
    return bool(x.reply.logprobs and x.body.get("logprobs"))


def _logprob(piece: str, i: int) -> dict:
    return {"text": piece, "token_ids": [i], "logprobs": [round(-0.1 * i, 6) or 0.0]}


def _tool_call(tc) -> dict:
    return {"id": tc.id, "type": "function",
            "function": {"name": tc.name, "arguments": tc.arguments_json}}


def completion(x: Exchange) -> dict:
    r = x.reply
    pieces = r.text_pieces()
    message: dict = {"role": "assistant"}
    tools = r.tools()
    if tools:
        if pieces:
            message["tool_plan"] = "".join(pieces)
        message["tool_calls"] = [_tool_call(tc) for tc in tools]
    else:
        message["content"] = [{"type": "text", "text": "".join(pieces)}]
    body = {"id": x.extra.setdefault("id", new_id("")), "finish_reason": finish_reason(r, PROVIDER),
            "message": message, "usage": _usage(x)}
    if _wants_logprobs(x) and not tools:
        body["logprobs"] = [_logprob(p, i) for i, p in enumerate(pieces)]
    return body


def stream(x: Exchange) -> Iterator[Frame]:
    r = x.reply
    mid = x.extra.setdefault("id", new_id(""))
    pieces = r.text_pieces()
    tools = r.tools()

    def ev(data: dict, content: bool = False) -> Frame:
        return sse(data, data["type"], content=content)

    yield ev({"id": mid, "type": "message-start",
              "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "",
                                    "tool_calls": [], "citations": []}}})
    if tools:
        for piece in pieces:  # the text of a tool-calling answer is its tool plan
            yield ev({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}},
                     content=True)
        for index, tc in enumerate(tools):
            yield ev({"type": "tool-call-start", "index": index,
                      "delta": {"message": {"tool_calls": {
                          "id": tc.id, "type": "function",
                          "function": {"name": tc.name, "arguments": ""}}}}})
            for piece in split_arguments(tc.arguments_json):
                yield ev({"type": "tool-call-delta", "index": index,
                          "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}},
                         content=True)
            yield ev({"type": "tool-call-end", "index": index})
    else:
        yield ev({"type": "content-start", "index": 0,
                  "delta": {"message": {"content": {"type": "text", "text": ""}}}})
        for i, piece in enumerate(pieces):
            data = {"type": "content-delta", "index": 0,
                    "delta": {"message": {"content": {"text": piece}}}}
            if _wants_logprobs(x):
                data["logprobs"] = _logprob(piece, i)
            yield ev(data, content=True)
        yield ev({"type": "content-end", "index": 0})
    yield ev({"id": mid, "type": "message-end",
              "delta": {"finish_reason": finish_reason(r, PROVIDER), "usage": _usage(x)}})
