"""The interactive panel (``%llm panel``, ``memories_magics.panel()``): :mod:`.widget` lays out
the controls that :mod:`.controls` derives from the options' declaration, :mod:`.settings`
turns them into a cell or a request, :mod:`.controller` runs it, :mod:`.output_sink` shows it
(in the widget and as a static copy for exports) and :mod:`.history` keeps the runs."""

from .settings import Settings
from .widget import FALLBACK_TEXT, Panel, panel

__all__ = ["FALLBACK_TEXT", "Panel", "Settings", "panel"]
