"""A real IPython ``InteractiveShell`` whose outputs go nowhere but a list (IPython only, so the
baselines' workers can use it too).

Display calls (``display``, display-handle updates, ``clear_output``) and the cell's result
(the display hook, after the shell has formatted it into a MIME bundle, as a kernel would) are
recorded with ``perf_counter`` timestamps instead of being printed::

    shell = quiet_shell()
    shell.run_line_magic("load_ext", "memories_magics")
    run(shell, "%%llm --cache off\\nSay hi")
    shell.outputs.last_result()   # {"text/plain": ..., "text/html": ..., ...}
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell


class Outputs:
    """What a cell showed, in order: ``(perf_counter time, kind, data)`` with kind one of
    ``display``, ``update``, ``clear`` and ``result``."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, Any]] = []

    def add(self, kind: str, data: Any) -> None:
        self.events.append((time.perf_counter(), kind, data))

    def clear(self) -> None:
        self.events.clear()

    def first(self, kind: str) -> tuple[float, str, Any] | None:
        """The first event of ``kind`` (None if there is none)."""
        return next((e for e in self.events if e[1] == kind), None)

    def last_result(self) -> dict[str, Any] | None:
        """The MIME bundle of the cell's answer: the last display carrying a memories_magics
        payload (``%%llm`` and ``%%compare`` turn their live view into the answer in place),
        else the cell's result, if it had one."""
        answers = [e for e in self.events if e[1] in ("display", "update")
                   and any(key.startswith("application/vnd.memories-magics.") for key in e[2])]
        results = answers or [e for e in self.events if e[1] == "result"]
        return results[-1][2] if results else None


class RecordingPublisher(DisplayPublisher):
    """Records display data instead of printing it."""

    def __init__(self, outputs: Outputs, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorded = outputs

    def publish(self, data: Any, metadata: Any = None, source: Any = None, *,  # type: ignore[override]
                transient: Any = None, update: bool = False, **kwargs: Any) -> None:
        self.recorded.add("update" if update else "display", data)

    def clear_output(self, wait: bool = False) -> None:
        self.recorded.add("clear", None)


class RecordingDisplayHook(DisplayHook):
    """Formats the cell's result as a kernel does, then records the bundle."""

    def __init__(self, outputs: Outputs, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorded = outputs

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict: dict[str, Any], md_dict: Any = None) -> None:
        self.recorded.add("result", format_dict)

    def finish_displayhook(self) -> None:
        self._is_active = False


def quiet_shell() -> InteractiveShell:
    """The process's InteractiveShell with recorded outputs (``shell.outputs``) and no history
    file; IPython's profile goes to a temporary directory, not the user's ``~/.ipython``."""
    os.environ.setdefault("IPYTHONDIR",
                          os.path.join(tempfile.gettempdir(), "memories-bench-ipython"))
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    outputs = Outputs()
    shell.display_pub = RecordingPublisher(outputs, shell=shell)
    shell.displayhook = RecordingDisplayHook(outputs, shell=shell, cache_size=0)
    shell.display_trap.hook = shell.displayhook
    shell.outputs = outputs  # type: ignore[attr-defined]
    return shell


def run(shell: InteractiveShell, cell: str) -> Any:
    """Run ``cell`` as a notebook cell would run; raise if it failed. Returns the cell's value."""
    result = shell.run_cell(cell, store_history=False)
    if not result.success:
        error = result.error_in_exec or result.error_before_exec
        raise RuntimeError(f"cell failed: {type(error).__name__}: {error}\n{cell}")
    return result.result


def ours_shell(**env: str) -> InteractiveShell:
    """:func:`quiet_shell` with ``env`` set and ``%load_ext memories_magics`` done."""
    os.environ.update(env)
    shell = quiet_shell()
    shell.run_line_magic("load_ext", "memories_magics")
    return shell


def has_cell_magic(shell: InteractiveShell, name: str) -> bool:
    """Whether ``%%name`` is registered (lazily or not)."""
    return name in shell.magics_manager.magics["cell"]
