"""Cohere v2 chat through the official ``cohere`` SDK (``cohere.ClientV2``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..embedding import Embedded, EmbedLimits, checked_vectors
from ..types import Chunk, ImageLimits, Request, Response, ToolCall, Usage, finish_reason
from .base import Provider
from .chat_format import chat_params, parse_arguments


class CohereProvider(Provider):
    """``cohere:<model>``; key ``COHERE_API_KEY`` (or the SDK's ``CO_API_KEY``), endpoint
    ``COHERE_BASE_URL``."""

    name = "cohere"
    key_env = "COHERE_API_KEY"
    alt_key_envs = ("CO_API_KEY",)
    base_url_env = "COHERE_BASE_URL"
    default_base_url = "https://api.cohere.com"
    sdk = "cohere"
    package_hint = "pip install cohere"
    capabilities = frozenset({"streaming", "function_calling", "vision", "schema", "embeddings"})
    #: Cohere's vision models (Command A Vision) take up to 20 images and 20 MB per request;
    #: we send at most 2,048 px on the long side and 20 MB per image.
    image_limits = ImageLimits(max_side=2048, max_bytes=20_000_000, max_images=20)
    #: Cohere's v2 embed takes at most 96 texts per call (embed-v4.0 reads 128k tokens per
    #: text; the v3 models 512, cut at the end by the server's default ``truncate``).
    embed_limits = EmbedLimits(max_texts=96, max_bytes=500_000)
    embed_input_type = True

    def _make_client(self) -> Any:
        import cohere
        import httpx

        return cohere.ClientV2(api_key=self.api_key().reveal(), base_url=self.base_url(),
                               max_retries=self.setting("max_retries", 2),
                               timeout=self.setting("timeout_s", 60),
                               httpx_client=httpx.Client(event_hooks=self.http_hooks(),
                                                         follow_redirects=True),
                               log_warning_experimental_features=False)

    def _params(self, request: Request) -> dict[str, Any]:
        return chat_params(request, "cohere", top_p="p")

    def classify(self, exc: Exception) -> tuple[str, int | None]:
        from cohere.core.api_error import ApiError

        if isinstance(exc, ApiError) and isinstance(exc.status_code, int):
            return "status", exc.status_code
        return super().classify(exc)

    def complete(self, request: Request) -> Response:
        with self.sdk_errors():
            raw = self.client().chat(**self._params(request))
            message = raw.message
            text = "".join(getattr(part, "text", "") or "" for part in message.content or ())
            calls = tuple(ToolCall(c.id, c.function.name, parse_arguments(c.function.arguments))
                          for c in message.tool_calls or ())
            return Response(text=text, model=request.model, provider=self.name,
                            finish_reason=finish_reason(raw.finish_reason),
                            usage=_usage(raw.usage), tool_calls=calls)

    def stream(self, request: Request) -> Iterator[Chunk]:
        return self.retry_before_first_chunk(lambda: self._stream_once(request))

    def _stream_once(self, request: Request) -> Iterator[Chunk]:
        calls: dict[int, dict[str, str]] = {}
        with self.sdk_errors():
            for event in self.client().chat_stream(**self._params(request)):
                if event.type == "content-delta":
                    yield Chunk(text=event.delta.message.content.text or "")
                elif event.type == "tool-call-start":
                    call = event.delta.message.tool_calls
                    calls[event.index or 0] = {"id": call.id, "name": call.function.name,
                                               "args": call.function.arguments or ""}
                elif event.type == "tool-call-delta":
                    calls[event.index or 0]["args"] += \
                        event.delta.message.tool_calls.function.arguments or ""
                elif event.type == "message-end":
                    yield Chunk(finish_reason=finish_reason(event.delta.finish_reason),
                                usage=_usage(event.delta.usage),
                                tool_calls=tuple(ToolCall(c["id"], c["name"],
                                                          parse_arguments(c["args"]))
                                                 for _, c in sorted(calls.items())))

    def embed(self, model: str, texts: list[str], input_type: str | None) -> Embedded:
        with self.sdk_errors():
            raw = self.client().embed(model=model, texts=texts,
                                      input_type=input_type or "search_document",
                                      embedding_types=["float"])
            vectors = getattr(raw.embeddings, "float_", None)
            billed = getattr(getattr(raw, "meta", None), "billed_units", None)
            tokens = getattr(billed, "input_tokens", None)
            return Embedded(checked_vectors(vectors, len(texts), self.name),
                            None if tokens is None else int(tokens))


def _usage(usage: Any) -> Usage:
    tokens = getattr(usage, "tokens", None)
    if tokens is None:
        return Usage()
    return Usage(_int(tokens.input_tokens), _int(tokens.output_tokens))


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
