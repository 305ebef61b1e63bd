"""The engine: model resolution, request building, cache modes, streaming and usage.

The magics, the widgets and the Python API all call :meth:`Engine.run` (or
:meth:`Engine.iter_run`, its generator form for the streaming Python API, which shares the same
cache lookup, cache write and accounting steps).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import CACHE_MODE_ENV, ResponseCache, check_mode, default_cache_dir, shown_path
from .config import Config, ModelSpec
from .errors import CacheMissError, MissingDependencyError, MissingKeyError, ProviderError
from .types import Chunk, Message, Request, Response

if TYPE_CHECKING:
    from .providers.base import Provider


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a call; ``partial`` holds what had arrived (never cached)."""

    def __init__(self, partial: Response) -> None:
        super().__init__("interrupted")
        self.partial = partial


@dataclass
class ModelUsage:
    """Running totals for one model in this kernel."""

    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Engine:
    """Runs requests against providers through the cache. One per kernel: :func:`default_engine`."""

    def __init__(self, config: Config | None = None) -> None:
        self._config = config
        self.default_model_override: str | None = None
        self._cache_mode: str | None = None
        self._cache: ResponseCache | None = None
        self.user_ns: dict[str, Any] | None = None
        self.usage: dict[str, ModelUsage] = {}
        self._usage_lock = threading.Lock()
        self._providers: dict[tuple[str, int], Provider] = {}
        self._lock = threading.Lock()

    # -- configuration -------------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The merged model_config.json, loaded on first use."""
        if self._config is None:
            self._config = Config.load()
        return self._config

    def default_model(self) -> str:
        """``%llm use`` > ``$MEMORIES_MAGICS_DEFAULT_MODEL`` > model_config.json > smollm2."""
        return self.default_model_override or self.config.default_model()

    def model(self, model_id: str | None = None) -> ModelSpec:
        """Resolve a model id (or the default model) to its spec."""
        from .providers import provider_names

        return self.config.resolve(model_id or self.default_model(), provider_names())

    def request(self, spec: ModelSpec, prompt: str | None = None, *,
                messages: list[Message] | None = None, system: str | None = None,
                temperature: float | None = None, top_p: float | None = None,
                max_tokens: int | None = None, seed: int | None = None,
                tools: tuple[dict[str, Any], ...] = (), logprobs: bool = False) -> Request:
        """A Request for ``spec``; unset sampling parameters take the model's configured ones."""
        if messages is None:
            messages = [{"role": "user", "content": prompt or ""}]
        temperature = spec.temperature if temperature is None else temperature
        top_p = spec.top_p if top_p is None else top_p
        return Request(  # numbers normalised so that -t 1 and temperature=1.0 share a cache key
            provider=spec.provider, model=spec.name, messages=tuple(messages), system=system,
            temperature=None if temperature is None else float(temperature),
            top_p=None if top_p is None else float(top_p),
            max_tokens=max_tokens or self.config.settings.get("max_tokens"),
            seed=seed, tools=tuple(tools),
            logprobs=logprobs and self.provider(spec.provider).supports_logprobs)

    def provider(self, name: str, api_key: str | None = None) -> Provider:
        """The provider called ``name``, built once per engine (and per explicit key)."""
        from .providers import provider_class

        slot = (name, hash(api_key))  # never the key itself in a printable structure
        with self._lock:
            if slot not in self._providers:
                self._providers[slot] = provider_class(name)(self.config, api_key=api_key)
            return self._providers[slot]

    # -- cache ---------------------------------------------------------------------------
    @property
    def cache_mode(self) -> str:
        """The notebook-wide cache mode: ``%llm cache mode``, else ``$MEMORIES_MAGICS_CACHE_MODE``
        (e.g. ``replay`` in CI), else global_settings.cache_mode, else ``use``."""
        return check_mode(self._cache_mode or os.environ.get(CACHE_MODE_ENV)
                          or self.config.settings.get("cache_mode", "use"))

    @cache_mode.setter
    def cache_mode(self, mode: str) -> None:
        self._cache_mode = check_mode(mode)

    def cache(self) -> ResponseCache:
        """This notebook's cache (opened on first use)."""
        with self._lock:
            if self._cache is None:
                self._cache = ResponseCache(default_cache_dir(self.user_ns))
            return self._cache

    def set_cache_dir(self, directory: str | Path) -> ResponseCache:
        """Point this kernel's cache somewhere else."""
        if self._cache is not None:
            self._cache.close()
        self._cache = ResponseCache(Path(directory).expanduser())
        return self._cache

    # -- running -------------------------------------------------------------------------
    def run(self, spec: ModelSpec, request: Request, *, cache: str | None = None,
            stream: bool = True, on_chunk: Callable[[Chunk], None] | None = None,
            on_call: Callable[[], None] | None = None, api_key: str | None = None,
            cancel: threading.Event | None = None) -> Response:
        """Answer ``request`` from the cache or the provider, by cache mode:

        ``use`` reads then writes, ``refresh`` only writes, ``off`` neither, ``replay`` only
        reads (a miss is a :class:`CacheMissError`). Only complete answers are written.
        ``on_call`` runs just before the provider is called (not on a cache hit), ``on_chunk``
        sees streamed pieces as they arrive; setting ``cancel`` stops the call and returns
        what arrived, marked interrupted.
        """
        mode = check_mode(cache or self.cache_mode)
        hit = self._lookup(spec, request, mode)
        if hit is not None:
            return hit
        provider = self.provider(spec.provider, api_key)
        if on_call is not None:
            on_call()
        if stream and spec.supports_streaming:
            response = self._stream(provider, request, on_chunk, cancel)
        else:
            response = self._complete(provider, request)
        return self._finish(spec, request, mode, response)

    def iter_run(self, spec: ModelSpec, request: Request, *, cache: str | None = None,
                 api_key: str | None = None) -> Iterator[str]:
        """:meth:`run` as a generator in the caller's thread: yields the answer's text as it
        arrives (a cache hit or a model that cannot stream yields it whole) and caches it
        once complete. Stopping early closes the stream and caches nothing."""
        mode = check_mode(cache or self.cache_mode)
        hit = self._lookup(spec, request, mode)
        if hit is not None:
            yield hit.text
            return
        provider = self.provider(spec.provider, api_key)
        if not spec.supports_streaming:
            response = self._finish(spec, request, mode, self._complete(provider, request))
            yield response.text
            return
        received = _Received(request)
        events = provider.stream(request)
        try:
            for chunk in events:
                received.add(chunk)
                if chunk.text:
                    yield chunk.text
        finally:
            _close(events)
        self._finish(spec, request, mode, received.response())

    def _lookup(self, spec: ModelSpec, request: Request, mode: str) -> Response | None:
        """The cached answer in ``use``/``replay`` mode (a replay miss is an error)."""
        if mode not in ("use", "replay"):
            return None
        hit = self.cache().get(request)
        if hit is not None:
            self._record(spec, hit)
            return hit
        if mode == "replay":
            raise CacheMissError(
                f"replay mode: no cached answer from {spec.model_id} for this prompt and "
                f"these parameters in {shown_path(self.cache().directory)}; run it once with "
                "--cache use (or %llm cache mode use) to record it")
        return None

    def _finish(self, spec: ModelSpec, request: Request, mode: str,
                response: Response) -> Response:
        """Key, cache (if complete and the mode writes) and count a fresh response."""
        response.cache_key = request.cache_key()
        if mode in ("use", "refresh"):
            self.cache().put(request, response)
        self._record(spec, response)
        return response

    @staticmethod
    def _complete(provider: Any, request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = provider.complete(request)
        except KeyboardInterrupt:
            raise Interrupted(Response("", request.model, request.provider,
                                       interrupted=True)) from None
        response.latency_s = response.first_token_s = time.perf_counter() - started
        return response

    def chain(self, spec: ModelSpec, fallbacks: list[str] | tuple[str, ...] | None = None
              ) -> list[ModelSpec]:
        """``spec`` then its fallbacks: the given ids, else those in model_config.json."""
        names = spec.fallbacks if fallbacks is None else fallbacks
        return [spec, *(self.model(name) for name in names if name.strip())]

    def run_chain(self, specs: list[ModelSpec], make_request: Callable[[ModelSpec], Request],
                  *, on_attempt: Callable[[ModelSpec], None] | None = None,
                  **run_options: Any) -> tuple[ModelSpec, Request, Response, str]:
        """Try ``specs`` in order (a model and its fallbacks) until one answers.

        A model is skipped when it errors, has no key, lacks its runtime or, in replay mode,
        has no cached answer. Returns the model that answered, its request and response, and
        a note saying why earlier ones were skipped ("" if the first answered).
        """
        skipped: list[str] = []
        for position, spec in enumerate(specs):
            request = make_request(spec)
            if on_attempt is not None:
                on_attempt(spec)
            try:
                response = self.run(spec, request, **run_options)
            except (ProviderError, MissingKeyError, MissingDependencyError, CacheMissError) as exc:
                if position == len(specs) - 1:
                    if skipped:
                        raise type(exc)(f"every fallback failed: {'; '.join(skipped)}; "
                                        f"last: {exc}") from None
                    raise
                skipped.append(f"{spec.label}: {exc}")
                continue
            label = spec.label
            note = f"answered by fallback {label} ({'; '.join(skipped)})" if skipped else ""
            return spec, request, response, note
        raise ValueError("run_chain needs at least one model")

    @staticmethod
    def _stream(provider: Any, request: Request, on_chunk: Callable[[Chunk], None] | None,
                cancel: threading.Event | None) -> Response:
        received = _Received(request)
        events = provider.stream(request)
        try:
            for chunk in events:
                received.add(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
                if cancel is not None and cancel.is_set():
                    return received.response(interrupted=True)
        except KeyboardInterrupt:
            raise Interrupted(received.response(interrupted=True)) from None
        except ProviderError as exc:
            if not received.chunks:
                raise
            cut = received.response()  # keep what was shown; no finish reason: uncached
            cut.error = str(exc)
            return cut
        finally:
            _close(events)
        return received.response()

    def _record(self, spec: ModelSpec, response: Response) -> None:
        with self._usage_lock:
            totals = self.usage.setdefault(spec.model_id, ModelUsage())
            if response.cached:
                totals.cache_hits += 1
                return
            totals.calls += 1
            totals.input_tokens += response.usage.input_tokens or 0
            totals.output_tokens += response.usage.output_tokens or 0
            totals.cost_usd += spec.cost(response.usage.input_tokens, response.usage.output_tokens)


class _Received:
    """The chunks of one stream so far, with its timing; :meth:`response` assembles them."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.chunks: list[Chunk] = []
        self.started = time.perf_counter()
        self.first_token_s: float | None = None

    def add(self, chunk: Chunk) -> None:
        if self.first_token_s is None and chunk.text:
            self.first_token_s = time.perf_counter() - self.started
        self.chunks.append(chunk)

    def response(self, interrupted: bool = False) -> Response:
        response = Response.from_chunks(self.chunks, self.request,
                                        first_token_s=self.first_token_s,
                                        latency_s=time.perf_counter() - self.started)
        response.interrupted = interrupted
        return response


def _close(events: Any) -> None:
    """Close a provider's stream (generators close their HTTP connection); plain iterators
    have nothing to close."""
    close = getattr(events, "close", None)
    if close is not None:
        close()


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The kernel-wide engine shared by the magics, the panel and the Python API."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default
