"""Live output: one display handle, repainted at most ~20 times a second however fast tokens
arrive (less often when rendering a long answer is slow). :class:`StreamView` shows one
answer, :class:`ColumnsView` several side by side."""

from __future__ import annotations

import threading
import time
from typing import Any

from .render import streaming_bundle
from .safe import displayable, escape_html

#: At most this many display updates per second.
MAX_UPDATES_PER_S = 20
#: Repaints are spaced at least this many times their own rendering time apart.
RENDER_SHARE_INVERSE = 5


class LiveDisplay:
    """Coalesces changes into repaints of one display handle.

    Subclasses record changes and call :meth:`changed`; :meth:`bundle` renders the current
    state; :meth:`show_final` turns the view into the result. ``display`` defaults to
    IPython's (the panel and benchmarks pass their own); nothing here ever clears the cell.
    """

    def __init__(self, *, display: Any = None,
                 max_updates_per_s: float = MAX_UPDATES_PER_S) -> None:
        if display is None:
            from IPython.display import display
        self._display = display
        self._min_interval = self._interval = 1.0 / max_updates_per_s
        self._handle: Any = None
        self._last = 0.0
        self._dirty = False
        self._final = False  # once the final result shows, late changes draw nothing
        self._lock = threading.Lock()
        self.updates = 0

    def bundle(self) -> dict[str, Any]:
        """The MIME bundle for the current state."""
        raise NotImplementedError

    def changed(self) -> None:
        """Note a change; repaint if the last repaint is old enough."""
        self._dirty = True
        now = time.monotonic()
        if now - self._last >= self._interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Repaint now if anything changed since the last repaint."""
        with self._lock:
            if self._dirty and not self._final:
                started = time.perf_counter()
                self._show(self.bundle())
                # Rendering a long answer takes a while: repaint less often, so that it
                # takes at most a fifth of the time whatever the answer's length.
                self._interval = max(self._min_interval,
                                     RENDER_SHARE_INVERSE * (time.perf_counter() - started))
                self._dirty = False
                self._last = time.monotonic() if now is None else now

    def status(self, message: str) -> None:
        """Show a one-line status (e.g. loading a model) until content arrives."""
        message = displayable(message)[0]
        with self._lock:
            if not self._final:
                self._show({"text/plain": message,
                            "text/html": f"<p><em>{escape_html(message)}</em></p>"})

    def _show(self, bundle: dict[str, Any]) -> None:
        if self._handle is None:
            self._handle = self._display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        self.updates += 1

    def show_final(self, bundle: dict[str, Any]) -> None:
        """Replace the live view with the result's MIME ``bundle`` in place, so everything
        else the cell printed meanwhile stays; if nothing was shown yet (a cache hit), it
        becomes a new output. The caller must then not return the result as the cell's
        value, or it shows twice. (The bundle is shown as it is: formatting the result
        through IPython would only look up ten formatters to find the same bundle.)"""
        with self._lock:
            self._final = True
            if self._handle is None:
                self._handle = self._display(bundle, raw=True, display_id=True)
            else:
                self._handle.update(bundle, raw=True)
            self.updates += 1


class StreamView(LiveDisplay):
    """One answer as it streams."""

    def __init__(self, label: str, **options: Any) -> None:
        super().__init__(**options)
        self.label = label
        self._pieces: list[str] = []

    @property
    def text(self) -> str:
        """Everything received so far."""
        return "".join(self._pieces)

    def feed(self, text: str, draw: bool = True) -> None:
        """Add a piece of the answer; ``draw=False`` for the piece that ends it (the final
        view replaces the live one at once, so drawing it would only cost a render)."""
        if text:
            self._pieces.append(text)
            self._dirty = True
            if draw:
                self.changed()

    def bundle(self) -> dict[str, Any]:
        return streaming_bundle(self.text, self.label)


class ColumnsView(LiveDisplay):
    """Several answers streaming side by side (``%%compare``)."""

    def __init__(self, labels: list[str], **options: Any) -> None:
        super().__init__(**options)
        self.labels = labels
        self._pieces: list[list[str]] = [[] for _ in labels]
        self._states = ["waiting…" for _ in labels]

    def feed(self, index: int, text: str) -> None:
        """Add a piece of column ``index``'s answer."""
        if text:
            self._pieces[index].append(text)
            self._states[index] = "streaming…"
            self.changed()

    def settle(self, index: int, state: str, text: str = "") -> None:
        """Mark column ``index`` finished with its whole ``text`` (``state`` is e.g. "done" or
        an error line). Nothing is drawn if nothing streamed yet: all-cached comparisons go
        straight to the final view."""
        self._states[index] = state
        if text:
            self._pieces[index] = [text]
        if self._handle is not None:
            self.changed()

    def bundle(self) -> dict[str, Any]:
        from .compare_view import columns_html

        columns = [(displayable(label)[0], displayable("".join(pieces))[0], displayable(state)[0])
                   for label, pieces, state
                   in zip(self.labels, self._pieces, self._states, strict=True)]
        plain = "\n\n".join(f"== {label} ({state})\n{text}" for label, text, state in columns)
        return {"text/plain": plain, "text/html": columns_html(columns)}
