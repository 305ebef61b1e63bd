"""Running the panel's request.

Run starts the work on a background thread and returns at once, so the kernel stays free to
receive the Stop click (a comm message handled on the main thread), which sets the ``cancel``
event that the engine checks after every streamed chunk. The work is what a cell does
(:func:`~memories_magics.frontends.run_live.run_llm` / ``run_compare``) with the panel's
option values, displayed into the panel's :class:`OutputSink`; the result goes into the
history and into the static copy under the panel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from ...engine import Engine
from ...errors import MemoriesError, UsageError
from ...images import Prompt, prompt_with_images
from ...secrets import redact
from ...threads import ThreadStore
from ..run_live import run_compare, run_llm
from ..thread_cells import CellTurn
from .history import History
from .output_sink import OutputSink, StaticCopy
from .settings import Settings


class Controller:
    """One run at a time for one panel. ``on_state(running, status)`` is told whenever a run
    starts, ends or a result is re-opened (from the worker thread too)."""

    def __init__(self, engine: Engine, sink: OutputSink, copy: StaticCopy, history: History,
                 on_state: Callable[[bool, str], None], threads: ThreadStore) -> None:
        self.engine, self.history, self.threads = engine, history, threads
        #: The thread of the panel's last answer (what its ``-c`` continues), else None.
        self.thread: str | None = None
        self._sink, self._copy, self._on_state = sink, copy, on_state
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        #: The last answer shown (``LLMResult`` or ``CompareResult``), else None.
        self.result: Any = None
        #: The last run's one-line error, else None.
        self.error: str | None = None

    @property
    def running(self) -> bool:
        """Whether a run is under way."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, settings: Settings) -> None:
        """Check ``settings``, then run them on a background thread; returns at once."""
        if self.running:
            return
        self.result, self.error = None, None
        try:
            if not settings.models:
                raise UsageError("choose a model in the picker first")
            if not settings.prompt.strip():
                raise UsageError("the prompt is empty: write it in the box above")
            prompt = prompt_with_images(settings.prompt.strip(), self.engine.user_ns or {},
                                        settings.options().get("attach"))
            labels = [self.engine.model(m).label for m in settings.models]
        except MemoriesError as exc:
            self.fail(str(exc))
            return
        self._cancel = threading.Event()
        self._on_state(True, "asking " + ", ".join(settings.models) + "…")
        self._sink.clear()
        self._sink.message(f"asking {', '.join(labels)}…")
        self._sink.clear(wait=True)
        self._thread = threading.Thread(target=self._work, args=(settings, prompt),
                                        name="memories-magics-panel", daemon=True)
        self._thread.start()

    def stop(self) -> bool:
        """Stop the run: streaming ends at the next token and the partial answer is shown,
        marked interrupted, and not cached. False if nothing was running."""
        if not self.running:
            return False
        self._cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the run to finish; returns :attr:`result`."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the panel's run is still going after {timeout} s")
        return self.result

    def fail(self, message: str) -> None:
        """Show a one-line error in the panel."""
        self.error = message
        self._sink.clear()
        self._sink.message(message, "stderr")
        self._on_state(False, "error")

    def reopen(self, index: int) -> Any:
        """Show history entry ``index`` again, from the cache (no provider call)."""
        if self.running:
            return None
        result, missed = self.history.reopen(self.engine, index)
        self._sink.clear()
        self._sink.show(result)
        if missed:
            self._sink.message("not in the cache (stopped, or the cache was off): shown as "
                               "it was")
        self._copy.update(result)
        self.result = result
        when = self.history.entries[index].when
        self._on_state(False, f"re-opened {when:%H:%M:%S} from the cache"
                              + (" (partly from memory)" if missed else ""))
        return result

    def _work(self, settings: Settings, prompt: str | Prompt) -> None:
        started = time.perf_counter()
        try:
            result = self._ask(settings, prompt)
        except MemoriesError as exc:
            self.fail(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown in the panel, never lost in a thread
            self.fail(redact(f"{type(exc).__name__}: {exc}"))
            return
        self.result = result
        self.history.add(settings, str(prompt), result)
        self._copy.update(result)
        self._on_state(False, summary(result, time.perf_counter() - started))

    def _ask(self, settings: Settings, prompt: str | Prompt) -> Any:
        """As the equivalent cell would, streaming into the panel's output."""
        user_ns = self.engine.user_ns if self.engine.user_ns is not None else {}
        values = settings.options()
        # -c continues the panel's latest thread (before it has one: the notebook's latest);
        # without it a run starts a thread, as a cell does.
        follow = bool(values.get("continue_thread"))
        turn = CellTurn(self.threads, None, SimpleNamespace(
            continue_thread=follow, thread=self.thread if follow else None,
            system=values.get("system")), cell=False)
        values = {**values, "system": turn.system}
        if settings.compare:
            result = run_compare(self.engine, list(settings.models), prompt, values, user_ns,
                                 turn=turn, cancel=self._cancel, display=self._sink.display)
        else:
            result = run_llm(self.engine, settings.models[0], prompt, values, user_ns,
                             turn=turn, cancel=self._cancel, display=self._sink.display)
        if turn.plan.name in self.threads.threads:
            self.thread = turn.plan.name
        return result


def summary(result: Any, seconds: float) -> str:
    """The status line after a run."""
    outcomes = getattr(result, "outcomes", None)
    responses = ([o.result.response for o in outcomes if o.result is not None]
                 if outcomes is not None else [result.response])
    if any(r.interrupted for r in responses):
        return f"stopped after {seconds:.1f} s: partial answer, not cached"
    if responses and all(r.cached for r in responses):
        return "from the cache"
    return f"done in {seconds:.1f} s"
