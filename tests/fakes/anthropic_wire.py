"""Anthropic Messages wire format (`POST /v1/messages`).

Streams named SSE events: message_start, content_block_start, ping, content_block_delta
(text_delta / input_json_delta), content_block_stop, message_delta, message_stop.
"""

from __future__ import annotations

from collections.abc import Iterator

from .reply import Exchange, Frame, finish_reason, new_id, split_arguments, sse

PROVIDER = "anthropic"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def response_headers(x: Exchange) -> dict:
    return {"request-id": x.extra.setdefault("request_id", new_id("req_"))}


def error_body(x: Exchange) -> dict:
    status = x.reply.status
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": x.reply.error_message},
            "request_id": x.extra.setdefault("request_id", new_id("req_"))}


def _usage(x: Exchange, output_tokens: int) -> dict:
    return {"input_tokens": x.reply.input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "service_tier": "standard"}


def _message(x: Exchange, content: list, stop_reason, usage: dict) -> dict:
    return {"id": x.extra.setdefault("message_id", new_id("msg_")), "type": "message",
            "role": "assistant", "model": x.model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}


def completion(x: Exchange) -> dict:
    r = x.reply
    content = []
    text = r.full_text
    if text or not r.tool_calls:
        content.append({"type": "text", "text": text})
    for tc in r.tools():
        content.append({"type": "tool_use", "id": tc.id, "name": tc.name, "input": tc.arguments})
    return _message(x, content, finish_reason(r, PROVIDER), _usage(x, r.completion_tokens()))


def stream(x: Exchange) -> Iterator[Frame]:
    r = x.reply
    yield sse({"type": "message_start", "message": _message(x, [], None, _usage(x, 1))},
              "message_start")
    index = 0
    pieces = r.text_pieces()
    if pieces or not r.tool_calls:
        yield sse({"type": "content_block_start", "index": index,
                   "content_block": {"type": "text", "text": ""}}, "content_block_start")
        yield sse({"type": "ping"}, "ping")
        for piece in pieces:
            yield sse({"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": piece}},
                      "content_block_delta", content=True)
        yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    for tc in r.tools():
        block = {"type": "tool_use", "id": tc.id, "name": tc.name, "input": {}}
        yield sse({"type": "content_block_start", "index": index, "content_block": block},
                  "content_block_start")
        yield sse({"type": "content_block_delta", "index": index,
                   "delta": {"type": "input_json_delta", "partial_json": ""}},
                  "content_block_delta")
        for piece in split_arguments(tc.arguments_json):
            yield sse({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": piece}},
                      "content_block_delta", content=True)
        yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    yield sse({"type": "message_delta",
               "delta": {"stop_reason": finish_reason(r, PROVIDER), "stop_sequence": None},
               "usage": {"output_tokens": r.completion_tokens()}}, "message_delta")
    yield sse({"type": "message_stop"}, "message_stop")
