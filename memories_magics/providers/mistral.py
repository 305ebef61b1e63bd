"""Mistral chat through the official ``mistralai`` SDK (``mistralai.client.Mistral``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..embedding import Embedded, EmbedLimits
from ..types import Chunk, ImageLimits, Request, Response
from .base import Provider
from .chat_format import ChunkReader, chat_params, parse_completion


class MistralProvider(Provider):
    """``mistral:<model>``; key ``MISTRAL_API_KEY``, endpoint ``MISTRAL_BASE_URL``."""

    name = "mistral"
    key_env = "MISTRAL_API_KEY"
    base_url_env = "MISTRAL_BASE_URL"
    sdk = "mistralai"
    default_host = "api.mistral.ai"
    package_hint = "pip install mistralai"
    capabilities = frozenset({"streaming", "function_calling", "logprobs", "vision", "schema",
                              "embeddings"})
    #: Mistral's vision models take images up to 10 MB and 8 per request; Pixtral's native
    #: resolution is 1,024 × 1,024, so we send at most 1,024 px on the long side.
    image_limits = ImageLimits(max_side=1024, max_bytes=10_000_000, max_images=8)
    #: Mistral's embeddings refuse more than 256 inputs ("Too many inputs in request") and
    #: about 16,384 tokens per request; mistral-embed reads 8,192 tokens per input.
    embed_limits = EmbedLimits(max_texts=256, max_bytes=16_000)

    def _make_client(self) -> Any:
        import httpx2  # mistralai's transport
        from mistralai.client import Mistral
        from mistralai.client.utils import BackoffStrategy, RetryConfig

        retries = self.setting("max_retries", 2)
        # Mistral's SDK bounds retries by elapsed time, not count: allow about max_retries
        # backoffs (0.5 s, 1 s, 2 s, ...) on 429 and 5xx, like the other SDKs.
        budget_ms = sum(500 * 2 ** i for i in range(retries)) + 100
        retry = RetryConfig("backoff", BackoffStrategy(500, 8000, 2.0, budget_ms),
                            retry_connection_errors=True,
                            status_codes_override=["429", "5XX"]) if retries else None
        return Mistral(api_key=self.api_key().reveal(), server_url=self.base_url(),
                       retry_config=retry,
                       timeout_ms=int(self.setting("timeout_s", 60) * 1000),
                       client=httpx2.Client(event_hooks=self.http_hooks(), follow_redirects=True))

    def _params(self, request: Request) -> dict[str, Any]:
        return chat_params(request, "mistral", seed="random_seed")

    def classify(self, exc: Exception) -> tuple[str, int | None]:
        from mistralai.client import errors

        if isinstance(exc, errors.NoResponseError):
            return "connect", None
        if isinstance(exc, errors.ResponseValidationError):
            return "response", None
        if isinstance(exc, errors.MistralError):
            return "status", exc.status_code
        return super().classify(exc)

    def complete(self, request: Request) -> Response:
        with self.sdk_errors():
            return parse_completion(self.client().chat.complete(**self._params(request)), request)

    def stream(self, request: Request) -> Iterator[Chunk]:
        reader = ChunkReader()
        with self.sdk_errors(), self.client().chat.stream(**self._params(request)) as events:
            for event in events:
                yield reader.read(event.data)

    def embed(self, model: str, texts: list[str], input_type: str | None) -> Embedded:
        from .openai import embedded

        with self.sdk_errors():
            return embedded(self.client().embeddings.create(model=model, inputs=texts),
                            len(texts), self.name)
