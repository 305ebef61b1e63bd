"""The few nouns every part of memories_magics speaks: Request, Chunk, Response, Usage.

A provider turns a :class:`Request` into a :class:`Response` (``complete``) or into an
iterator of :class:`Chunk` (``stream``); the engine caches and renders Responses.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import math
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
class ToolStep:
    """One call the model made during a ``--tools`` exchange and what it got back."""

    call: ToolCall
    result: str
    is_error: bool = False


#: The one vocabulary of finish reasons (see vocabulary.json); providers map theirs onto it.
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "error")
_FINISH_SPELLINGS = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "complete": "stop",
    "eos": "stop", "pause_turn": "stop",
    "length": "length", "max_tokens": "length", "model_length": "length",
    "tool_calls": "tool_calls", "tool_use": "tool_calls", "tool_call": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter", "refusal": "content_filter", "safety": "content_filter",
    "error_toxic": "content_filter", "error_limit": "length",
    "error": "error", "timeout": "error",
}


def finish_reason(raw: object) -> str | None:
    """A vendor's finish reason in our vocabulary: ``None`` stays ``None`` (the answer did not
    end); a spelling we don't know becomes ``error``, so it is shown but never cached."""
    if raw is None or raw == "":
        return None
    return _FINISH_SPELLINGS.get(str(getattr(raw, "value", raw)).lower(), "error")


@dataclass(frozen=True)
class ImageLimits:
    """What a provider takes per image: the longest side in pixels we send (larger images are
    sized down), the largest PNG, and the most images in one request."""

    max_side: int
    max_bytes: int
    max_images: int


@dataclass(frozen=True)
class Attachment:
    """One image as sent: a PNG sized for its provider, named by ``sha256``, the digest of its
    pixels (mode, size and raw bytes, so another zlib writing other PNG bytes keys the same).
    A message's image part names it by that digest; the bytes never enter a key or a record.
    ``name`` is what the cell called it (``fig``, ``{before}``), for display only."""

    sha256: str
    png: bytes = field(repr=False)
    width: int
    height: int
    name: str = ""

    def part(self) -> Message:
        """The neutral message part that places this image (what the cache key hashes)."""
        return {"type": "image", "sha256": self.sha256, "media_type": "image/png",
                "width": self.width, "height": self.height}

    def base64(self) -> str:
        """The PNG in base64 (Anthropic's ``source.data``)."""
        return base64.b64encode(self.png).decode("ascii")

    def data_url(self) -> str:
        """The PNG as a ``data:`` URL (OpenAI's, Mistral's and Cohere's ``image_url``)."""
        return f"data:image/png;base64,{self.base64()}"


#: Request fields left out of the key (and the record) while unset, so that keys recorded
#: before they existed stay the same: a local model's file digest, ``--schema``, the
#: ``tool_choice`` of a thread's cell that carries its earlier turns' tools.
_LATER_FIELDS = ("gguf_sha256", "schema", "tool_choice")


@dataclass(frozen=True)
class Request:
    """Everything that decides a model's answer; its :meth:`cache_key` is the cache key.

    ``model`` is the provider's own model name (``gpt-4o-mini``), ``provider`` the registry
    name (``openai``). Credentials and base URLs are deliberately not part of a request.
    ``gguf_sha256`` is a local model's file digest (``+`` its projector's, for a model that
    sees), so another file under the same name is another request (left out of
    :meth:`canonical` when unset, as for hosted models).
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
    gguf_sha256: str | None = None
    #: The JSON schema the answer must match (``--schema``; see :mod:`memories_magics.schema`).
    schema: dict[str, Any] | None = None
    #: ``"none"``: ``tools`` are only there for the history's tool calls (a thread's earlier
    #: turns used them; this cell gave none), the model may not call them. None: it may.
    tool_choice: str | None = None
    #: The images the messages' image parts name, with their bytes; not part of the key, the
    #: record, equality or repr (the parts carry each image's digest).
    attachments: tuple[Attachment, ...] = field(default=(), compare=False, repr=False,
                                                metadata={"recorded": False})

    @classmethod
    def from_prompt(cls, provider: str, model: str, prompt: str, **params: Any) -> Request:
        """A one-turn request: ``prompt`` as the single user message."""
        return cls(provider=provider, model=model,
                   messages=({"role": "user", "content": prompt},), **params)

    def canonical(self) -> str:
        """The request as canonical JSON (sorted keys, no whitespace); computed once per
        request, as :meth:`cache_key` is (a cache hit needs both)."""
        text: str | None = self.__dict__.get("_canonical")
        if text is not None:
            return text
        # The fields as they are (no deep copy: json.dumps writes tuples as lists, as
        # dataclasses.asdict's copies would be; the text, and so the key, is the same).
        fields = {name: getattr(self, name) for name in _RECORDED_FIELDS}
        for name in _LATER_FIELDS:  # unset: keys as before the field existed
            if fields[name] is None:
                del fields[name]
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=str)
        object.__setattr__(self, "_canonical", text)  # not a field: eq, repr unchanged
        return text

    def as_record(self) -> dict[str, Any]:
        """The request as a JSON-safe dict: what the cache key hashes and a record stores."""
        data = {name: copy.deepcopy(getattr(self, name)) for name in _RECORDED_FIELDS}
        for name in _LATER_FIELDS:
            if data[name] is None:
                del data[name]
        return data

    @classmethod
    def from_record(cls, data: Any) -> Request:
        """Inverse of :meth:`as_record`; a value of the wrong shape raises ``ValueError``."""
        if not isinstance(data, dict) or not set(data).issubset(_RECORDED_FIELDS):
            raise ValueError("a recorded request must be an object of request fields")
        messages, tools = data.get("messages"), data.get("tools", [])
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages) \
                or not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise ValueError("a recorded request needs a list of message objects")
        try:
            request = cls(**{**data, "messages": tuple(messages), "tools": tuple(tools)})
        except TypeError as exc:
            raise ValueError(f"a recorded request is malformed: {exc}") from None
        if not isinstance(request.provider, str) or not isinstance(request.model, str):
            raise ValueError("a recorded request needs a provider and a model name")
        return request

    def cache_key(self) -> str:
        """sha256 of :meth:`canonical`: equal requests share a key across kernels and machines
        (computed once per request: a run over 10,000 rows asks for each key twice)."""
        key: str | None = self.__dict__.get("_cache_key")
        if key is None:
            key = hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()
            object.__setattr__(self, "_cache_key", key)  # not a field: eq, repr unchanged
        return key

    @property
    def prompt(self) -> str:
        """The text of the last user message (for display; an image part adds nothing)."""
        for message in reversed(self.messages):
            content = message.get("content")
            if message.get("role") == "user" and isinstance(content, str):
                return content
            if message.get("role") == "user" and isinstance(content, list):
                return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return ""

    def attachment(self, sha256: str) -> Attachment:
        """The bytes of the image part naming ``sha256``; a request rebuilt from a record has
        none (a one-line :class:`UsageError`: re-run the cell that attaches it)."""
        for image in self.attachments:
            if image.sha256 == sha256:
                return image
        from .errors import UsageError

        raise UsageError(f"the image {sha256[:12]}… of this request is not in memory (a record "
                         "keeps only its digest); re-run the cell that attaches it")


#: The fields a request's key hashes and its record holds: every field not marked
#: ``metadata={"recorded": False}`` (the attachments' bytes), in declaration order.
_RECORDED_FIELDS = tuple(f.name for f in dataclasses.fields(Request)
                        if f.metadata.get("recorded", True))


@dataclass
class Usage:
    """Token counts as the provider reported them (``None`` when it did not)."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(slots=True)
class Chunk:
    """A piece of a streamed answer. The last chunk of a complete stream has ``finish_reason``."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[float, ...] = ()
    #: The model the provider says served this answer (e.g. a dated snapshot behind an alias).
    served_model: str | None = None


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
    #: The calls made on the way to this answer (``--tools``), in order.
    tool_steps: tuple[ToolStep, ...] = ()
    cached: bool = False
    interrupted: bool = False
    cache_key: str | None = None
    #: Why an incomplete answer ended (e.g. the connection dropped mid-stream).
    error: str | None = None
    #: Where the answer came from: SDK and version, served model, endpoint host,
    #: memories_magics version, when recorded; for local models the GGUF's sha256
    #: (see :func:`memories_magics.providers.base.Provider.provenance`).
    provenance: dict[str, str] = field(default_factory=dict)
    #: The validated value of an answer held to a schema (the engine checks it once); never
    #: recorded: a record keeps the text, and a reader checks it against its own schema.
    value: Any = field(default=None, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        """True when the provider said the answer ended (and it was not interrupted)."""
        return self.finish_reason is not None and not self.interrupted

    @property
    def cacheable(self) -> bool:
        """Whether this answer may be written to the cache: complete, ended normally (not by an
        error or at the tool-round limit), and not an empty "stop" (a failed proxy's reply)."""
        if not self.complete or self.finish_reason in ("error", "tool_calls") or self.error:
            return False
        return bool(self.text.strip() or self.tool_calls or self.finish_reason != "stop")

    @property
    def model_id(self) -> str:
        """``provider:model`` as a user types it."""
        return f"{self.provider}:{self.model}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (what the cache stores and the MIME bundle carries)."""
        data = dataclasses.asdict(dataclasses.replace(self, value=None))
        del data["value"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Response:
        """Inverse of :meth:`to_dict`; a value of the wrong shape (a tampered cache) raises
        ``ValueError``."""
        if not isinstance(data, dict):
            raise ValueError("a recorded answer must be a JSON object")
        known = _RESPONSE_FIELDS
        data = {k: v for k, v in data.items() if k in known}
        usage = data.get("usage") or {}
        if not isinstance(usage, dict) or not isinstance(data.get("text"), str):
            raise ValueError("a recorded answer needs a text and a usage object")
        data["usage"] = Usage(_count(usage.get("input_tokens")),
                              _count(usage.get("output_tokens")))
        try:
            data["tool_calls"] = tuple(ToolCall(**c) for c in data.get("tool_calls") or ())
            data["tool_steps"] = tuple(ToolStep(ToolCall(**s["call"]), s["result"], s["is_error"])
                                       for s in data.get("tool_steps") or ())
            data["logprobs"] = tuple(float(x) for x in data.get("logprobs") or ())
            provenance = data.get("provenance") or {}
            if not isinstance(provenance, dict) or not all(
                    isinstance(v, str) for v in provenance.values()):
                raise ValueError("provenance must be an object of texts")
            data["provenance"] = dict(provenance)
            return cls(**data)
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"a recorded answer is malformed: {exc}") from None

    @classmethod
    def from_chunks(cls, chunks: list[Chunk], request: Request, *, latency_s: float | None,
                    first_token_s: float | None) -> Response:
        """Assemble one streamed answer from its chunks (the last usage and finish reason
        seen win; text, tool calls and log-probabilities are concatenated)."""
        usage, finish, served = Usage(), None, None
        calls: list[ToolCall] = []
        logprobs: list[float] = []
        for chunk in chunks:
            served = chunk.served_model or served
            if chunk.usage is not None:
                usage = Usage(_count(chunk.usage.input_tokens) or usage.input_tokens,
                              _count(chunk.usage.output_tokens) or usage.output_tokens)
            finish = chunk.finish_reason or finish
            calls.extend(chunk.tool_calls)
            logprobs.extend(chunk.logprobs)
        return cls(text="".join(c.text for c in chunks), model=request.model,
                   provider=request.provider, finish_reason=finish_reason(finish), usage=usage,
                   latency_s=latency_s, first_token_s=first_token_s, tool_calls=tuple(calls),
                   logprobs=tuple(logprobs),
                   provenance={"served_model": served} if isinstance(served, str) else {})


#: Response's field names, looked up once (a cached run over 10,000 rows reads 10,000 answers).
_RESPONSE_FIELDS = frozenset(f.name for f in dataclasses.fields(Response)) - {"value"}


#: No answer has more tokens than this; a larger count is a server's nonsense, shown as unknown.
MAX_TOKEN_COUNT = 100_000_000


def _count(value: object) -> int | None:
    """A token count as reported, or ``None`` when it is not a sane non-negative integer
    (strings, lists, negatives and absurd numbers from a misbehaving server)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if math.isnan(value) or value < 0 or value > MAX_TOKEN_COUNT:
        return None
    return int(value)
