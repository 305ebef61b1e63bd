"""Reading the OpenAI chat-completions shape, which OpenAI, DeepSeek and Mistral all answer in.

The functions read attributes only, so they work on the openai SDK's and mistralai's parsed
objects alike.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import string
from typing import Any

from ..types import Chunk, Request, Response, ToolCall, Usage, finish_reason


def chat_messages(request: Request, dialect: str = "openai") -> list[dict[str, Any]]:
    """The request's messages in the chat-completions shape, system prompt first.

    Neutral tool messages (see :mod:`memories_magics.tools`) are translated for ``dialect``:
    ``openai`` (also DeepSeek), ``mistral`` (tool results carry the tool's name, tool-call
    ids are 9 letters and digits: see :func:`mistral_call_id`) or ``cohere`` (the assistant's
    text before tool calls is its ``tool_plan``).
    """
    out: list[dict[str, Any]] = [{"role": "system", "content": request.system}] \
        if request.system else []
    wire_id = mistral_call_id if dialect == "mistral" else str
    for message in request.messages:
        if message.get("tool_calls"):
            calls = [{"id": wire_id(c["id"]), "type": "function",
                      "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                     for c in message["tool_calls"]]
            text_key = "tool_plan" if dialect == "cohere" else "content"
            out.append({"role": "assistant", text_key: message.get("content") or "",
                        "tool_calls": calls})
        elif message.get("role") == "tool":
            result = {"role": "tool", "tool_call_id": wire_id(message["tool_call_id"]),
                      "content": message["content"]}
            if dialect == "mistral":
                result["name"] = message["name"]
            out.append(result)
        else:
            out.append({**message, "content": wire_content(message.get("content"), request,
                                                           dialect)})
    return out


#: The tool-call ids Mistral takes: exactly 9 letters or digits.
_MISTRAL_ID = re.compile(r"[a-zA-Z0-9]{9}\Z")
_BASE62 = string.digits + string.ascii_letters


def mistral_call_id(call_id: str) -> str:
    """``call_id`` as Mistral takes it: its own ids as they are; another provider's (a
    thread's fallback answered there) as 9 letters and digits made from its sha256, so the
    call and its result keep matching and every run sends the same."""
    if _MISTRAL_ID.match(call_id):
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode("utf-8")).digest()[:8], "big")
    return "".join(_BASE62[number // 62 ** i % 62] for i in range(9))


def wire_content(content: Any, request: Request, dialect: str) -> Any:
    """A message's content as ``dialect`` takes it: text as it is; neutral parts (see
    :mod:`memories_magics.images`) as text parts and images, the PNG inlined: OpenAI's and
    Cohere v2's ``image_url`` object with a data URL, Mistral's ``image_url`` string, Anthropic's
    base64 ``image`` block."""
    if not isinstance(content, list):
        return content
    out: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") != "image":
            out.append({"type": "text", "text": part.get("text", "")})
            continue
        image = request.attachment(part["sha256"])
        if dialect == "anthropic":
            out.append({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                    "data": image.base64()}})
        elif dialect == "mistral":
            out.append({"type": "image_url", "image_url": image.data_url()})
        else:
            out.append({"type": "image_url", "image_url": {"url": image.data_url()}})
    return out


def chat_params(request: Request, dialect: str = "openai", *, top_p: str = "top_p",
                seed: str = "seed") -> dict[str, Any]:
    """Keyword arguments for a chat-completions call: model, messages, the sampling parameters
    that are set (under this SDK's names for top-p and seed) and the tools."""
    params: dict[str, Any] = {"model": request.model,
                              "messages": chat_messages(request, dialect)}
    optional = {"temperature": request.temperature, top_p: request.top_p,
                "max_tokens": request.max_tokens, seed: request.seed}
    params.update({k: v for k, v in optional.items() if v is not None})
    if request.tools:
        params["tools"] = [{"type": "function", "function": t} for t in request.tools]
        if dialect == "cohere":  # v2 takes REQUIRED or NONE, and no choice means auto
            if request.tool_choice == "none":
                params["tool_choice"] = "NONE"
        else:  # llama.cpp's server ignores tools without it
            params["tool_choice"] = request.tool_choice or "auto"
    if request.logprobs:
        params["logprobs"] = True
    if request.schema is not None:
        params["response_format"] = response_format(request.schema, dialect)
    return params


def response_format(schema: dict[str, Any], dialect: str = "openai") -> dict[str, Any]:
    """The ``response_format`` that holds an answer to ``schema``: OpenAI's and Mistral's
    ``json_schema`` (strict when :func:`strict_schema` can make it so), Cohere's
    ``json_object`` with the schema."""
    if dialect == "cohere":
        return {"type": "json_object", "json_schema": schema}
    from ..schema import wire_name

    strict = strict_schema(schema)
    return {"type": "json_schema", "json_schema": {
        "name": wire_name(schema), "schema": schema if strict is None else strict,
        "strict": strict is not None}}


#: Keywords that strict structured outputs (OpenAI's, Mistral's) do not accept.
_NOT_STRICT = frozenset({
    "allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "patternProperties", "unevaluatedProperties", "propertyNames", "minProperties",
    "maxProperties", "unevaluatedItems", "contains", "minContains", "maxContains",
    "uniqueItems"})
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")
_SUBSCHEMAS = ("items", "anyOf", "prefixItems")


def strict_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """``schema`` as strict mode takes it, as the openai SDK prepares a pydantic model's: every
    object closed (``additionalProperties: false``) and every property listed as required,
    references without siblings. None when the schema says what strict mode can't (an open
    object, ``oneOf``, ``patternProperties``, ...): it is then sent without ``strict``.
    Hand-written because the SDK's version is private and only for pydantic types."""
    strict = copy.deepcopy(schema)
    return strict if _make_strict(strict) else None


def _make_strict(node: Any) -> bool:
    if isinstance(node, list):
        return all(_make_strict(item) for item in node)
    if not isinstance(node, dict) or _NOT_STRICT & node.keys():
        return False  # a boolean schema, or a keyword strict mode refuses
    if "$ref" in node:
        for key in [k for k in node if k not in ("$ref", "$defs", "definitions")]:
            del node[key]
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties", False) is not False:
            return False
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties") or {})
    maps = [v for k in _SUBSCHEMA_MAPS if isinstance(v := node.get(k), dict)]
    return all(_make_strict(sub) for m in maps for sub in m.values()) and \
        all(_make_strict(node[k]) for k in _SUBSCHEMAS if k in node)


def schema_instruction(schema: dict[str, Any]) -> str:
    """What a model in plain JSON mode is told (DeepSeek's, which takes no schema itself)."""
    return ("Answer with only a JSON object that matches this JSON schema:\n"
            + json.dumps(schema, ensure_ascii=False))


def with_instruction(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """``messages`` with ``text`` added to the system prompt (one made if there is none)."""
    if messages and messages[0].get("role") == "system":
        first = {**messages[0], "content": f"{messages[0]['content']}\n\n{text}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))


def _logprobs(choice: Any) -> tuple[float, ...]:
    content = getattr(getattr(choice, "logprobs", None), "content", None) or ()
    return tuple(float(item.logprob) for item in content)


def parse_arguments(raw: Any) -> dict[str, Any]:
    """A tool call's arguments as a dict, tolerating malformed JSON from the model."""
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {"_unparsed": raw}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


def parse_completion(raw: Any, request: Request) -> Response:
    """A non-streamed chat completion as a Response."""
    choice = raw.choices[0]
    calls = tuple(ToolCall(id=c.id, name=c.function.name,
                           arguments=parse_arguments(c.function.arguments))
                  for c in getattr(choice.message, "tool_calls", None) or ())
    return Response(text=_text(choice.message.content), model=request.model,
                    provider=request.provider, finish_reason=finish_reason(choice.finish_reason),
                    usage=_usage(raw.usage) or Usage(), tool_calls=calls,
                    logprobs=_logprobs(choice), provenance=served(getattr(raw, "model", None)))


def served_name(model: Any) -> str | None:
    """The model a server says answered, if it said one (at most 200 characters)."""
    return model[:200] if isinstance(model, str) and model.strip() else None


def served(model: Any) -> dict[str, str]:
    """That name as provenance (nothing when the server said nothing)."""
    name = served_name(model)
    return {"served_model": name} if name else {}


class ChunkReader:
    """Turns streamed chat-completion chunks into Chunks, gathering tool-call deltas."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def read(self, raw: Any) -> Chunk:
        """One streamed chunk; tool calls are emitted whole with the finish reason."""
        usage = getattr(raw, "usage", None)
        model = served_name(getattr(raw, "model", None))
        if not raw.choices:
            return Chunk(usage=_usage(usage), served_model=model)
        choice = raw.choices[0]
        delta = choice.delta
        for part in getattr(delta, "tool_calls", None) or ():
            call = self._calls.setdefault(part.index or 0, {"id": "", "name": "", "args": ""})
            call["id"] = part.id or call["id"]
            if part.function is not None:
                call["name"] += part.function.name or ""
                call["args"] += part.function.arguments or ""
        finish = finish_reason(choice.finish_reason)
        if finish is None and usage is None and getattr(choice, "logprobs", None) is None:
            return Chunk(text=_text(delta.content), served_model=model)  # most chunks
        calls: tuple[ToolCall, ...] = ()
        if finish and self._calls:
            calls = tuple(ToolCall(c["id"], c["name"], parse_arguments(c["args"]))
                          for _, c in sorted(self._calls.items()))
        return Chunk(text=_text(delta.content), finish_reason=finish, usage=_usage(usage),
                     tool_calls=calls, logprobs=_logprobs(choice), served_model=model)
