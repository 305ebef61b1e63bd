"""Running a prompt with live output: what ``%%llm``/``%%compare`` and the panel share.

Each function streams into a live view (:mod:`memories_magics.display.stream`) and returns
the final result object; the caller decides where views and results are shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .config import ModelSpec
from .engine import Engine, Interrupted
from .result import LLMResult
from .types import Request


def answer_live(engine: Engine, chain: list[ModelSpec], make_request: Callable[[ModelSpec], Request],
                *, fmt: str, cache: str | None, stream: bool,
                cancel: threading.Event | None = None, **view_options: Any) -> LLMResult:
    """Ask ``chain[0]`` (then its fallbacks) with tokens streaming into a StreamView; the
    first use of a local model shows a loading notice; Ctrl-C keeps the partial answer."""
    from .display.stream import StreamView
    from .providers.local import is_loaded

    current = chain[0]
    view = StreamView(current.label, **view_options)

    def attempt(model: ModelSpec) -> None:
        nonlocal current
        current = model
        view.label = model.label

    def announce_load() -> None:
        if current.provider == "local" and not is_loaded(current):
            view.status(f"Loading {view.label} (first use in this kernel)…")

    try:
        spec, request, response, note = engine.run_chain(
            chain, make_request, on_attempt=attempt, cache=cache, stream=stream,
            on_call=announce_load, on_chunk=lambda c: view.feed(c.text), cancel=cancel)
    except Interrupted as exc:
        spec, request, response, note = current, make_request(current), exc.partial, ""
    view.finish()
    return LLMResult(response, spec, request, fmt, note)


def compare_live(engine: Engine, specs: list[ModelSpec], requests: list[Request], prompt: str,
                 *, fmt: str, cache: str | None, stream: bool, aggregate: str, diff: str,
                 cancel: threading.Event | None = None, **view_options: Any) -> Any:
    """Run ``specs`` concurrently into live columns, then aggregate and diff them."""
    from .compare import run_models, summarise
    from .display.stream import ColumnsView

    view = ColumnsView([s.label for s in specs], **view_options)
    outcomes = run_models(
        engine, specs, requests, cache=cache, stream=stream, fmt=fmt, on_chunk=view.feed,
        cancel=cancel,
        on_done=lambda i, o: view.settle(i, *(("done", o.result.text) if o.result
                                              else (o.error or "failed", ""))))
    view.finish()
    return summarise(prompt, outcomes, aggregate, diff)
