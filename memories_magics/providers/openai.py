"""OpenAI chat completions through the official ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..embedding import Embedded, EmbedLimits, checked_vectors
from ..types import Chunk, ImageLimits, Request, Response
from .base import Provider, stainless_kind
from .chat_format import ChunkReader, chat_params, parse_completion


class OpenAIProvider(Provider):
    """``openai:<model>``; key ``OPENAI_API_KEY``, endpoint ``OPENAI_BASE_URL``."""

    name = "openai"
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    sdk = "openai"
    default_host = "api.openai.com"
    package_hint = "pip install openai"
    capabilities = frozenset({"streaming", "function_calling", "logprobs", "vision", "schema",
                              "embeddings"})
    #: OpenAI scales an image to fit 2,048 × 2,048 (we send it so sized) and takes files up to
    #: 20 MB, up to 500 images per request. DeepSeek speaks this format with these limits.
    image_limits = ImageLimits(max_side=2048, max_bytes=20_000_000, max_images=500)
    #: OpenAI's embeddings take up to 2,048 inputs and 300,000 tokens per request (and 8,192
    #: tokens per input, which the server checks).
    embed_limits = EmbedLimits(max_texts=2048, max_bytes=300_000)

    def _make_client(self) -> Any:
        import openai

        return openai.OpenAI(api_key=self.api_key().reveal(), base_url=self.base_url(),
                             max_retries=self.setting("max_retries", 2),
                             timeout=self.setting("timeout_s", 60),
                             http_client=openai.DefaultHttpxClient(event_hooks=self.http_hooks()))

    def _params(self, request: Request) -> dict[str, Any]:
        return chat_params(request)

    def classify(self, exc: Exception) -> tuple[str, int | None]:
        import openai

        return stainless_kind(openai, exc) or super().classify(exc)

    def complete(self, request: Request) -> Response:
        with self.sdk_errors():
            raw = self.client().chat.completions.create(**self._params(request))
            return parse_completion(raw, request)

    def stream(self, request: Request) -> Iterator[Chunk]:
        reader = ChunkReader()
        with self.sdk_errors(), self.client().chat.completions.create(
                **self._params(request), stream=True,
                stream_options={"include_usage": True}) as events:
            for event in events:
                yield reader.read(event)

    def embed(self, model: str, texts: list[str], input_type: str | None) -> Embedded:
        with self.sdk_errors():
            raw = self.client().embeddings.create(model=model, input=texts,
                                                  encoding_format="float")
            return embedded(raw, len(texts), self.name)


def embedded(raw: Any, count: int, who: str) -> Embedded:
    """An OpenAI-shaped embeddings answer (OpenAI's, Mistral's): ``data[i].embedding`` in
    ``index`` order, ``usage.prompt_tokens``."""
    data = sorted(raw.data or (), key=lambda item: item.index if isinstance(item.index, int)
                  else 0)
    usage = getattr(raw, "usage", None)
    tokens = getattr(usage, "prompt_tokens", None)
    return Embedded(checked_vectors([item.embedding for item in data], count, who),
                    tokens if isinstance(tokens, int) else None)
