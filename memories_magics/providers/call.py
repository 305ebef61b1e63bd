"""One provider call as the engine sees it: the provider's stream, or one blocking call as a
single chunk."""

from __future__ import annotations

from collections.abc import Iterator

from ..types import Chunk, Request
from .base import Provider


def provider_chunks(provider: Provider, request: Request, stream: bool) -> Iterator[Chunk]:
    """The provider's answer as chunks: its stream, or one blocking call as a single chunk."""
    if stream:
        yield from provider.stream(request)
        return
    whole = provider.complete(request)
    yield Chunk(text=whole.text, finish_reason=whole.finish_reason, usage=whole.usage,
                tool_calls=whole.tool_calls, logprobs=whole.logprobs)
