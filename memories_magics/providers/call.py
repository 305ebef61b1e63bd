"""One provider call as the engine sees it: the provider's stream, or one blocking call as a
single chunk, bounded by ``timeout_s`` as a whole (see :mod:`.watch`), with an answer that is a
web page reported as such and the text made safe at the boundary (lone surrogates replaced,
known secrets masked)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import TypeVar

from ..errors import ProviderError
from ..secrets import StreamMask
from ..types import Chunk, Request
from .base import Provider
from .watch import CallWatch, DeadlinePassed

T = TypeVar("T")


def provider_chunks(provider: Provider, request: Request, stream: bool) -> Iterator[Chunk]:
    """The provider's answer as chunks: its stream, or one blocking call as a single chunk;
    a :class:`ProviderError` of kind ``timeout`` once ``timeout_s`` has passed."""
    mask = StreamMask()
    source = provider.stream(request) if stream else _whole(provider, request)
    if not provider.bounded_by_timeout:
        yield from _shown(source, mask)
        return
    watch = CallWatch(float(provider.setting("timeout_s", 60)))
    try:
        with _bounded(provider, watch):
            # The request (and the SDK's retries) go out until the first chunk arrives: as
            # this call, so the HTTP hooks watch them. The answer's body holds the watch
            # from then on, so the rest is read plainly.
            with watch:
                first = next(source, None)
            for chunk in source if first is None else itertools.chain((first,), source):
                if watch.expired:  # tokens trickling forever, from any kind of provider
                    raise provider.failure("timeout")
                yield _clean(chunk, mask)
            if tail := mask.flush():
                yield Chunk(text=tail)
    finally:
        if isinstance(source, Generator):  # closing it closes its HTTP connection
            source.close()


def watched(provider: Provider, call: Callable[[], T]) -> T:
    """``call()`` (one blocking provider call, e.g. an embeddings request) bounded by
    ``timeout_s`` as a whole, an HTML answer reported as such, like :func:`provider_chunks`."""
    if not provider.bounded_by_timeout:
        return call()
    watch = CallWatch(float(provider.setting("timeout_s", 60)))
    with _bounded(provider, watch), watch:
        return call()


@contextmanager
def _bounded(provider: Provider, watch: CallWatch) -> Iterator[None]:
    """The errors of a watched call as one line each: past the deadline a timeout, an HTML
    page where the API's answer should be an ``html`` error."""
    try:
        yield
        if watch.html_status is not None:
            raise _html(provider, watch.html_status)
    except DeadlinePassed:
        raise provider.failure("timeout") from None
    except ProviderError as exc:
        if watch.html_status is not None:
            raise _html(provider, watch.html_status) from None
        if watch.expired and exc.kind in ("dropped", "connect", "timeout", "sdk"):
            raise provider.failure("timeout") from None
        raise
    finally:
        watch.finish()


def _whole(provider: Provider, request: Request) -> Iterator[Chunk]:
    whole = provider.complete(request)
    yield Chunk(text=whole.text, finish_reason=whole.finish_reason, usage=whole.usage,
                tool_calls=whole.tool_calls, logprobs=whole.logprobs)


def _html(provider: Provider, status: int) -> ProviderError:
    shown = "" if status == 200 else f" (HTTP {status})"
    return provider.failure("html", f"the endpoint returned HTML{shown}, not an API response")


def valid_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (a pair becomes its character), so
    it can be encoded, cached and shown."""
    if text.isascii():  # most text, and far quicker to tell than to encode
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _shown(chunks: Iterator[Chunk], mask: StreamMask) -> Iterator[Chunk]:
    for chunk in chunks:
        yield _clean(chunk, mask)
    if tail := mask.flush():
        yield Chunk(text=tail)


def _clean(chunk: Chunk, mask: StreamMask) -> Chunk:
    """``chunk`` with its text valid Unicode and known secrets masked, a secret split across
    chunks included (a chunk that ends the answer gives back what was held)."""
    if chunk.text or chunk.finish_reason:
        chunk.text = mask.feed(valid_text(chunk.text))
        if chunk.finish_reason:
            chunk.text += mask.flush()
    return chunk
