"""The engine: one streaming driver that every front end drains.

:meth:`Engine.answer` is the single request path: cache lookup (a hit yields the whole text),
the provider's stream (or one blocking call, as a single chunk), the tool loop when tools are
given (:func:`memories_magics.tools.tool_rounds`), collection, and then, in one place that
knows whether the stream completed, the cache write and the usage count. It yields
:class:`~memories_magics.types.Chunk` and :class:`~memories_magics.types.ToolStep` events and
ends with the :class:`~memories_magics.types.Response`.

:meth:`Engine.answer_chain` is the fallback layer around it, with the same shape (as httpx
layers redirects around one ``send``): it yields an :class:`Attempt` before each model and
moves on when a model fails before answering. :meth:`Engine.run` drains either into a
Response for callers that don't stream.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .cache import CACHE_MODE_ENV, ResponseCache, check_mode, open_default
from .cache_folder import shown_path
from .capabilities import Capabilities
from .config import Config, ModelSpec
from .errors import (
    CacheMissError,
    MemoriesError,
    MissingDependencyError,
    MissingKeyError,
    ProviderError,
    UsageError,
)
from .events import Attempt, Event, close_source, drain
from .images import Prompt
from .options import request_params
from .providers.call import provider_chunks, valid_text
from .received import Interrupted, Received
from .schema import Retry, Schema, make_schema, schema_rounds
from .secrets import Secret
from .tools import tool_choice_of
from .types import Attachment, Chunk, Message, Request, Response, ToolStep

if TYPE_CHECKING:
    from .providers.base import Provider


#: Errors that make the fallback layer try the next model (nothing was answered yet).
FALLBACK_ERRORS = (ProviderError, MissingKeyError, MissingDependencyError, CacheMissError,
                   UsageError)


@dataclass
class ModelUsage:
    """Running totals for one model in this kernel."""

    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class Engine(Capabilities):
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
        """Resolve a model id (or the default model) to its spec, checked by its provider (a
        local model's file must be a GGUF), so that ``%llm use`` fails at once."""
        from .providers import provider_class, provider_names

        spec = self.config.resolve(model_id or self.default_model(), provider_names())
        provider_class(spec.provider).check_spec(spec)
        return spec

    def availability(self, spec: ModelSpec) -> tuple[bool, str]:
        """Whether ``spec`` can run now, and why not: ``(True, "local")``,
        ``(True, "key set")``, ``(False, "set OPENAI_API_KEY")``,
        ``(False, "needs llama-cpp-python")``. ``%llm models`` and the panel's picker both
        ask this."""
        from importlib.util import find_spec

        if spec.provider == "local":
            ready = find_spec("llama_cpp") is not None
            return ready, "local" if ready else "needs llama-cpp-python"
        try:
            provider = self.provider(spec.provider)
        except MemoriesError as exc:
            return False, str(exc)
        if provider.key_env is None:
            return True, "no key needed"
        if provider.has_key():
            return True, "key set"
        return False, f"set {provider.key_env}"

    def models_by_availability(self) -> list[tuple[str, ModelSpec, bool, str]]:
        """Every configured model as ``(alias, spec, ready, status)`` (see
        :meth:`availability`), what runs now first: the order of ``%llm models`` and the
        panel's picker."""
        listed = [(alias, spec, *self.availability(spec))
                  for alias, spec in self.config.models.items()]
        return sorted(listed, key=lambda row: (not row[2], row[1].provider, row[0]))

    def request(self, spec: ModelSpec, prompt: str | Prompt | None = None, *,
                messages: Sequence[Message] | None = None,
                tools: Sequence[dict[str, Any]] = (), tool_choice: object = None,
                logprobs: bool = False, schema: Schema | None = None,
                **sampling: Any) -> Request:
        """A Request for ``spec`` from the sampling options of vocabulary.json (validated;
        unset ones take the model's configured values), held to ``schema`` if given
        (``tool_choice="none"``: ``tools`` are there for the history, not to be called). A
        :class:`~memories_magics.images.Prompt` content (images in the prompt) becomes image
        parts sized for ``spec``'s provider, which must see images."""
        self.check_generates(spec)
        if messages is None:
            messages = [{"role": "user", "content": prompt or ""}]
        attachments: tuple[Attachment, ...] = ()
        if any(isinstance(m.get("content"), Prompt) for m in messages):
            from .images import place_images
            from .providers import provider_class

            self.check_vision(spec)
            messages, attachments = place_images(
                messages, provider_class(spec.provider).image_limits, spec.provider)
        # Notebook values may hold lone surrogates, which no key, wire or tokenizer encodes.
        messages = [{**m, "content": valid_text(m["content"])}
                    if isinstance(m.get("content"), str) else m for m in messages]
        params = request_params(sampling)
        if isinstance(params.get("system"), str):
            params["system"] = valid_text(params["system"])
        for name in ("temperature", "top_p"):
            if params.get(name) is None and getattr(spec, name) is not None:
                params[name] = float(getattr(spec, name))
        if params.get("max_tokens") is None:
            params["max_tokens"] = self.config.settings.get("max_tokens")
        digest = None
        if spec.provider == "local":  # another file under the same name is another request
            from .providers.local_runtime import chat_sha256

            digest = chat_sha256(spec)
        return Request(provider=spec.provider, model=spec.name, messages=tuple(messages),
                       tools=tuple(tools), tool_choice=tool_choice_of(tool_choice), **params,
                       logprobs=logprobs and self.supports(spec, "logprobs"),
                       gguf_sha256=digest, attachments=attachments,
                       schema=None if schema is None else schema.json_schema)

    def provider(self, name: str, api_key: str | Secret | None = None) -> Provider:
        """The provider called ``name``, built once per engine (and per explicit key)."""
        from .providers import provider_class

        api_key = Secret.of(api_key)  # first: a traceback from here on prints ***
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
                self._cache = open_default(self.user_ns)
            return self._cache

    def set_cache_dir(self, directory: str | Path) -> ResponseCache:
        """Point this kernel's cache somewhere else."""
        if self._cache is not None:
            self._cache.close()
        self._cache = ResponseCache(Path(directory).expanduser())
        return self._cache

    # -- the one driver ------------------------------------------------------------------
    def answer(self, spec: ModelSpec, request: Request, *, cache: str | None = None,
               stream: bool = True, provider: Provider | None = None,
               cancel: threading.Event | None = None,
               tools: dict[str, Callable[..., Any]] | None = None,
               on_call: Callable[[], None] | None = None, schema: Schema | None = None,
               retries: int = 0) -> Generator[Event, None, None]:
        """Answer ``request`` from the cache or the provider, by cache mode.

        ``use`` reads then writes, ``refresh`` only writes, ``off`` neither, ``replay`` only
        reads (a miss is a :class:`CacheMissError`; a hit is the Response alone). Only
        complete, valid answers are written. ``provider`` is the one to ask (default: the
        engine's for ``spec``; the Python API passes one built with its own key, so no key
        travels as an argument). With ``tools`` the whole exchange is one answer (cached
        under the first request, replayed without running a function). ``on_call`` runs just
        before the provider is called; setting ``cancel`` stops the call and ends with what arrived,
        marked interrupted. A stream cut after some text ends with a Response whose
        ``error`` says so; Ctrl-C raises :class:`Interrupted` with the partial answer.
        Closing the generator early caches nothing. A request with a schema is validated on
        completion by ``schema`` (default: made from the request's JSON schema); an answer that
        fails has an ``error`` and is not cached; ``retries`` re-asks with the errors first.
        """
        mode = check_mode(cache or self.cache_mode)
        if request.schema is not None:
            schema = schema or make_schema(request.schema, "the request's schema")
            # Tools a thread's history carries (tool_choice "none") can't be called.
            self.check_schema(spec, tools or (request.tool_choice is None and request.tools))
        hit = self._lookup(spec, request, mode)
        if hit is not None:  # whole, at once: live views go straight to the final result
            if schema is not None:
                schema.judge(hit)
            yield hit
            return
        if tools is not None:
            self.check_tools(spec)
        provider = provider or self.provider(spec.provider)
        if on_call is not None:
            on_call()
        streams = stream and self.supports(spec, "streaming")
        if schema is not None:
            source: Iterator[Chunk | ToolStep | Retry] = schema_rounds(
                lambda r: provider_chunks(provider, r, streams), request, schema, retries)
        elif tools is None:
            source = provider_chunks(provider, request, streams)
        else:
            from .tools import tool_rounds

            rounds = int(self.config.settings.get("max_tool_rounds", 4))
            source = tool_rounds(lambda r: provider_chunks(provider, r, streams), request,
                                 tools, rounds)
        received = Received(request)
        try:
            for event in source:
                received.add(event)
                yield event
                if cancel is not None and cancel.is_set():
                    received.interrupted = True
                    break
        except KeyboardInterrupt:
            received.interrupted = True
            raise Interrupted(received.response()) from None
        except ProviderError as exc:
            if not received.started:
                raise
            received.cut = exc
        finally:
            close_source(source)
        response = received.response()
        response.cache_key = request.cache_key()
        if schema is not None and response.complete and not response.error:
            schema.judge(response)
        response.provenance = {**provider.provenance(request), **response.provenance,
                               "memories_magics": __version__,
                               "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if mode in ("use", "refresh") and response.cacheable:
            self.cache().put(request, response)
        self._record(spec, response)
        yield response

    def answer_chain(self, specs: Sequence[ModelSpec],
                     make_request: Callable[[ModelSpec], Request],
                     **options: Any) -> Generator[Event, None, None]:
        """:meth:`answer` over ``specs`` in order (a model and its fallbacks): a model that
        errors before answering (no key, no runtime, HTTP error, replay miss, can't call the
        tools) is skipped, with an :class:`Attempt` event before each model."""
        skipped: list[str] = []
        for position, spec in enumerate(specs):
            request = make_request(spec)
            yield Attempt(spec, request, tuple(skipped))
            try:
                yield from self.answer(spec, request, **options)
                return
            except FALLBACK_ERRORS as exc:
                if position < len(specs) - 1:
                    skipped.append(f"{spec.label}: {exc}")
                    continue
                if skipped:
                    raise type(exc)(f"every fallback failed: {'; '.join(skipped)}; "
                                    f"last: {exc}") from None
                raise

    def run(self, spec: ModelSpec, request: Request, *,
            on_chunk: Callable[[Chunk], None] | None = None, **options: Any) -> Response:
        """Drain :meth:`answer` into its Response (``on_chunk`` sees the pieces)."""
        return drain(self.answer(spec, request, **options), on_chunk)

    def chain(self, spec: ModelSpec, fallbacks: Sequence[str] | None = None
              ) -> list[ModelSpec]:
        """``spec`` then its fallbacks: the given ids, else those in model_config.json; each
        must answer prompts (checked before the first is asked)."""
        names = spec.fallbacks if fallbacks is None else fallbacks
        chain = [spec, *(self.model(name) for name in names if name.strip())]
        for model in chain:
            self.check_generates(model)
        return chain

    def _lookup(self, spec: ModelSpec, request: Request, mode: str) -> Response | None:
        """The cached answer in ``use``/``replay`` mode (a replay miss is an error)."""
        if mode not in ("use", "replay"):
            return None
        hit = self.cache().get(request, strict=mode == "replay")
        if hit is not None:
            self._record(spec, hit)
            return hit
        if mode == "replay":
            raise CacheMissError(
                f"replay mode: no cached answer from {spec.model_id} for this prompt and "
                f"these parameters in {shown_path(self.cache().directory)}; run it once with "
                "--cache use (or %llm cache mode use) to record it")
        return None

    def record_hit(self, spec: ModelSpec, response: Response) -> None:
        """Count a cached ``response`` found outside :meth:`answer` (a run over data reads
        its cached rows once, while planning)."""
        self._record(spec, response)

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


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The kernel-wide engine shared by the magics, the panel and the Python API."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default
