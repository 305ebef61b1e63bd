"""OpenAI Chat Completions wire format (`POST /v1/chat/completions`).

Also spoken by DeepSeek (through the openai SDK) and by Mistral (its own SDK, recognised by
its user agent, "mistral-client-python/..."), with Mistral's differences:

* usage always rides on the chunk carrying the finish reason (no `stream_options` needed);
* each streamed tool call arrives whole in one delta (Mistral's pydantic `FunctionCall`
  requires `name` in every tool-call delta, so OpenAI-style argument fragments would not
  validate);
* errors are `{"object": "error", "message", "type", "param", "code"}` and a 422 is
  `{"detail": [...]}`.
"""

from __future__ import annotations

from collections.abc import Iterator

from .reply import Exchange, Frame, finish_reason, new_id, split_arguments, sse

PROVIDER = "openai"

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def is_mistral(x: Exchange) -> bool:
    return "mistral" in x.headers.get("user-agent", "").lower()


def response_headers(x: Exchange) -> dict:
    if is_mistral(x):
        return {"mistral-correlation-id": new_id("")}
    return {"x-request-id": new_id("req_"), "openai-processing-ms": "1"}


def error_body(x: Exchange) -> dict:
    status, message = x.reply.status, x.reply.error_message
    if is_mistral(x):
        if status == 422:
            return {"detail": [{"type": "value_error", "loc": ["body"], "msg": message,
                                "input": None}]}
        kind = "invalid_request_error" if status < 500 else "internal_server_error"
        return {"object": "error", "message": message, "type": kind, "param": None,
                "code": str(status)}
    default = ("server_error" if status >= 500 else "invalid_request_error", None)
    kind, code = _ERROR_TYPES.get(status, default)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# ------------------------------------------------------------------ pieces
def _wants_logprobs(x: Exchange) -> bool:
    return bool(x.reply.logprobs and x.body.get("logprobs"))


def _logprob_entries(x: Exchange, pieces: list[str], start: int = 0) -> list[dict]:
    top_n = x.body.get("top_logprobs") or 0
    entries = []
    for i, token in enumerate(pieces, start):
        logprob = round(-0.1 * i, 6) or 0.0
        alternatives = [token] + [f"alt{k}" for k in range(1, int(top_n))]
        top = [{"token": alt, "logprob": round(logprob - k, 6), "bytes": list(alt.encode("utf-8")),
                "token_id": 1000 * k + i}  # token_id: required by Mistral's models
               for k, alt in enumerate(alternatives)][:int(top_n)]
        entries.append({"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8")),
                        "top_logprobs": top, "token_id": i})
    return entries


def _usage(x: Exchange) -> dict:
    out = x.reply.completion_tokens()
    usage = {"prompt_tokens": x.reply.input_tokens, "completion_tokens": out,
             "total_tokens": x.reply.input_tokens + out}
    if not is_mistral(x):
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0}
    return usage


def _tool_call(tc, index: int) -> dict:
    return {"id": tc.id, "type": "function", "index": index,
            "function": {"name": tc.name, "arguments": tc.arguments_json}}


# -------------------------------------------------------------- non-stream
def completion(x: Exchange) -> dict:
    r = x.reply
    pieces = r.text_pieces()
    tools = r.tools()
    message = {"role": "assistant", "content": "".join(pieces) if (pieces or not tools) else None}
    if tools:
        message["tool_calls"] = [_tool_call(tc, i) for i, tc in enumerate(tools)]
    if not is_mistral(x):
        message.update(refusal=None, annotations=[])
    choice = {"index": 0, "message": message, "logprobs": None,
              "finish_reason": finish_reason(r, PROVIDER)}
    if _wants_logprobs(x):
        choice["logprobs"] = {"content": _logprob_entries(x, pieces), "refusal": None}
    body = {"id": new_id("chatcmpl-"), "object": "chat.completion", "created": x.created,
            "model": x.model, "choices": [choice], "usage": _usage(x)}
    if not is_mistral(x):
        body.update(service_tier="default", system_fingerprint="fp_fake")
    return body


# ------------------------------------------------------------------ stream
def stream(x: Exchange) -> Iterator[Frame]:
    r = x.reply
    mistral = is_mistral(x)
    include_usage = bool((x.body.get("stream_options") or {}).get("include_usage")) and not mistral
    logprobs = _wants_logprobs(x)
    cid = new_id("chatcmpl-")

    def chunk(delta: dict, finish: str | None = None, lp: list | None = None, choices=True) -> dict:
        c = {"id": cid, "object": "chat.completion.chunk", "created": x.created, "model": x.model}
        if not mistral:
            c.update(service_tier="default", system_fingerprint="fp_fake")
        if choices:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            if lp is not None:
                choice["logprobs"] = {"content": lp, "refusal": None}
            c["choices"] = [choice]
        else:
            c["choices"] = []
        if include_usage:
            c["usage"] = None
        return c

    first = {"role": "assistant", "content": ""}
    if not mistral:
        first["refusal"] = None
    yield sse(chunk(first, lp=[] if logprobs else None))

    for i, piece in enumerate(r.text_pieces()):
        lp = _logprob_entries(x, [piece], start=i) if logprobs else None
        yield sse(chunk({"content": piece}, lp=lp), content=True)

    for index, tc in enumerate(r.tools()):
        if mistral:  # Mistral streams every tool call whole, in one delta
            yield sse(chunk({"tool_calls": [_tool_call(tc, index)]}), content=True)
            continue
        head = {"index": index, "id": tc.id, "type": "function",
                "function": {"name": tc.name, "arguments": ""}}
        yield sse(chunk({"tool_calls": [head]}))
        for piece in split_arguments(tc.arguments_json):
            yield sse(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                      content=True)

    last = chunk({}, finish=finish_reason(r, PROVIDER))
    if mistral:
        last["usage"] = _usage(x)
    yield sse(last)
    if include_usage:
        final = chunk({}, choices=False)
        final["usage"] = _usage(x)
        yield sse(final)
    yield sse("[DONE]")
