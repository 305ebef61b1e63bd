"""The panel widget: ``%llm panel`` or ``memories_magics.panel()``.

An ipywidgets 8 front end over the same engine, cache and renderers as the magics: a prompt
box, a model picker (one model gives the ``%%llm`` view, several the ``%%compare`` columns),
one control per option of the magics (derived from their declaration, see :mod:`.controls`),
Run / Stop, "Copy as cell" and a history of this session's runs, re-opened from the cache.
Each run is a turn in the kernel's threads (``%llm thread list``): ticking ``-c`` continues
the panel's latest thread, without moving the one a notebook cell's ``-c`` continues.
This module lays the controls out and wires them; :mod:`.controller` runs a request,
:mod:`.output_sink` shows it, :mod:`.history` remembers it.

>>> import memories_magics
>>> p = memories_magics.panel("smollm2")      # doctest: +SKIP
>>> p.prompt.value = "Name three rivers."      # doctest: +SKIP
>>> p.controls["seed"].value = 1              # doctest: +SKIP
>>> p.run_button.click(); result = p.wait()   # doctest: +SKIP
>>> print(p.cell_text())                       # doctest: +SKIP
%%llm smollm2 --seed 1
Name three rivers.

**Copy as cell.** With the JupyterLab extension (JupyterLab, Notebook 7), "Copy as cell" inserts
the cell below the panel's cell, in edit mode (see :mod:`.cell_insert`); without it, after a
second, it fills a text box (:attr:`Panel.cell_box`, DOM class ``memories-magics-cell`` inside
the panel's ``memories-magics-panel``) to select and copy. :meth:`Panel.cell_text` gives the
same text in Python. Only options that differ from the magics' defaults are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from ...engine import Engine, default_engine
from ...errors import MemoriesError
from ...options import OPTIONS
from ...threads import ThreadStore
from .cell_insert import ask_to_insert
from .controller import Controller
from .controls import control_value, model_choices, model_label, option_control, panel_options
from .history import NO_RUN, History, HistoryEntry
from .output_sink import COPY_STYLE, OutputSink, StaticCopy
from .settings import Settings

#: What viewers without a widget manager show instead of the panel.
FALLBACK_TEXT = ("memories_magics panel: needs a widget front end (JupyterLab, Notebook 7, "
                 "VS Code); use %%llm / %%compare cells instead")


class Panel(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no types
    """The panel widget. Drive it from Python as a user would from the browser:

    set :attr:`prompt`, :attr:`models` (a tuple of model names) and any option's control in
    :attr:`controls` by its name (``p.controls["temperature"].value = 0``,
    ``p.controls["cache"].value = "replay"``; numbers are None, the model's default, until
    set); then
    ``run_button.click()`` (or :meth:`run`), ``stop_button.click()`` (or :meth:`stop`) and
    :meth:`wait`. The last answer is :attr:`result`; what is shown is ``output_area.outputs``.
    """

    def __init__(self, engine: Engine | None = None, models: Sequence[str] = (),
                 threads: ThreadStore | None = None) -> None:
        from IPython import get_ipython

        from ...display.formatters import register

        self.engine = engine or default_engine()
        shell = get_ipython()
        if shell is not None:  # also when used without %load_ext: results render, same cache
            register(shell)
            if self.engine.user_ns is None:
                self.engine.user_ns = shell.user_ns
        layout = widgets.Layout
        self.prompt = widgets.Textarea(
            placeholder="Prompt. {expr} takes a value from the notebook; {{ }} for braces.",
            layout=layout(width="100%", height="7em"))
        self.models = widgets.SelectMultiple(
            description="models", rows=8, style={"description_width": "initial"},
            tooltip="one model: a %%llm answer; several (Ctrl/Shift-click): a %%compare",
            layout=layout(width="auto", min_width="20em"))
        #: Said beside the list, not only in a tooltip: how to pick several models.
        self.models_hint = widgets.HTML(
            "<small>Ctrl/⌘-click or Shift-click to pick several models: they are compared "
            "side by side.</small>")
        #: One control per option of the magics, by option name.
        self.controls: dict[str, Any] = {
            name: option_control(OPTIONS[name], self.engine.config.settings)
            for name in panel_options()}
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary",
                                         tooltip="ask the chosen model(s)")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True,
                                          tooltip="stop streaming; the partial answer is kept, "
                                                  "not cached")
        self.copy_button = widgets.Button(description="Copy as cell", icon="copy",
                                          tooltip="insert the equivalent %%llm / %%compare "
                                                  "cell below")
        self.status = widgets.Label("")
        self.history = widgets.Dropdown(description="history", disabled=True,
                                        style={"description_width": "initial"},
                                        layout=layout(width="100%"))
        self.cell_box = widgets.Textarea(layout=layout(width="100%", height="6em",
                                                       display="none"))
        self.cell_box.add_class("memories-magics-cell")
        self.output_area = widgets.Output(layout=layout(width="100%"))
        self._copy = StaticCopy()
        self._controller = Controller(self.engine, OutputSink(self.output_area), self._copy,
                                      History(), self._state, threads or ThreadStore())
        self._quiet = False
        self._show_history()

        self.refresh_models(models)
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.copy_button.on_click(lambda _: self.copy_as_cell())
        self.history.observe(self._history_chosen, "value")
        self.models.observe(self._models_chosen, "value")
        super().__init__([
            self.prompt,
            widgets.HBox([widgets.VBox([self.models, self.models_hint],
                                       layout=layout(flex="1 1 auto", min_width="20em")),
                          self._options_box()], layout=layout(width="100%", flex_flow="row wrap")),
            widgets.HBox([self.run_button, self.stop_button, self.copy_button, self.status]),
            self.history, self.cell_box, self.output_area,
            widgets.HTML(COPY_STYLE, layout=layout(display="none"))])
        self.add_class("memories-magics-panel")
        #: This panel's own DOM class: where the extension inserts a copied cell (below it).
        self.dom_id = f"memories-magics-panel-{self.model_id}"
        self.add_class(self.dom_id)
        self._models_chosen()

    def _options_box(self) -> widgets.VBox:
        """Text request options (the system prompt) on full rows, sliders on their own rows,
        the rest flowing in rows that wrap to the cell's width."""
        rows: list[Any] = []
        flowing: list[Any] = []
        for name, control in self.controls.items():
            option = OPTIONS[name]
            full_row = (option.type == "str" and option.role == "request") or \
                (option.type == "float" and option.min is not None and option.max is not None)
            if full_row:
                rows.append(control)
            else:
                flowing.append(control)
        rows.append(widgets.HBox(flowing, layout=widgets.Layout(flex_flow="row wrap")))
        return widgets.VBox(rows, layout=widgets.Layout(flex="2 1 auto"))

    # -- display ---------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        """The widget, then the static copy of its last result (for viewers without widgets)."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        self._copy.show()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = FALLBACK_TEXT
        return bundle

    def __repr__(self) -> str:
        return f"<memories_magics panel: {len(self.history_entries)} run(s)>"

    # -- state -----------------------------------------------------------------------------
    @property
    def result(self) -> Any:
        """The last answer shown (``LLMResult`` or ``CompareResult``), else None."""
        return self._controller.result

    @property
    def error(self) -> str | None:
        """The last run's one-line error, else None."""
        return self._controller.error

    @property
    def running(self) -> bool:
        """Whether a run is under way."""
        return self._controller.running

    @property
    def history_entries(self) -> list[HistoryEntry]:
        """This panel's runs, oldest first."""
        return list(self._controller.history.entries)

    def refresh_models(self, select: Sequence[str] = ()) -> None:
        """Rebuild the picker's labels (keys set since show up) keeping the selection;
        ``select`` chooses models (default: the current choice, else the default model)."""
        choices, default = model_choices(self.engine)
        values = [value for _, value in choices]
        wanted = list(select) or [m for m in self.models.value if m in values] or [default]
        for name in wanted:
            if name not in values:
                choices.append((model_label(self.engine, name), name))
                values.append(name)
        self._quiet = True
        try:
            self.models.options = choices
            self.models.value = tuple(wanted)
        finally:
            self._quiet = False

    def settings(self) -> Settings:
        """The current choices (a bad value is a one-line UsageError)."""
        values = {name: control_value(OPTIONS[name], control)
                  for name, control in self.controls.items()}
        return Settings(tuple(self.models.value), self.prompt.value, values)

    def cell_text(self) -> str:
        """The ``%%llm`` / ``%%compare`` cell that gives the same answer as Run would."""
        return self.settings().cell()

    def copy_as_cell(self) -> str:
        """Insert :meth:`cell_text` as a code cell below the panel (with the JupyterLab
        extension), else show it in :attr:`cell_box` to select and copy; returns the text."""
        try:
            text = self.cell_text()
        except MemoriesError as exc:
            self.status.value = str(exc)
            return ""
        self.status.value = "inserting the cell below…"
        ask_to_insert(text, self.dom_id, lambda inserted: self._copied(text, inserted))
        return text

    def _copied(self, text: str, inserted: bool) -> None:
        if inserted:
            self.cell_box.layout.display = "none"
            self.status.value = "inserted the cell below the panel"
            return
        self.cell_box.value = text
        self.cell_box.layout.display = None
        self.status.value = "the cell is in the box below: select it and copy (Ctrl/Cmd-C)"

    def _models_chosen(self, _: Any = None) -> None:
        magic = "compare" if len(self.models.value) > 1 else "llm"
        for name, control in self.controls.items():
            control.disabled = magic not in OPTIONS[name].magics

    # -- running ---------------------------------------------------------------------------
    def run(self) -> None:
        """Start a run on a background thread (what the Run button does); returns at once."""
        if self.running:
            return
        try:
            settings = self.settings()
        except MemoriesError as exc:
            self._controller.fail(str(exc))
            return
        self.refresh_models()
        self._controller.start(settings)

    def stop(self) -> None:
        """Stop the run (what the Stop button does): streaming ends at the next token and
        the partial answer is shown, marked interrupted, and not cached."""
        if self._controller.stop():
            self.stop_button.disabled = True
            self.status.value = "stopping…"

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the run to finish (for scripts and tests); returns :attr:`result`."""
        return self._controller.wait(timeout)

    def reopen(self, index: int) -> Any:
        """Show run ``index`` of :attr:`history_entries` again, from the cache (no provider
        call). A run that was never cached (stopped, cache off) is shown as it was."""
        return self._controller.reopen(index)

    def _state(self, running: bool, status: str) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self._show_history()
        self.history.disabled = running or not self.history_entries
        self.status.value = status

    def _show_history(self) -> None:
        self._quiet = True
        try:
            self.history.options = self._controller.history.menu()
            self.history.value = NO_RUN
        finally:
            self._quiet = False

    def _history_chosen(self, change: Any) -> None:
        if not self._quiet and change.new != NO_RUN and change.new is not None:
            self.reopen(change.new)


def panel(*models: str, engine: Engine | None = None) -> Panel:
    """A new :class:`Panel` (``%llm panel`` displays one); ``models`` preselects models.
    It shares the threads of ``%load_ext memories_magics``'s magics, when loaded."""
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get("LLMMagics") if shell is not None else None
    return Panel(engine, models, getattr(magics, "threads", None))
