"""Running a prompt with live output: what ``%%llm``/``%%compare`` and the panel share.

Each function drains the engine's events into a live view
(:mod:`memories_magics.display.stream`) and returns the final result object; the caller
decides where views and results are shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..config import ModelSpec
from ..engine import Attempt, Engine, interrupt
from ..received import Interrupted
from ..result import LLMResult
from ..types import Chunk, Request, Response, ToolStep


def answer_live(engine: Engine, chain: list[ModelSpec],
                make_request: Callable[[ModelSpec], Request], *, fmt: str, cache: str | None,
                stream: bool,
                tools: dict[str, Callable[..., Any]] | None = None,
                cancel: threading.Event | None = None, **view_options: Any) -> LLMResult:
    """Ask ``chain[0]`` (then its fallbacks) with tokens streaming into a StreamView; tool
    calls show as they run; the first use of a local model shows a loading notice; Ctrl-C
    keeps the partial answer (and the tool calls made so far)."""
    from ..display.stream import StreamView
    from ..providers.local import is_loaded

    view = StreamView(chain[0].label, **view_options)
    attempt: Attempt | None = None  # answer_chain's first event names the model it asks

    def announce_load() -> None:
        if attempt is not None and attempt.spec.provider == "local" and \
                not is_loaded(attempt.spec):
            view.status(f"Loading {view.label} (first use in this kernel)…")

    response: Response | None = None
    events = engine.answer_chain(chain, make_request, cache=cache, stream=stream, tools=tools,
                                 cancel=cancel, on_call=announce_load)
    try:
        for event in events:
            if isinstance(event, Attempt):
                attempt = event
                view.label = event.spec.label
            elif isinstance(event, Chunk):
                view.feed(event.text)
            elif isinstance(event, ToolStep):
                view.feed(f"\n[{event.call.name} → {event.result[:80]}]\n")
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
    view.finish()
    assert attempt is not None and response is not None  # or answer_chain raised
    return LLMResult(response, attempt.spec, attempt.request, fmt, _note(attempt, response))


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
                 cancel: threading.Event | None = None, **view_options: Any) -> Any:
    """Run ``specs`` concurrently into live columns, then aggregate and diff them."""
    from ..compare import run_models, summarise
    from ..display.stream import ColumnsView

    view = ColumnsView([s.label for s in specs], **view_options)
    outcomes = run_models(
        engine, specs, requests, cache=cache, stream=stream, fmt=fmt, on_chunk=view.feed,
        cancel=cancel,
        on_done=lambda i, o: view.settle(i, *(("done", o.result.text) if o.result
                                              else (o.error or "failed", ""))))
    view.finish()
    return summarise(prompt, outcomes, aggregate, diff)
