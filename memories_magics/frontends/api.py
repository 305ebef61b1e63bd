"""The seed's Python API (``LoadModel``, ``MultiModelInference``) on the shared engine.

>>> model = LoadModel("local", "local", "smollm2")
>>> model.get_response("Name a colour.", seed=1)["text"]
'...'
>>> for piece in LoadModel("openai", "api", "gpt-4o-mini").get_streaming_response("hi"):
...     print(piece, end="")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..config import ModelSpec
from ..engine import Engine, default_engine
from ..errors import ContextFullError, MemoriesError, StreamCutError, UsageError
from ..options import OPTIONS
from ..schema import make_schema
from ..secrets import Secret
from ..types import Chunk, Message, Request, Response

if TYPE_CHECKING:
    import pandas as pd

    from ..embed_cache import Vector

DEPLOYMENT_TYPES = ("local", "api")


def response_dict(response: Response) -> dict[str, Any]:
    """A Response as the seed's plain dict: ``{"text": ..., "model": ..., "usage": ...}``."""
    return {"text": response.text, "model": response.model_id,
            "finish_reason": response.finish_reason,
            "usage": {"input_tokens": response.usage.input_tokens,
                      "output_tokens": response.usage.output_tokens},
            "latency_s": response.latency_s, "first_token_s": response.first_token_s,
            "cached": response.cached, "complete": response.complete,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments}
                           for c in response.tool_calls],
            "logprobs": list(response.logprobs)}


class LoadModel:
    """One model, addressed as the seed does: provider, deployment type, model name.

    ``api_key`` overrides the provider's key variable for this object only; it is never
    cached, shown or put in a repr. ``cache`` is a cache mode (use/refresh/off/replay);
    default: the kernel's mode.
    """

    def __init__(self, model_provider: str, deployment_type: str, model_name: str,
                 api_key: str | Secret | None = None, *, cache: str | None = None,
                 engine: Engine | None = None) -> None:
        api_key = Secret.of(api_key)  # first: a traceback from here on prints ***
        if deployment_type not in DEPLOYMENT_TYPES:
            raise UsageError(f"deployment_type must be one of {', '.join(DEPLOYMENT_TYPES)}, "
                             f"not {deployment_type!r}")
        self.engine = engine or default_engine()
        self.spec: ModelSpec = self.engine.model(f"{model_provider}:{model_name}")
        if self.spec.type != deployment_type:
            raise UsageError(f"{self.spec.model_id} is a {self.spec.type} model; use "
                             f"deployment_type={self.spec.type!r}")
        # The key lives only inside the provider object (whose repr hides it), never in an
        # attribute of ours that a traceback's locals would print.
        self._provider = self.engine.provider(self.spec.provider, api_key)
        self.cache = cache

    def __repr__(self) -> str:
        return f"LoadModel({self.spec.provider!r}, {self.spec.type!r}, {self.spec.name!r})"

    @property
    def model_id(self) -> str:
        """``provider:model``."""
        return self.spec.model_id

    def complete(self, prompt: str, *, schema: Any = None, retries: int = 0,
                 images: Sequence[Any] = (), **params: Any) -> Response:
        """The full :class:`~memories_magics.types.Response` (system, temperature, top_p,
        max_tokens, seed, logprobs as keyword arguments). With ``schema`` (a pydantic model
        class, ``list[Model]`` or a JSON-schema dict) the answer is held to it and checked;
        one that does not match has an ``error`` and is not cached; ``retries`` re-asks.
        ``images`` (what ``--attach`` takes: PIL images, figures, arrays, bytes, paths) are
        sent before the prompt, and are part of the cache key by their digests."""
        from ..images import with_images

        held = None if schema is None else make_schema(schema)
        request = self.engine.request(self.spec, with_images(prompt, images), schema=held,
                                      **params)
        return self.engine.run(self.spec, request, cache=self.cache, stream=False,
                               provider=self._provider, schema=held,
                               retries=OPTIONS["retries"].check(retries) or 0)

    def get_response(self, prompt: str, *, schema: Any = None, retries: int = 0,
                     images: Sequence[Any] = (), **params: Any) -> dict[str, Any]:
        """The answer as the seed's dict: ``{"text": ..., "model": ..., "usage": ...}``;
        ``images=[fig, photo]`` shows the model images first (see :meth:`complete`).
        With ``schema``, ``"value"`` is the validated object (None if the answer does not
        match) and ``"error"`` says why not:

        >>> LoadModel("local", "local", "smollm2").get_response(
        ...     "Lima is the capital of Peru.", schema=City)["value"]
        City(name='Lima', country='Peru', ...)
        """
        held = None if schema is None else make_schema(schema)
        response = self.complete(prompt, schema=held, retries=retries, images=images,
                                 **params)
        out = response_dict(response)
        if held is not None:
            checked = held.check(response.text, response.finish_reason)
            out.update(value=checked.value if response.error is None else None,
                       error=response.error)
        return out

    def embed(self, texts: Any, *, input_type: str | None = None) -> Vector:
        """The n × d float32 embeddings of ``texts`` (a list or pandas Series of strings)
        from this model, cached as :func:`memories_magics.embed` caches them."""
        from ..embedder import check_embeds, embed_texts, texts_of

        return embed_texts(self.engine, check_embeds(self.engine, self.spec),
                           texts_of(texts)[0], provider=self._provider,
                           input_type=input_type, cache=self.cache)

    def get_response_with_functions(self, prompt: str, functions: list[Any],
                                    callables: dict[str, Callable[..., Any]] | None = None,
                                    **params: Any) -> dict[str, Any]:
        """Offer ``functions`` to the model (JSON-schema dicts as in the seed, or Python
        functions, whose schemas are derived from their signatures).

        Without ``callables`` the model's tool calls are returned for you to run
        (``result["tool_calls"]``). With ``callables`` (name → function; Python functions
        in ``functions`` are included automatically) the calls are run, their results sent
        back, and ``result["text"]`` is the final answer; ``result["steps"]`` lists each call.
        """
        from ..tools import function_schema

        self.engine.check_tools(self.spec)  # also when the calls are returned, not run
        schemas = [f if isinstance(f, dict) else function_schema(f) for f in functions]
        runnable = {f.__name__: f for f in functions if callable(f)} | (callables or {})
        request = self.engine.request(self.spec, prompt, tools=tuple(schemas), **params)
        response = self.engine.run(self.spec, request, cache=self.cache, stream=False,
                                   provider=self._provider, tools=runnable or None)
        if not runnable:
            return response_dict(response)
        return {**response_dict(response), "replayed": response.cached,
                "steps": [{"name": s.call.name, "arguments": s.call.arguments,
                           "result": s.result, "is_error": s.is_error}
                          for s in response.tool_steps]}

    def map(self, template: str, data: Any, *, concurrency: int | None = None,
            check: Callable[..., Any] | None = None, budget: float | None = None,
            namespace: dict[str, Any] | None = None, progress: bool = True,
            schema: Any = None, retries: int = 0, attach: Any = None,
            **params: Any) -> pd.DataFrame:
        """Ask ``template`` once per row of ``data`` (a list, a pandas Series or DataFrame;
        ``{item}``, ``{index}``, columns by name, other names from ``namespace``): the same
        DataFrame as ``%%llm --over data -o VAR``, in input order (with ``schema``, its
        fields as columns, as ``--schema``). ``attach="photo"`` sends each row's ``photo``
        before its prompt, as ``--attach photo``; ``attach=[logo]`` (images, as ``images=``
        takes them) sends those with every row; a ``{col}`` holding an image is placed
        where it is. Images are part of each row's cache key by their digests."""
        from .run_over import over_frame

        return over_frame([(self.spec, self._provider)], template, data, self.engine,
                          cache=self.cache, concurrency=concurrency, check=check,
                          budget=budget, namespace=namespace, progress=progress,
                          schema=schema, retries=retries, attach=attach, **params)

    def get_streaming_response(self, prompt: str, **params: Any) -> Iterator[str]:
        """Yield the answer's text as it arrives (a cache hit, or a model that cannot stream,
        yields it in one piece). Stopping early closes the connection and caches nothing.
        A stream cut after some text yields that text, then raises :class:`StreamCutError`
        saying after how much and by what."""
        yield from self._stream(self.engine.request(self.spec, prompt, **params))

    def _stream(self, request: Request,
                done: Callable[[Response], None] | None = None) -> Iterator[str]:
        """The text of ``request``'s answer as it arrives; ``done`` gets the Response."""
        for event in self.engine.answer(self.spec, request, cache=self.cache,
                                        provider=self._provider):
            if (isinstance(event, Chunk) or (isinstance(event, Response) and event.cached)) \
                    and event.text:
                yield event.text  # a cache hit arrives whole, as its Response
            if isinstance(event, Response):
                if event.error and not event.complete:
                    raise StreamCutError(f"{self.spec.label}: {event.error}; nothing was cached")
                if done is not None:
                    done(event)

    def conversation(self, system: str | None = None) -> Conversation:
        """A conversation with this model: each :meth:`Conversation.send` carries the
        earlier turns, so its cache key covers the whole history."""
        return Conversation(self, system)


class Conversation:
    """A thread from Python, as ``%%llm -c`` is in a notebook.

    >>> chat = LoadModel("local", "local", "smollm2").conversation()
    >>> chat.send("Name a planet.", seed=1)["text"]
    '...'
    >>> chat.send("How far is it from the Sun?", seed=1)  # the request carries turn 1
    >>> len(chat.messages)
    4
    """

    def __init__(self, model: LoadModel, system: str | None = None) -> None:
        from ..threads import Thread

        self.model = model
        self.system = system
        self._thread = Thread("conversation")

    def __repr__(self) -> str:
        return f"<Conversation with {self.model.model_id}: {len(self._thread.turns)} turns>"

    @property
    def messages(self) -> list[Message]:
        """The history so far: user and assistant messages (and tool messages), as sent."""
        return [dict(m) for m in self._thread.history(self.model.spec.label)]

    def reset(self) -> None:
        """Forget every turn (the system prompt stays)."""
        self._thread.turns.clear()

    def send(self, prompt: str, **params: Any) -> dict[str, Any]:
        """Ask with the history; returns the dict :meth:`LoadModel.get_response` returns.
        Only a complete answer joins the history."""
        request = self._request(prompt, params)
        try:
            response = self.model.engine.run(self.model.spec, request, cache=self.model.cache,
                                             stream=False, provider=self.model._provider)
        except ContextFullError as exc:
            raise self._too_long(exc) from None
        self._add(request, response)
        return response_dict(response)

    def stream(self, prompt: str, **params: Any) -> Iterator[str]:
        """Ask with the history and yield the answer's text as it arrives (as
        :meth:`LoadModel.get_streaming_response`); the answer joins the history when the
        stream ends complete."""
        request = self._request(prompt, params)
        try:
            yield from self.model._stream(request, lambda r: self._add(request, r))
        except ContextFullError as exc:
            raise self._too_long(exc) from None

    def _request(self, prompt: str, params: dict[str, Any]) -> Request:
        from ..threads import check_context

        system = params.pop("system", self.system)
        history = self._thread.history(self.model.spec.label)
        request = self.model.engine.request(
            self.model.spec, messages=[*history, {"role": "user", "content": prompt}],
            system=system, **params)
        if history:
            check_context(self.model.spec, request, self._thread.name, "conversation.reset()")
        return request

    def _too_long(self, exc: ContextFullError) -> ContextFullError:
        from ..threads import context_error

        if not self._thread.turns:
            return exc
        return context_error(exc, self.model.spec, self._thread.name, "conversation.reset()")

    def _add(self, request: Request, response: Response) -> None:
        from ..threads import Reply, Turn

        if response.cacheable:
            reply = Reply.of(self.model.spec.label, self.model.spec.label, response)
            self._thread.turns.append(Turn(request.prompt, (reply,), request.system))


class MultiModelInference:
    """Several models, asked the same prompt in parallel.

    ``get_responses(prompt)`` returns ``{model_id: {"text": ..., ...}}``; a model that failed
    has ``{"text": "", "error": "<one line>"}`` and the others are unaffected.
    """

    def __init__(self, models: list[LoadModel], aggregation_method: str = "consensus") -> None:
        from ..vocabulary import AGGREGATION_METHODS

        if not models:
            raise UsageError("MultiModelInference needs at least one LoadModel")
        if aggregation_method not in AGGREGATION_METHODS:
            raise UsageError(f"unknown aggregation_method {aggregation_method!r}; use one of: "
                             f"{', '.join(AGGREGATION_METHODS)}")
        self.models = models
        self.aggregation_method = aggregation_method
        self.responses: dict[str, dict[str, Any]] = {}

    def _names(self) -> list[str]:
        names: list[str] = []
        for model in self.models:
            name, n = model.model_id, 2
            while name in names:
                name, n = f"{model.model_id}#{n}", n + 1
            names.append(name)
        return names

    def get_responses(self, prompt: str, **params: Any) -> dict[str, dict[str, Any]]:
        """Ask every model at once; returns their answers by model id."""
        if self.aggregation_method == "best_confidence":
            params.setdefault("logprobs", True)

        def ask(model: LoadModel) -> dict[str, Any]:
            try:
                return model.get_response(prompt, **params)
            except MemoriesError as exc:
                return {"text": "", "model": model.model_id, "error": str(exc)}

        with ThreadPoolExecutor(max_workers=len(self.models)) as pool:
            results = list(pool.map(ask, self.models))
        self.responses = dict(zip(self._names(), results, strict=True))
        return self.responses

    def grid(self, template: str, data: Any, *, check: Callable[..., Any] | None = None,
             concurrency: int | None = None, budget: float | None = None,
             namespace: dict[str, Any] | None = None, progress: bool = True,
             schema: Any = None, retries: int = 0, attach: Any = None,
             **params: Any) -> pd.DataFrame:
        """Every row of ``data`` asked of every model: one DataFrame row per (input, model),
        as ``%%compare ... --over data --check FUNC -o VAR``; ``check(text, row)`` scores
        each answer into the ``check`` column. ``attach`` sends images to every model, as in
        :meth:`LoadModel.map`."""
        from .run_over import over_frame

        first = self.models[0]
        return over_frame([(m.spec, m._provider) for m in self.models], template, data,
                          first.engine, cache=first.cache, concurrency=concurrency,
                          check=check, budget=budget, namespace=namespace,
                          progress=progress, schema=schema, retries=retries, attach=attach,
                          **params)

    def get_aggregated_response(self) -> dict[str, Any]:
        """One answer from the last :meth:`get_responses`, by ``aggregation_method`` (see
        :mod:`memories_magics.aggregate` for exactly how each is computed):
        ``{"method", "model", "score", "explanation", "text"}`` (``model`` None and ``text``
        empty on a tie)."""
        from ..aggregate import Candidate, aggregate

        if not self.responses:
            raise UsageError("call get_responses(prompt) before get_aggregated_response()")
        answered = [(name, r) for name, r in self.responses.items() if not r.get("error")]
        found = aggregate(self.aggregation_method,
                          [Candidate(name, r["text"], tuple(r.get("logprobs") or ()))
                           for name, r in answered])
        if found is None:
            raise UsageError("no model answered; see the errors in get_responses()")
        model = None if found.winner is None else answered[found.winner][0]
        return {"method": found.method, "model": model,
                "score": found.score, "explanation": found.explanation, "text": found.text}

