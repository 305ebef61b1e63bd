"""Streaming into one output through one display handle, with coalesced updates."""

from __future__ import annotations

import time
from typing import Any

from .render import streaming_bundle

#: At most this many display updates per second, however fast tokens arrive.
MAX_UPDATES_PER_S = 20


class StreamView:
    """Shows text as it arrives; repaints at most ``MAX_UPDATES_PER_S`` times a second.

    ``display`` and ``clear`` default to IPython's; tests and benchmarks pass their own.
    """

    def __init__(self, label: str, *, display: Any = None, clear: Any = None,
                 max_updates_per_s: float = MAX_UPDATES_PER_S) -> None:
        if display is None or clear is None:
            from IPython.display import clear_output
            from IPython.display import display as ipython_display
            display, clear = display or ipython_display, clear or clear_output
        self.label = label
        self._display, self._clear = display, clear
        self._interval = 1.0 / max_updates_per_s
        self._pieces: list[str] = []
        self._handle: Any = None
        self._last = 0.0
        self._dirty = False
        self.updates = 0

    @property
    def text(self) -> str:
        """Everything received so far."""
        return "".join(self._pieces)

    def status(self, message: str) -> None:
        """Show a one-line status (e.g. loading a model) until text arrives."""
        self._show({"text/plain": message, "text/markdown": f"*{message}*"})

    def feed(self, text: str) -> None:
        """Add a piece of text; repaint if the last repaint is old enough."""
        if not text:
            return
        self._pieces.append(text)
        self._dirty = True
        now = time.monotonic()
        if now - self._last >= self._interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Repaint now if anything arrived since the last repaint."""
        if self._dirty:
            self._show(streaming_bundle(self.text, self.label))
            self._dirty = False
            self._last = time.monotonic() if now is None else now

    def _show(self, bundle: dict[str, Any]) -> None:
        if self._handle is None:
            self._handle = self._display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        self.updates += 1

    def finish(self) -> None:
        """Make way for the final result: the streamed view is cleared when it is shown."""
        if self._handle is not None:
            self._clear(wait=True)
