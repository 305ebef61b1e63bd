"""`Reply` (what the fake server should answer) and the helpers every wire format shares."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

DEFAULT_TEXT = "Hello from the fake server."


@dataclass
class Reply:
    """One scripted answer of the fake server.

    Provider-neutral: each wire module renders it in its provider's exact shape.
    """

    text: str = DEFAULT_TEXT
    status: int = 200
    error_message: str = "fake error"
    retry_after: float | None = None
    # Seconds slept before the response headers (any request, streaming or not).
    delay: float = 0.0
    # Streaming: slept before the first content chunk (headers and preamble events go out at once).
    first_chunk_delay: float = 0.0
    # Streaming: slept between content chunks.
    chunk_delay: float = 0.0
    chunks: list[str] | None = None
    # Streaming: send only this many content chunks, then end the stream without the
    # finish reason / stop event / [DONE].
    truncate_after: int | None = None
    # How a truncated stream ends: "drop" closes the socket in the middle of the chunked
    # body (the SDKs raise a connection/protocol error), "eof" ends the HTTP body cleanly
    # (the SDKs just stop iterating, with no finish reason).
    truncate_mode: str = "drop"
    # Neutral "stop" / "length" (translated per provider) or a provider's own value.
    finish_reason: str = "stop"
    input_tokens: int = 7
    output_tokens: int | None = None
    # [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]; the default
    # text is then left out (a text you set goes along: OpenAI content, Anthropic text block,
    # Cohere tool_plan).
    tool_calls: list[dict] | None = None
    # Per-token logprobs (openai/mistral and cohere formats), only if the request asks too.
    logprobs: bool = False
    # Model name echoed back; default: the request's "model".
    model: str | None = None
    # Misbehaving servers, each bounded: it gives up by itself after `misbehave_for` seconds.
    # Streaming: after the preamble, an SSE comment (a keep-alive) every this many seconds
    # and never any content.
    keepalive_every: float = 0.0
    # Non-streaming: the JSON body sent one byte at a time, this many seconds apart.
    body_byte_delay: float = 0.0
    # An HTML page (a proxy's login page) answered with `status` instead of the API's JSON.
    html: str | None = None
    misbehave_for: float = 30.0
    # Embeddings: numbers per vector, or the vectors to send verbatim (any JSON).
    dimension: int = 8
    vectors: Any = None

    # ------------------------------------------------------------------ text
    def text_pieces(self) -> list[str]:
        """The streamed text pieces ("".join(pieces) == full text). Empty when there is no text."""
        if self.chunks is not None:
            return list(self.chunks)
        if self.tool_calls and self.text == DEFAULT_TEXT:
            return []  # a tool-call-only answer carries no text unless one was given
        pieces = re.findall(r"\s*\S+", self.text)
        tail = self.text[len("".join(pieces)):]
        if tail:  # trailing whitespace rides on the last piece
            if pieces:
                pieces[-1] += tail
            else:
                pieces.append(tail)
        return pieces

    @property
    def full_text(self) -> str:
        return "".join(self.text_pieces())

    # ------------------------------------------------------------ tool calls
    def tools(self) -> list[ToolCall]:
        calls = []
        for i, tc in enumerate(self.tool_calls or []):
            args = tc.get("arguments", {})
            args_json = args if isinstance(args, str) else json.dumps(args)
            try:
                parsed = json.loads(args_json) if args_json else {}
            except ValueError:  # a deliberately malformed arguments string is sent as is
                parsed = {}
            calls.append(ToolCall(id=tc.get("id") or f"call_{i + 1}", name=tc["name"],
                                  arguments=parsed, arguments_json=args_json))
        return calls

    # ---------------------------------------------------------------- usage
    def completion_tokens(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        n = len(self.text_pieces())
        for tc in self.tools():
            n += len(split_arguments(tc.arguments_json))
        return n

    def model_for(self, body: dict | None) -> str:
        if self.model:
            return self.model
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            return body["model"]
        return "fake-model"


class ToolCall(NamedTuple):
    id: str
    name: str
    arguments: dict
    arguments_json: str


def split_arguments(arguments_json: str, size: int = 8) -> list[str]:
    """Split a tool call's JSON arguments into streamed pieces (joined, they give the JSON back)."""
    return [arguments_json[i:i + size] for i in range(0, len(arguments_json), size)] or [""]


# ----------------------------------------------------------- finish reasons
# neutral name -> (openai/mistral, anthropic, cohere)
_FINISH = {
    "stop": ("stop", "end_turn", "COMPLETE"),
    "length": ("length", "max_tokens", "MAX_TOKENS"),
    "tool_calls": ("tool_calls", "tool_use", "TOOL_CALL"),
    "stop_sequence": ("stop", "stop_sequence", "STOP_SEQUENCE"),
    "content_filter": ("content_filter", "refusal", "ERROR"),
    "error": ("error", "refusal", "ERROR"),
}
_COLUMN = {"openai": 0, "anthropic": 1, "cohere": 2}
_NEUTRAL = {}
for _neutral, _natives in _FINISH.items():
    for _native in _natives:
        _NEUTRAL.setdefault(_native, _neutral)
for _neutral in _FINISH:
    _NEUTRAL[_neutral] = _neutral


def finish_reason(reply: Reply, provider: str) -> str:
    """`reply.finish_reason` in `provider`'s vocabulary ("openai", "anthropic" or "cohere").

    With tool calls, a plain "stop" becomes the provider's tool-call reason.
    """
    neutral = _NEUTRAL.get(reply.finish_reason)
    if neutral is None:
        return reply.finish_reason  # unknown value: passed through as given
    if reply.tool_calls and neutral == "stop":
        neutral = "tool_calls"
    return _FINISH[neutral][_COLUMN[provider]]


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


# ------------------------------------------------------------------ stream
class Frame(NamedTuple):
    """One piece of a streamed body.

    `content` frames carry generated output (text or tool-call arguments): they are the
    ones counted by `truncate_after` and paced by `first_chunk_delay` / `chunk_delay`.
    """

    data: bytes
    content: bool = False


def sse(data: Any, event: str | None = None, content: bool = False) -> Frame:
    """A Server-Sent Event: optional `event:` line, one `data:` line, blank line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return Frame(f"{head}data: {payload}\n\n".encode(), content)


@dataclass
class Exchange:
    """Everything a wire module needs to render one answer."""

    body: dict
    headers: dict
    reply: Reply
    model: str = ""
    created: int = 0
    extra: dict = field(default_factory=dict)
