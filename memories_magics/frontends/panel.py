"""The interactive panel: ``%llm panel`` or ``memories_magics.panel()``.

An ipywidgets 8 front end over the same engine, cache and renderers as the magics: a prompt
box, a model picker (one model gives the ``%%llm`` view, several the ``%%compare`` columns),
the sampling options, cache mode and format, Run / Stop, "Copy as cell" and a history of this
session's runs, re-opened from the cache without calling a provider.

>>> import memories_magics
>>> p = memories_magics.panel("smollm2")      # doctest: +SKIP
>>> p.prompt.value = "Name three rivers."      # doctest: +SKIP
>>> p.seed.value = 1                           # doctest: +SKIP
>>> p.run_button.click(); result = p.wait()   # doctest: +SKIP
>>> print(p.cell_text())                       # doctest: +SKIP
%%llm smollm2 --seed 1
Name three rivers.

**Threads and output.** Run starts the engine work on a background thread and returns at once,
so the kernel stays free to receive the Stop click (a comm message handled on the main thread),
which sets the ``cancel`` event that :meth:`Engine.run` checks after every streamed chunk. The
worker never uses ``with output:`` or IPython's ``display()``: both route output by the
*current* parent message, which for a thread is whatever cell the kernel ran last, so text
would land in the wrong cell. Instead :class:`OutputSink` keeps the list of outputs itself and
assigns ``Output.outputs``, a synced trait: the front end replaces the widget's output area on
each change, and widget comm messages are routed by comm id and sent through ipykernel's IOPub
thread, which is safe from any thread. The live views of the magics (``StreamView``,
``ColumnsView``) take the sink's ``display`` / ``clear`` functions, so streaming looks exactly as
in a cell (repaints coalesced to ~20/s) and the final result is the same MIME bundle.

**Copy as cell.** ipywidgets has no clipboard API, so "Copy as cell" fills a text box
(:attr:`Panel.cell_box`, DOM class ``memories-magics-cell`` inside the panel's
``memories-magics-panel``) to select and copy; :meth:`Panel.cell_text` gives the same text in
Python. A JupyterLab extension can read that text area and insert it as a cell below the panel.
Only options that differ from the magics' defaults are written; the prompt is written as typed,
so ``{expr}`` is interpolated by the cell exactly as the panel did.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..config import ModelSpec
from ..engine import Engine, default_engine
from ..errors import MemoriesError, UsageError
from ..interpolate import interpolate
from ..result import LLMResult
from ..types import Request
from ..vocabulary import AGGREGATION_METHODS, CACHE_MODES, DIFF_MODES, FORMATS

if TYPE_CHECKING:  # compare.py loads on the first comparison
    from ..compare import CompareResult

#: What viewers without a widget manager show instead of the panel.
FALLBACK_TEXT = ("memories_magics panel: needs a widget front end (JupyterLab, Notebook 7, "
                 "VS Code); use %%llm / %%compare cells instead")
#: The value of the cache picker that means "the notebook's mode" (no --cache option).
NOTEBOOK_CACHE = ""
_NO_HISTORY = -1
_PROMPT_PREVIEW = 40


# -- rendering into an Output widget from any thread ---------------------------------------
class _Handle:
    """What :meth:`OutputSink.display` returns: like IPython's DisplayHandle, for one slot."""

    def __init__(self, sink: OutputSink, generation: int, index: int) -> None:
        self._sink, self._generation, self._index = sink, generation, index

    def update(self, obj: Any, raw: bool = False, **_: Any) -> None:
        self._sink._update(self._generation, self._index, obj, raw)


def _format(obj: Any, raw: bool) -> dict[str, Any]:
    """One ``display_data`` output for ``obj`` (a raw MIME bundle, or any displayable object
    formatted as IPython would format the cell's value)."""
    if raw:
        data, metadata = dict(obj), {}
    else:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            data, metadata = shell.display_formatter.format(obj)
        elif hasattr(obj, "_repr_mimebundle_"):
            data, metadata = obj._repr_mimebundle_(), {}
        else:
            data, metadata = {"text/plain": repr(obj)}, {}
    return {"output_type": "display_data", "data": data, "metadata": metadata}


class OutputSink:
    """Displays into an ``ipywidgets.Output`` by assigning its ``outputs`` (safe from threads).

    Offers the ``display(bundle, raw=True, display_id=True)`` / ``clear(wait=True)`` pair that
    :class:`~memories_magics.display.stream.LiveDisplay` expects, plus :meth:`show` for final
    results and :meth:`message` for one-line notes and errors.
    """

    def __init__(self, output: widgets.Output) -> None:
        self.output = output
        self._lock = threading.RLock()
        self._items: list[dict[str, Any]] = []
        self._generation = 0
        self._clear_pending = False

    def display(self, obj: Any, raw: bool = False, display_id: Any = None,
                **_: Any) -> _Handle:
        """Append ``obj``; the returned handle updates it in place."""
        item = _format(obj, raw)
        with self._lock:
            if self._clear_pending:
                self._reset()
            self._items.append(item)
            self._commit()
            return _Handle(self, self._generation, len(self._items) - 1)

    def _update(self, generation: int, index: int, obj: Any, raw: bool) -> None:
        item = _format(obj, raw)
        with self._lock:
            if generation == self._generation and index < len(self._items):
                self._items[index] = item
                self._commit()

    def clear(self, wait: bool = False) -> None:
        """Remove every output, or with ``wait`` when the next output arrives (no flicker)."""
        with self._lock:
            if wait:
                self._clear_pending = True
            else:
                self._reset()
                self._commit()

    def show(self, obj: Any) -> None:
        """Display a result object (``LLMResult``, ``CompareResult``) as a cell would."""
        self.display(obj)

    def message(self, text: str, stream: str = "stdout") -> None:
        """A line of text (``stream="stderr"`` for errors)."""
        with self._lock:
            if self._clear_pending:
                self._reset()
            self._items.append({"output_type": "stream", "name": stream,
                                "text": text if text.endswith("\n") else text + "\n"})
            self._commit()

    def _reset(self) -> None:
        self._items = []
        self._generation += 1
        self._clear_pending = False

    def _commit(self) -> None:
        self.output.outputs = tuple(self._items)


# -- the options the panel shares with the magics ------------------------------------------
@dataclass(frozen=True)
class Settings:
    """A snapshot of the panel's choices; :meth:`cell` writes them as a magic cell."""

    models: tuple[str, ...]
    prompt: str
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    format: str = "markdown"
    cache: str | None = None
    stream: bool = True
    aggregate: str = "consensus"
    diff: str = "word"

    @property
    def compare(self) -> bool:
        """Several models: a ``%%compare``."""
        return len(self.models) > 1

    def cell(self) -> str:
        """The equivalent ``%%llm`` / ``%%compare`` cell (only non-default options)."""
        if not self.models:
            raise UsageError("choose a model in the picker first")
        words = ["%%compare" if self.compare else "%%llm", *map(shlex.quote, self.models)]
        if self.system is not None:
            if "\n" in self.system or "\r" in self.system:
                raise UsageError("a system prompt with line breaks cannot be written on a "
                                 "magic's option line; use one line")
            words += ["-s", shlex.quote(self.system)]
        if self.temperature is not None:
            words += ["-t", repr(float(self.temperature))]
        if self.top_p is not None:
            words += ["--top-p", repr(float(self.top_p))]
        if self.max_tokens is not None:
            words += ["--max-tokens", str(int(self.max_tokens))]
        if self.seed is not None:
            words += ["--seed", str(int(self.seed))]
        if self.format != "markdown":
            words += ["-f", self.format]
        if not self.stream:
            words.append("--no-stream")
        if self.cache:
            words += ["--cache", self.cache]
        if self.compare and self.aggregate != "consensus":
            words += ["--aggregate", self.aggregate]
        if self.compare and self.diff != "word":
            words += ["--diff", self.diff]
        return " ".join(words) + "\n" + self.prompt.strip()

    def request(self, engine: Engine, spec: ModelSpec, prompt: str) -> Request:
        """The request the magic builds from the same options (same cache key)."""
        return engine.request(spec, prompt, system=self.system, temperature=self.temperature,
                              top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed,
                              logprobs=self.compare and self.aggregate == "best_confidence")


class OptionalValue(widgets.HBox):  # type: ignore[misc]  # ipywidgets ships no types
    """A checkbox and a value widget: :attr:`value` is None (the model's default) until the
    box is ticked; moving the widget ticks it."""

    def __init__(self, label: str, widget: widgets.ValueWidget, tooltip: str = "") -> None:
        enabled = widgets.Checkbox(False, description=label, indent=False, tooltip=tooltip,
                                   layout=widgets.Layout(width="8.5em"))
        super().__init__([enabled, widget])
        self.enabled, self.widget = enabled, widget
        widget.observe(self._ticked, "value")

    def _ticked(self, _: Any) -> None:
        self.enabled.value = True

    @property
    def value(self) -> Any:
        """The chosen value, or None when unticked."""
        return self.widget.value if self.enabled.value else None

    @value.setter
    def value(self, value: Any) -> None:
        if value is None:
            self.enabled.value = False
        else:
            self.widget.value = value
            self.enabled.value = True


def _availability(engine: Engine, spec: ModelSpec) -> str:
    """What a model needs before it can run, or its provider's name when it is ready."""
    if spec.provider == "local":
        return "local" if find_spec("llama_cpp") is not None else "needs llama-cpp-python"
    try:
        provider = engine.provider(spec.provider)
    except MemoriesError as exc:
        return str(exc)
    if provider.key_env is None or provider.has_key():
        return spec.provider
    return f"set {provider.key_env}"


def model_choices(engine: Engine) -> tuple[list[tuple[str, str]], str]:
    """``(label, model)`` pairs for the picker, as ``%llm models`` lists them, and the default
    model's value. A label names what is missing, e.g. ``gpt-4o-mini — set OPENAI_API_KEY``."""
    default = engine.model()
    default_value = default.alias or engine.default_model()
    choices: list[tuple[str, str]] = []
    ordered = sorted(engine.config.models.items(),
                     key=lambda kv: (kv[1].provider != "local", kv[1].provider, kv[0]))
    for alias, spec in ordered:
        mark = " · default" if spec == default else ""
        choices.append((f"{alias} — {_availability(engine, spec)}{mark}", alias))
    if default_value not in {value for _, value in choices}:
        choices.insert(0, (f"{default_value} — {_availability(engine, default)} · default",
                           default_value))
    return choices, default_value


@dataclass
class HistoryEntry:
    """One run of this panel: its settings, the interpolated prompt and what it showed."""

    when: datetime
    settings: Settings
    prompt: str
    result: Any

    @property
    def label(self) -> str:
        preview = " ".join(self.prompt.split())
        if len(preview) > _PROMPT_PREVIEW:
            preview = preview[:_PROMPT_PREVIEW - 1] + "…"
        return f"{self.when:%H:%M:%S} · {', '.join(self.settings.models)} · {preview}"


# -- the panel -----------------------------------------------------------------------------
class Panel(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no types
    """The panel widget. Drive it from Python as a user would from the browser:

    set :attr:`prompt`, :attr:`models` (a tuple of model names), :attr:`system`,
    :attr:`temperature` / :attr:`top_p` / :attr:`max_tokens` / :attr:`seed` (None = the
    model's default), :attr:`format`, :attr:`cache_mode` ("" = the notebook's mode),
    :attr:`stream`, :attr:`aggregate`, :attr:`diff`; then ``run_button.click()`` (or
    :meth:`run`), ``stop_button.click()`` (or :meth:`stop`) and :meth:`wait`. The last
    answer is :attr:`result`; what is shown is ``output.outputs``.
    """

    def __init__(self, engine: Engine | None = None, models: Sequence[str] = ()) -> None:
        from IPython import get_ipython

        from ..display.formatters import register

        self.engine = engine or default_engine()
        shell = get_ipython()
        if shell is not None:  # also when used without %load_ext: results render, same cache
            register(shell)
            if self.engine.user_ns is None:
                self.engine.user_ns = shell.user_ns
        layout = widgets.Layout
        wide = {"description_width": "initial"}
        self.prompt = widgets.Textarea(
            placeholder="Prompt. {expr} takes a value from the notebook; {{ }} for braces.",
            layout=layout(width="100%", height="7em"))
        self.models = widgets.SelectMultiple(
            description="models", rows=8, style=wide,
            tooltip="one model: a %%llm answer; several (Ctrl/Shift-click): a %%compare",
            layout=layout(width="auto", min_width="20em", flex="1 1 auto"))
        self.system = widgets.Text(description="system", placeholder="optional system prompt",
                                   style=wide, layout=layout(width="100%"))
        settings = self.engine.config.settings
        self.temperature = OptionalValue("temperature", widgets.FloatSlider(
            value=0.7, min=0.0, max=2.0, step=0.05, readout_format=".2f"))
        self.top_p = OptionalValue("top-p", widgets.FloatSlider(
            value=1.0, min=0.0, max=1.0, step=0.01, readout_format=".2f"))
        self.max_tokens = OptionalValue("max tokens", widgets.BoundedIntText(
            value=int(settings.get("max_tokens") or 512), min=1, max=10_000_000,
            layout=layout(width="9em")))
        self.seed = OptionalValue("seed", widgets.IntText(value=0, layout=layout(width="9em")),
                                  "the local model repeats its text for a seed")
        self.format = widgets.Dropdown(options=FORMATS, value="markdown", description="format",
                                       style=wide, layout=layout(width="13em"))
        self.cache_mode = widgets.Dropdown(
            options=[("notebook mode", NOTEBOOK_CACHE), *((m, m) for m in CACHE_MODES)],
            value=NOTEBOOK_CACHE, description="cache", style=wide, layout=layout(width="15em"))
        self.stream = widgets.Checkbox(True, description="stream", indent=False,
                                       layout=layout(width="6em"))
        self.aggregate = widgets.Dropdown(options=AGGREGATION_METHODS, value="consensus",
                                          description="aggregate", style=wide,
                                          layout=layout(width="15em"))
        self.diff = widgets.Dropdown(options=DIFF_MODES, value="word", description="diff",
                                     style=wide, layout=layout(width="9em"))
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary",
                                         tooltip="ask the chosen model(s)")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True,
                                          tooltip="stop streaming; the partial answer is kept, "
                                                  "not cached")
        self.copy_button = widgets.Button(description="Copy as cell", icon="copy",
                                          tooltip="the equivalent %%llm / %%compare cell")
        self.status = widgets.Label("")
        self.history = widgets.Dropdown(options=[("no runs yet", _NO_HISTORY)],
                                        value=_NO_HISTORY, description="history", style=wide,
                                        disabled=True, layout=layout(width="100%"))
        self.cell_box = widgets.Textarea(layout=layout(width="100%", height="6em",
                                                       display="none"))
        self.cell_box.add_class("memories-magics-cell")
        self.output = widgets.Output(layout=layout(width="100%"))
        self._sink = OutputSink(self.output)
        self._history: list[HistoryEntry] = []
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._quiet = False
        #: The last answer shown (``LLMResult`` or ``CompareResult``), else None.
        self.result: Any = None
        #: The last run's one-line error, else None.
        self.error: str | None = None

        self.refresh_models(models)
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.copy_button.on_click(lambda _: self.copy_as_cell())
        self.history.observe(self._history_chosen, "value")
        self.models.observe(self._models_chosen, "value")
        options = widgets.VBox([
            self.system, self.temperature, self.top_p,
            widgets.HBox([self.max_tokens, self.seed]),
            widgets.HBox([self.format, self.cache_mode, self.stream]),
            widgets.HBox([self.aggregate, self.diff])], layout=layout(flex="2 1 auto"))
        super().__init__([
            self.prompt,
            widgets.HBox([self.models, options], layout=layout(width="100%")),
            widgets.HBox([self.run_button, self.stop_button, self.copy_button, self.status]),
            self.history, self.cell_box, self.output])
        self.add_class("memories-magics-panel")
        self._models_chosen()

    # -- front ends without widgets --------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = FALLBACK_TEXT
        return bundle

    def __repr__(self) -> str:
        return f"<memories_magics panel: {len(self._history)} run(s)>"

    # -- state -----------------------------------------------------------------------------
    def refresh_models(self, select: Sequence[str] = ()) -> None:
        """Rebuild the picker's labels (keys set since show up) keeping the selection;
        ``select`` chooses models (default: the current choice, else the default model)."""
        choices, default = model_choices(self.engine)
        values = [value for _, value in choices]
        wanted = list(select) or [m for m in self.models.value if m in values] or [default]
        for name in wanted:
            if name not in values:
                spec = self.engine.model(name)  # an unknown name is a one-line error here
                choices.append((f"{name} — {_availability(self.engine, spec)}", name))
                values.append(name)
        self._quiet = True
        try:
            self.models.options = choices
            self.models.value = tuple(wanted)
        finally:
            self._quiet = False

    def settings(self) -> Settings:
        """The current choices."""
        return Settings(
            models=tuple(self.models.value), prompt=self.prompt.value,
            system=self.system.value if self.system.value.strip() else None,
            temperature=self.temperature.value, top_p=self.top_p.value,
            max_tokens=self.max_tokens.value, seed=self.seed.value, format=self.format.value,
            cache=self.cache_mode.value or None, stream=self.stream.value,
            aggregate=self.aggregate.value, diff=self.diff.value)

    def cell_text(self) -> str:
        """The ``%%llm`` / ``%%compare`` cell that gives the same answer as Run would."""
        return self.settings().cell()

    def copy_as_cell(self) -> str:
        """Show :meth:`cell_text` in :attr:`cell_box` (select it there and copy)."""
        try:
            text = self.cell_text()
        except MemoriesError as exc:
            self.status.value = str(exc)
            return ""
        self.cell_box.value = text
        self.cell_box.layout.display = None
        self.status.value = "the cell is below: select it and copy (Ctrl/Cmd-C)"
        return text

    @property
    def running(self) -> bool:
        """Whether a run is under way."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def history_entries(self) -> list[HistoryEntry]:
        """This panel's runs, oldest first."""
        return list(self._history)

    def _models_chosen(self, _: Any = None) -> None:
        self.aggregate.disabled = self.diff.disabled = len(self.models.value) < 2

    # -- running ---------------------------------------------------------------------------
    def run(self) -> None:
        """Start a run on a background thread (what the Run button does); returns at once."""
        if self.running:
            return
        self.result, self.error = None, None
        settings = self.settings()
        try:
            if not settings.models:
                raise UsageError("choose a model in the picker first")
            if not settings.prompt.strip():
                raise UsageError("the prompt is empty: write it in the box above")
            prompt = interpolate(settings.prompt.strip(), self.engine.user_ns or {})
            specs = [self.engine.model(m) for m in settings.models]
        except MemoriesError as exc:
            self._fail(str(exc))
            return
        self.refresh_models()
        self._cancel = threading.Event()
        self._set_running(True, "asking " + ", ".join(settings.models) + "…")
        self._sink.clear()
        self._sink.message(f"asking {', '.join(s.label for s in specs)}…")
        self._sink.clear(wait=True)
        self._thread = threading.Thread(target=self._work, args=(settings, prompt, specs),
                                        name="memories-magics-panel", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the run (what the Stop button does): streaming ends at the next token and
        the partial answer is shown, marked interrupted, and not cached."""
        if self.running:
            self._cancel.set()
            self.stop_button.disabled = True
            self.status.value = "stopping…"

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the run to finish (for scripts and tests); returns :attr:`result`."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the panel's run is still going after {timeout} s")
        return self.result

    def _work(self, settings: Settings, prompt: str, specs: list[ModelSpec]) -> None:
        started = time.perf_counter()
        status = ""
        try:
            run = self._compare if settings.compare else self._single
            result = run(settings, prompt, specs)
            self.result = result
            self._remember(HistoryEntry(datetime.now(), settings, prompt, result))
            status = _summary(result, time.perf_counter() - started)
        except MemoriesError as exc:
            status = self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the panel, never lost in a thread
            from ..secrets import redact

            status = self._fail(redact(f"{type(exc).__name__}: {exc}"))
        finally:
            self._set_running(False, status)

    def _single(self, settings: Settings, prompt: str, specs: list[ModelSpec]) -> LLMResult:
        """As ``%%llm`` does: the model and its configured fallbacks, streamed into the view."""
        from .run_live import answer_live

        chain = self.engine.chain(specs[0])
        result = answer_live(self.engine, chain,
                             lambda model: settings.request(self.engine, model, prompt),
                             fmt=settings.format, cache=settings.cache, stream=settings.stream,
                             cancel=self._cancel, display=self._sink.display,
                             clear=self._sink.clear)
        self._sink.show(result)
        return result

    def _compare(self, settings: Settings, prompt: str, specs: list[ModelSpec]) -> Any:
        """As ``%%compare`` does: concurrent models in live columns, then the summary."""
        from .run_live import compare_live

        requests = [settings.request(self.engine, spec, prompt) for spec in specs]
        result = compare_live(self.engine, specs, requests, prompt, fmt=settings.format,
                              cache=settings.cache, stream=settings.stream,
                              aggregate=settings.aggregate, diff=settings.diff,
                              cancel=self._cancel, display=self._sink.display,
                              clear=self._sink.clear)
        self._sink.show(result)
        return result

    def _fail(self, message: str) -> str:
        self.error = message
        self._sink.clear()
        self._sink.message(message, "stderr")
        self.status.value = "error"
        return "error"

    def _set_running(self, running: bool, status: str) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.history.disabled = running or not self._history
        self.status.value = status

    # -- history ---------------------------------------------------------------------------
    def _remember(self, entry: HistoryEntry) -> None:
        self._history.append(entry)
        self._quiet = True
        try:
            self.history.options = [("earlier runs…", _NO_HISTORY),
                                    *((e.label, i) for i, e in enumerate(self._history))]
            self.history.value = _NO_HISTORY
        finally:
            self._quiet = False

    def _history_chosen(self, change: Any) -> None:
        if not self._quiet and change.new != _NO_HISTORY and change.new is not None:
            self.reopen(change.new)

    def reopen(self, index: int) -> Any:
        """Show run ``index`` of :attr:`history_entries` again, from the cache (no provider
        call). A run that was never cached (stopped, cache off) is shown as it was."""
        if self.running:
            return None
        entry = self._history[index]
        cache = self.engine.cache()
        settings = entry.settings
        result: CompareResult | LLMResult
        if settings.compare:
            from ..compare import ModelOutcome, summarise

            outcomes = []
            for old in entry.result.outcomes:
                outcome = ModelOutcome(old.spec, old.request)
                hit = cache.get(old.request)
                if hit is not None:
                    outcome.result = LLMResult(hit, old.spec, old.request, settings.format)
                else:
                    outcome.result, outcome.error = old.result, old.error
                outcomes.append(outcome)
            result = summarise(entry.prompt, outcomes, settings.aggregate, settings.diff)
            missed = any(o.result is not None and not o.result.response.cached for o in outcomes)
        else:
            old = entry.result
            hit = cache.get(old.request)
            result = old if hit is None else LLMResult(hit, old.spec, old.request, old.format,
                                                       old.note)
            missed = hit is None
        self._sink.clear()
        self._sink.show(result)
        if missed:
            self._sink.message("not in the cache (stopped, or the cache was off): shown as "
                               "it was")
        self.result = result
        self.status.value = f"re-opened {entry.when:%H:%M:%S} from the cache" + (
            "" if not missed else " (partly from memory)")
        return result


def _summary(result: Any, seconds: float) -> str:
    """The status line after a run."""
    outcomes = getattr(result, "outcomes", None)
    responses = ([o.result.response for o in outcomes if o.result is not None]
                 if outcomes is not None else [result.response])
    if any(r.interrupted for r in responses):
        return f"stopped after {seconds:.1f} s: partial answer, not cached"
    if responses and all(r.cached for r in responses):
        return "from the cache"
    return f"done in {seconds:.1f} s"


def panel(*models: str, engine: Engine | None = None) -> Panel:
    """A new :class:`Panel` (``%llm panel`` displays one); ``models`` preselects models."""
    return Panel(engine, models)

