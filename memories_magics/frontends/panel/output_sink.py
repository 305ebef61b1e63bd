"""Where the panel's output goes: its ``ipywidgets.Output`` (from any thread) and a static copy
of the last result in the panel's cell, for viewers without widgets.

**Why by hand.** The panel's worker thread can't use ``with output:`` or IPython's
``display()``: both route output by the *current* parent message, which for a thread is
whatever the kernel handled last, so text would land in the wrong cell. :class:`OutputSink`
keeps the list of outputs itself and assigns ``Output.outputs``, a synced trait: the front end
replaces the widget's output area on each change, and widget comm messages are routed by comm
id and sent through ipykernel's IOPub thread, which is safe from any thread. The live views of
the magics (``StreamView``, ``ColumnsView``) take :meth:`OutputSink.display`, so streaming looks
exactly as in a cell and the final result is the same MIME bundle.

:class:`StaticCopy` is a display of the panel's own cell, shown with the panel and updated in
place by display id (front ends and nbclient route such updates to the output that holds the
id, whichever message they answer), so the saved notebook keeps a readable copy of the last
result for nbconvert, GitHub's viewer or VS Code without widgets. While the panel is live, its
style hides the copy, so a widget front end shows the answer once.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from ...display.safe import escape_html

#: The class of the static copy's HTML; the live panel's style hides it.
COPY_CLASS = "memories-magics-panel-copy"
#: The style a live panel carries: in JupyterLab and Notebook 7, an output after a live panel
#: in the same cell that holds the copy is hidden (a dead panel's copy stays visible).
COPY_STYLE = (f"<style>.jp-OutputArea-child:has(.memories-magics-panel) ~ "
              f".jp-OutputArea-child:has(.{COPY_CLASS}) {{display: none}}</style>")


class _Handle:
    """What :meth:`OutputSink.display` returns: like IPython's DisplayHandle, for one slot."""

    def __init__(self, sink: OutputSink, generation: int, index: int) -> None:
        self._sink, self._generation, self._index = sink, generation, index

    def update(self, obj: Any, raw: bool = False, **_: Any) -> None:
        self._sink._update(self._generation, self._index, obj, raw)


def formatted(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``obj``'s MIME bundle and metadata, as IPython formats a cell's value."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        data, metadata = shell.display_formatter.format(obj)
        return dict(data), dict(metadata)
    if hasattr(obj, "_repr_mimebundle_"):
        return dict(obj._repr_mimebundle_()), {}
    return {"text/plain": repr(obj)}, {}


def _output(obj: Any, raw: bool) -> dict[str, Any]:
    """One ``display_data`` output for ``obj`` (a raw MIME bundle, or any displayable object)."""
    data, metadata = (dict(obj), {}) if raw else formatted(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


class OutputSink:
    """Displays into an ``ipywidgets.Output`` by assigning its ``outputs`` (safe from threads).

    Offers the ``display(bundle, raw=True, display_id=True)`` that
    :class:`~memories_magics.display.stream.LiveDisplay` expects, plus :meth:`clear`,
    :meth:`show` for results and :meth:`message` for one-line notes and errors.
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
        item = _output(obj, raw)
        with self._lock:
            if self._clear_pending:
                self._reset()
            self._items.append(item)
            self._commit()
            return _Handle(self, self._generation, len(self._items) - 1)

    def _update(self, generation: int, index: int, obj: Any, raw: bool) -> None:
        item = _output(obj, raw)
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


class StaticCopy:
    """The panel's last result as a plain output of its cell: static HTML and text, no widget
    and no extension payload. :meth:`show` runs on the kernel's main thread when the panel is
    displayed; :meth:`update` may run on any thread."""

    def __init__(self) -> None:
        import uuid

        self.display_id = f"memories-magics-panel-copy-{uuid.uuid4().hex}"
        self.shown = False

    def show(self) -> None:
        """Add the copy (empty until a result shows) under the panel."""
        from IPython.display import display

        display(self._bundle(None), raw=True, display_id=self.display_id)
        self.shown = True

    def update(self, result: Any) -> None:
        """Make the copy show ``result`` (if the panel has been displayed)."""
        if self.shown:
            from IPython.display import update_display

            update_display(self._bundle(result), raw=True, display_id=self.display_id)

    @staticmethod
    def _bundle(result: Any) -> dict[str, Any]:
        if result is None:
            return {"text/plain": "", "text/html": f'<div class="{COPY_CLASS}"></div>'}
        data, _ = formatted(result)
        note = "memories_magics panel: its last result (a static copy for viewers without widgets)"
        html = data.get("text/html") or f"<pre>{escape_html(data.get('text/plain', ''))}</pre>"
        return {"text/plain": f"{note}\n{data.get('text/plain', '')}",
                "text/html": f'<div class="{COPY_CLASS}"><p><sub>{escape_html(note)}</sub></p>'
                             f"{html}</div>"}
