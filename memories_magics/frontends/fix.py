"""``Err`` and ``%llm fix``.

IPython keeps each cell's input in ``In[N]`` and its value in ``Out[N]``; ``Err[N]`` adds the
traceback of cell N if it raised (recorded by a ``post_run_cell`` hook, as jupyter-ai does),
so a prompt can say ``{In[3]}`` and ``{Err[3]}``. ``%llm fix`` asks a model about the last
error: its cell's code and traceback are sent only then, with known secrets masked.
"""

from __future__ import annotations

import traceback
from typing import Any

from ..errors import MemoriesError, UsageError

#: The namespace name of the tracebacks by execution count.
ERR = "Err"
#: A traceback longer than this is sent as its first and last halves.
MAX_TRACEBACK_CHARS = 6_000


def traceback_text(exc: BaseException, shell: Any = None) -> str:
    """The traceback as IPython's plain mode prints it, without IPython's own frames, a
    cell's code named ``<cell>``: the file IPython compiled it under, and its number, change
    from kernel to kernel (nbval doesn't count cells at all), and the prompt's cache key
    must not. One of our one-line errors is that line."""
    if isinstance(exc, MemoriesError):
        return f"{type(exc).__name__}: {exc}"
    shown = traceback.TracebackException.from_exception(exc)
    frames = []
    for frame in shown.stack:
        if "/IPython/core/" in frame.filename.replace("\\", "/"):
            continue
        frames.append(traceback.FrameSummary(_cell_name(frame.filename, shell), frame.lineno,
                                             frame.name, line=frame.line))
    shown.stack = traceback.StackSummary.from_list(frames)
    return "".join(shown.format())


def _cell_name(filename: str, shell: Any) -> str:
    """``<cell>`` for a file IPython compiled a cell under, else ``filename``."""
    format_name = getattr(getattr(shell, "compile", None), "format_code_name", None)
    return "<cell>" if callable(format_name) and format_name(filename) else filename


class ErrorLog(dict[int, str]):
    """``Err``: tracebacks by execution count; :attr:`code` holds the cells' code."""

    def __init__(self) -> None:
        super().__init__()
        self.code: dict[int, str] = {}


def record_errors(shell: Any) -> None:
    """Keep ``Err[N]``, the traceback of each cell that raised, in the user namespace."""
    shell.user_ns.setdefault(ERR, ErrorLog())

    def after_cell(result: Any) -> None:
        error = result.error_in_exec or result.error_before_exec
        if error is None or not isinstance(result.execution_count, int):
            return
        errors = shell.user_ns.get(ERR)
        if not isinstance(errors, ErrorLog):  # the user rebound it: start a new record
            errors = shell.user_ns[ERR] = ErrorLog()
        errors[result.execution_count] = traceback_text(error, shell)
        errors.code[result.execution_count] = str(getattr(result.info, "raw_cell", "") or "")

    shell.events.register("post_run_cell", after_cell)


def _clip(text: str) -> str:
    if len(text) <= MAX_TRACEBACK_CHARS:
        return text
    half = MAX_TRACEBACK_CHARS // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half:,} characters left out …]\n{text[-half:]}"


def fix_prompt(shell: Any) -> str:
    """The prompt ``%llm fix`` sends: the last failed cell's code and traceback."""
    errors = shell.user_ns.get(ERR)
    if not isinstance(errors, ErrorLog) or not errors:
        raise UsageError("no cell has raised an error in this kernel yet; %llm fix explains "
                         "the last one")
    from ..secrets import mask_known  # not at %load_ext, which registers this module's hook

    number = max(errors)
    return mask_known(
        "This code, run in a Jupyter notebook cell, raised the error below. Say in a sentence "
        "or two what caused it, then give the corrected code.\n\n"
        f"Code:\n```python\n{_clip(errors.code.get(number, ''))}\n```\n\n"
        f"Error:\n```\n{_clip(errors[number])}\n```")
