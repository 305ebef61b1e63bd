"""The few nouns every part of memories_magics speaks: Request, Chunk, Response, Usage.

A provider turns a :class:`Request` into a :class:`Response` (``complete``) or into an
iterator of :class:`Chunk` (``stream``); the engine caches and renders Responses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for: ``name(**arguments)``."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Request:
    """Everything that decides a model's answer; its :meth:`cache_key` is the cache key.

    ``model`` is the provider's own model name (``gpt-4o-mini``), ``provider`` the registry
    name (``openai``). Credentials and base URLs are deliberately not part of a request.
    """

    provider: str
    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    tools: tuple[dict[str, Any], ...] = ()
    logprobs: bool = False

    @classmethod
    def from_prompt(cls, provider: str, model: str, prompt: str, **params: Any) -> Request:
        """A one-turn request: ``prompt`` as the single user message."""
        return cls(provider=provider, model=model,
                   messages=({"role": "user", "content": prompt},), **params)

    def canonical(self) -> str:
        """The request as canonical JSON (sorted keys, no whitespace)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=str)

    def cache_key(self) -> str:
        """sha256 of :meth:`canonical`: equal requests share a key across kernels and machines."""
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @property
    def prompt(self) -> str:
        """The text of the last user message (for display)."""
        for message in reversed(self.messages):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return message["content"]
        return ""


@dataclass
class Usage:
    """Token counts as the provider reported them (``None`` when it did not)."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class Chunk:
    """A piece of a streamed answer. The last chunk of a complete stream has ``finish_reason``."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[float, ...] = ()


@dataclass
class Response:
    """A model's answer with its bookkeeping.

    ``finish_reason`` is ``None`` when the answer is incomplete (a dropped stream, an
    interrupt); such a response is shown but never cached.
    """

    text: str
    model: str
    provider: str
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float | None = None
    first_token_s: float | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[float, ...] = ()
    cached: bool = False
    interrupted: bool = False
    cache_key: str | None = None
    #: Why an incomplete answer ended (e.g. the connection dropped mid-stream).
    error: str | None = None

    @property
    def complete(self) -> bool:
        """True when the provider said the answer ended (and it was not interrupted)."""
        return self.finish_reason is not None and not self.interrupted

    @property
    def model_id(self) -> str:
        """``provider:model`` as a user types it."""
        return f"{self.provider}:{self.model}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (what the cache stores and the MIME bundle carries)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Response:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["usage"] = Usage(**data.get("usage") or {})
        data["tool_calls"] = tuple(ToolCall(**c) for c in data.get("tool_calls") or ())
        data["logprobs"] = tuple(data.get("logprobs") or ())
        return cls(**data)

    @classmethod
    def from_chunks(cls, chunks: list[Chunk], request: Request, *, latency_s: float | None,
                    first_token_s: float | None) -> Response:
        """Assemble a streamed answer from its chunks."""
        usage, finish, calls, logprobs = Usage(), None, [], []
        for chunk in chunks:
            if chunk.usage is not None:
                usage = Usage(chunk.usage.input_tokens or usage.input_tokens,
                              chunk.usage.output_tokens or usage.output_tokens)
            finish = chunk.finish_reason or finish
            calls.extend(chunk.tool_calls)
            logprobs.extend(chunk.logprobs)
        return cls(text="".join(c.text for c in chunks), model=request.model,
                   provider=request.provider, finish_reason=finish, usage=usage,
                   latency_s=latency_s, first_token_s=first_token_s, tool_calls=tuple(calls),
                   logprobs=tuple(logprobs))
