"""Running a prompt with live output: what ``%%llm``/``%%compare`` and the panel share.

:func:`run_llm` and :func:`run_compare` do what a cell does with its option values (by option
name, as declared in vocabulary.json): fallbacks, tools, the request, the cell's turn in a
conversation thread (a :class:`~.thread_cells.CellTurn`, for the magics), ``-o VAR``. Below them,
:func:`answer_live` and :func:`compare_live` drain the engine's events into a live view
(:mod:`memories_magics.display.stream`) that then becomes the final result in place, so
whatever else the cell printed meanwhile stays; they return the result object, already shown.
The ``display`` view option says where the output goes (default: the cell).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..config import ModelSpec
from ..engine import Engine
from ..errors import ContextFullError, MemoriesError, UsageError
from ..events import Attempt, interrupt
from ..images import Prompt
from ..options import REQUEST_OPTIONS
from ..received import Interrupted
from ..result import LLMResult
from ..schema import Retry, Schema
from ..types import Chunk, Request, Response, ToolStep

if TYPE_CHECKING:
    from .thread_cells import CellTurn


def request_for(engine: Engine, spec: ModelSpec, prompt: str | Prompt, values: Mapping[str, Any],
                tools: tuple[dict[str, Any], ...] = (), turn: CellTurn | None = None,
                schema: Schema | None = None) -> Request:
    """The request a cell with option ``values`` sends to ``spec``: its request options,
    log-probabilities when ``--aggregate best_confidence`` needs them, the thread's
    earlier turns when ``turn`` continues one (with the tools their calls used, when
    ``spec`` calls tools), and ``schema`` (``--schema``)."""
    messages, choice = None, None
    if turn is not None:
        messages = turn.messages(spec, prompt)
        if engine.supports(spec, "function_calling"):
            tools, choice = turn.plan.tools(tools)
    return engine.request(spec, prompt, messages=messages, tools=tools, tool_choice=choice,
                          schema=schema, logprobs=values.get("aggregate") == "best_confidence",
                          **{name: values.get(name) for name in REQUEST_OPTIONS})


def schema_of(values: Mapping[str, Any], user_ns: dict[str, Any]) -> Schema | None:
    """The ``--schema`` a cell names in the notebook (checked), or None; ``--retries``
    without one, or with ``--tools``, is one line."""
    name = values.get("schema")
    if values.get("retries") and not name:
        raise UsageError("--retries re-asks when an answer does not match its --schema; give "
                         "one (--schema City)")
    if not name:
        return None
    if values.get("tools"):
        raise UsageError("--schema and --tools can't be used in one cell: ask with --tools "
                         "first, then extract with --schema from its answer")
    from ..schema import resolve_schema

    return resolve_schema(name, user_ns)


def _format(values: Mapping[str, Any], schema: Schema | None) -> str:
    """A --schema answer is JSON: shown as such unless another format was asked for."""
    fmt = str(values["format"])
    return "json" if schema is not None and fmt == "markdown" else fmt


def run_llm(engine: Engine, model: str | None, prompt: str | Prompt, values: Mapping[str, Any],
            user_ns: dict[str, Any], *, turn: CellTurn | None = None,
            cancel: threading.Event | None = None, **view_options: Any) -> LLMResult:
    """What ``%%llm`` does with its option ``values``: ``model`` (None: the default) and its
    ``--fallback`` models, ``--tools`` from ``user_ns``, the cell's ``turn`` in its thread,
    the answer streamed and shown, ``-o VAR`` set."""
    from .thread_cells import add_note

    spec = engine.model(model)
    schema = schema_of(values, user_ns)
    fallback = values.get("fallback")
    chain = engine.chain(spec, fallback.split(",") if fallback else None)
    tools: dict[str, Callable[..., Any]] | None = None
    schemas: tuple[dict[str, Any], ...] = ()
    if values.get("tools"):
        from ..tools import function_schema, resolve_tools

        tools = resolve_tools(values["tools"], user_ns)
        schemas = tuple(function_schema(f) for f in tools.values())

    built: dict[ModelSpec, Request] = {}  # the thread's check and the call ask for one

    def make_request(model: ModelSpec) -> Request:
        if model not in built:
            built[model] = request_for(engine, model, prompt, values, schemas, turn, schema)
        return built[model]

    def record(result: LLMResult) -> None:
        if turn is not None:
            add_note(result, turn.record(prompt, [(spec.label, result.label, result.response)],
                                         schemas))

    if turn is not None:
        turn.check(spec, make_request(spec))
    try:
        result = answer_live(engine, chain, make_request, fmt=_format(values, schema),
                             cache=values.get("cache"), stream=not values.get("no_stream"),
                             tools=tools, cancel=cancel, before_show=record, schema=schema,
                             retries=values.get("retries") or 0, **view_options)
    except ContextFullError as exc:
        if turn is None:
            raise
        raise turn.too_long(exc, spec) from None
    if values.get("output"):
        user_ns[values["output"]] = result
    return result


def run_compare(engine: Engine, models: list[str], prompt: str | Prompt, values: Mapping[str, Any],
                user_ns: dict[str, Any], *, turn: CellTurn | None = None,
                cancel: threading.Event | None = None, **view_options: Any) -> Any:
    """What ``%%compare`` does with its option ``values``: every model at once in live
    columns (each with its history in ``turn``'s thread), then the aggregate and the diff,
    shown; ``-o VAR`` set."""
    from .thread_cells import add_note

    specs = [engine.model(m) for m in models]
    schema = schema_of(values, user_ns)
    requests = [request_for(engine, spec, prompt, values, turn=turn, schema=schema)
                for spec in specs]

    def explain(spec: ModelSpec, exc: MemoriesError) -> MemoriesError:
        # The same one line as %%llm's, in the model's column.
        return turn.too_long(exc, spec) if turn is not None and \
            isinstance(exc, ContextFullError) else exc

    def record(result: Any) -> None:
        if turn is not None:
            done = [o for o in result.outcomes if o.result is not None]
            note = turn.record(prompt, [(o.label, o.label, o.result.response) for o in done])
            for outcome in done:
                add_note(outcome.result, note)

    result = compare_live(engine, specs, requests, str(prompt), fmt=_format(values, schema),
                          cache=values.get("cache"), stream=not values.get("no_stream"),
                          aggregate=values["aggregate"], diff=values["diff"], cancel=cancel,
                          before_show=record, schema=schema,
                          retries=values.get("retries") or 0, explain=explain,
                          before=None if turn is None else turn.check, **view_options)
    if values.get("output"):
        user_ns[values["output"]] = result
    return result


def answer_live(engine: Engine, chain: list[ModelSpec],
                make_request: Callable[[ModelSpec], Request], *, fmt: str, cache: str | None,
                stream: bool,
                tools: dict[str, Callable[..., Any]] | None = None,
                cancel: threading.Event | None = None,
                before_show: Callable[[LLMResult], None] | None = None,
                schema: Schema | None = None, retries: int = 0,
                **view_options: Any) -> LLMResult:
    """Ask ``chain[0]`` (then its fallbacks) with tokens streaming into a StreamView that
    becomes the result (``before_show`` may add to it first); tool calls show as they run;
    the first use of a local model shows a loading notice; Ctrl-C keeps the partial answer
    (and the tool calls made so far)."""
    from ..display.render import result_bundle
    from ..display.stream import StreamView
    from ..providers.local_runtime import drained_here, is_loaded

    view = StreamView(chain[0].label, **view_options)
    attempt: Attempt | None = None  # answer_chain's first event names the model it asks

    def announce_load() -> None:
        if attempt is not None and attempt.spec.provider == "local" and \
                not is_loaded(attempt.spec):
            view.status(f"Loading {view.label} (first use in this kernel)…")

    response: Response | None = None
    events = engine.answer_chain(chain, make_request, cache=cache, stream=stream, tools=tools,
                                 cancel=cancel, on_call=announce_load, schema=schema,
                                 retries=retries)
    try:
        with drained_here():  # this thread reads the answer to its end (or stops it)
            for event in events:
                if isinstance(event, Chunk):  # the most frequent, first
                    view.feed(event.text, draw=not event.finish_reason)
                elif isinstance(event, Attempt):
                    attempt = event
                    view.label = event.spec.label
                elif isinstance(event, ToolStep):
                    view.feed(f"\n[{event.call.name} → {event.result[:80]}]\n")
                elif isinstance(event, Retry):
                    view.feed(f"\n\n[not valid, asking again ({event.attempt}): "
                              f"{event.problem[:200]}]\n\n")
                else:
                    response = event
    except Interrupted as exc:
        response = exc.partial
    except KeyboardInterrupt:  # between two events: the driver still holds the partial
        response = interrupt(events)
        if attempt is None:  # before the first model was asked
            attempt = Attempt(chain[0], make_request(chain[0]))
        response = response or Response(view.text, attempt.request.model,
                                        attempt.request.provider, interrupted=True)
    assert attempt is not None and response is not None  # or answer_chain raised
    result = LLMResult(response, attempt.spec, attempt.request, fmt, _note(attempt, response),
                       schema)
    if before_show is not None:
        before_show(result)
    view.show_final(result_bundle(result))
    return result


def _note(attempt: Attempt, response: Response) -> str:
    """What the user must know besides the answer: the fallback that answered, a tool loop
    that was interrupted or stopped at its round limit."""
    notes = [attempt.note]
    if response.tool_steps and response.interrupted:
        notes.append("interrupted during the tool loop")
    elif response.finish_reason == "tool_calls" and response.tool_steps:
        notes.append("stopped at the tool-round limit")
    return "; ".join(n for n in notes if n)


def compare_live(engine: Engine, specs: list[ModelSpec], requests: list[Request], prompt: str,
                 *, fmt: str, cache: str | None, stream: bool, aggregate: str, diff: str,
                 cancel: threading.Event | None = None,
                 before_show: Callable[[Any], None] | None = None,
                 schema: Schema | None = None, retries: int = 0,
                 explain: Callable[[ModelSpec, MemoriesError], MemoriesError] | None = None,
                 before: Callable[[ModelSpec, Request], None] | None = None,
                 **view_options: Any) -> Any:
    """Run ``specs`` concurrently into live columns, then aggregate and diff them; the
    columns become the comparison (``before_show`` may add to it first; ``explain`` and
    ``before`` as in :func:`~memories_magics.compare.run_models`)."""
    from ..compare import run_models, summarise
    from ..display.compare_view import compare_bundle
    from ..display.stream import ColumnsView

    view = ColumnsView([s.label for s in specs], **view_options)
    outcomes = run_models(
        engine, specs, requests, cache=cache, stream=stream, fmt=fmt, on_chunk=view.feed,
        cancel=cancel, schema=schema, retries=retries, explain=explain, before=before,
        on_done=lambda i, o: view.settle(i, *(("done", o.result.text) if o.result
                                              else (o.error or "failed", ""))))
    result = summarise(prompt, outcomes, aggregate, diff, schema)
    if before_show is not None:
        before_show(result)
    view.show_final(compare_bundle(result))
    return result
