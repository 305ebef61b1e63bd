"""Anthropic Messages API through the official ``anthropic`` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import UsageError
from ..types import Chunk, ImageLimits, Request, Response, ToolCall, Usage, finish_reason
from .base import Provider, stainless_kind
from .chat_format import parse_arguments, served, served_name, wire_content

DEFAULT_MAX_TOKENS = 1024  # the Messages API requires max_tokens


class AnthropicProvider(Provider):
    """``anthropic:<model>``; key ``ANTHROPIC_API_KEY``, endpoint ``ANTHROPIC_BASE_URL``."""

    name = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    sdk = "anthropic"
    default_host = "api.anthropic.com"
    package_hint = "pip install anthropic"
    capabilities = frozenset({"streaming", "function_calling", "vision", "schema"})
    #: Anthropic resizes images whose long edge is over 1,568 px (we send them so sized) and
    #: takes at most 5 MB per image and 100 images per request through the API.
    image_limits = ImageLimits(max_side=1568, max_bytes=5_000_000, max_images=100)

    def _make_client(self) -> Any:
        import anthropic

        return anthropic.Anthropic(
            api_key=self.api_key().reveal(), base_url=self.base_url(),
            max_retries=self.setting("max_retries", 2), timeout=self.setting("timeout_s", 60),
            http_client=anthropic.DefaultHttpxClient(event_hooks=self.http_hooks()))

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "messages": _messages(request),
                                  "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if request.system:
            params["system"] = request.system
        # The SDK no longer declares sampling parameters (newer Claude models ignore or refuse
        # them), so they go in the body only when the user set them.
        sampling = {"temperature": request.temperature, "top_p": request.top_p}
        if any(v is not None for v in sampling.values()):
            params["extra_body"] = {k: v for k, v in sampling.items() if v is not None}
        if request.tools:
            params["tools"] = [{"name": t["name"], "description": t.get("description", ""),
                                "input_schema": t.get("parameters", {"type": "object"})}
                               for t in request.tools]
            params["tool_choice"] = {"type": request.tool_choice or "auto"}
        if request.schema is not None:
            params["output_config"] = {"format": output_format(request.schema)}
        return params

    def classify(self, exc: Exception) -> tuple[str, int | None]:
        import anthropic

        return stainless_kind(anthropic, exc) or super().classify(exc)

    def complete(self, request: Request) -> Response:
        with self.sdk_errors():
            raw = self.client().messages.create(**self._params(request))
            text = "".join(b.text for b in raw.content if b.type == "text")
            calls = tuple(ToolCall(b.id, b.name, dict(b.input)) for b in raw.content
                          if b.type == "tool_use")
            return Response(text=text, model=request.model, provider=self.name,
                            finish_reason=finish_reason(raw.stop_reason), tool_calls=calls,
                            usage=Usage(raw.usage.input_tokens, raw.usage.output_tokens),
                            provenance=served(getattr(raw, "model", None)))

    def stream(self, request: Request) -> Iterator[Chunk]:
        with self.sdk_errors(), self.client().messages.create(**self._params(request),
                                                              stream=True) as events:
            yield from _read_events(events)


def output_format(schema: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's structured output for ``schema``, in the form its API takes (the SDK's
    ``transform_schema``: constraints it can't enforce move into the descriptions)."""
    import anthropic

    try:
        return {"type": "json_schema", "schema": anthropic.transform_schema(schema)}
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"anthropic can't express this schema as a structured output ({exc}); "
                         "simplify it or use another model") from None


def _messages(request: Request) -> list[dict[str, Any]]:
    """Neutral messages as Anthropic's: tool calls are ``tool_use`` blocks of the assistant,
    tool results ``tool_result`` blocks of one following user turn."""
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if message.get("tool_calls"):
            text = [{"type": "text", "text": message["content"]}] if message.get("content") else []
            out.append({"role": "assistant", "content": text + [
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                for c in message["tool_calls"]]})
        elif message.get("role") == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"],
                     "content": message["content"], "is_error": message.get("is_error", False)}
            if out and out[-1].get("tool_results"):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block], "tool_results": True})
        else:
            out.append({**message, "content": wire_content(message.get("content"), request,
                                                           "anthropic")})
    for message in out:
        message.pop("tool_results", None)
    return out


def _read_events(events: Any) -> Iterator[Chunk]:
    """Anthropic's named SSE events as Chunks; tool_use blocks are emitted when they close."""
    input_tokens: int | None = None
    model: str | None = None
    blocks: dict[int, dict[str, Any]] = {}
    calls: list[ToolCall] = []
    for event in events:
        kind = event.type
        if kind == "message_start":
            input_tokens = event.message.usage.input_tokens
            model = served_name(getattr(event.message, "model", None))
        elif kind == "content_block_start" and event.content_block.type == "tool_use":
            block = event.content_block
            blocks[event.index] = {"id": block.id, "name": block.name, "json": ""}
        elif kind == "content_block_delta":
            if event.delta.type == "text_delta":
                yield Chunk(text=event.delta.text)
            elif event.delta.type == "input_json_delta" and event.index in blocks:
                blocks[event.index]["json"] += event.delta.partial_json
        elif kind == "content_block_stop" and event.index in blocks:
            block = blocks.pop(event.index)
            calls.append(ToolCall(block["id"], block["name"], parse_arguments(block["json"])))
        elif kind == "message_delta":
            # message_delta's usage is cumulative; newer servers repeat input_tokens in it
            # (message_start's may be a placeholder).
            yield Chunk(finish_reason=finish_reason(event.delta.stop_reason),
                        tool_calls=tuple(calls),
                        served_model=model,
                        usage=Usage(getattr(event.usage, "input_tokens", None) or input_tokens,
                                    event.usage.output_tokens))
