"""IPython formatters for the result types, so that results stay plain data.

:func:`register` is called when the magics load (and by the panel); the types are named, not
imported, so registering costs nothing until a result is shown.
"""

from __future__ import annotations

from typing import Any


def _result_bundle(result: Any) -> dict[str, Any]:
    from .render import result_bundle

    return result_bundle(result)


def _compare_bundle(result: Any) -> dict[str, Any]:
    from .compare_view import compare_bundle

    return compare_bundle(result)


def _over_bundle(result: Any) -> dict[str, Any]:
    from .over_view import over_bundle

    return over_bundle(result)


def register(shell: Any) -> None:
    """Render ``LLMResult``, ``CompareResult`` and ``OverResult`` objects in ``shell``'s output."""
    formatter = shell.display_formatter.mimebundle_formatter
    formatter.for_type_by_name("memories_magics.result", "LLMResult", _result_bundle)
    formatter.for_type_by_name("memories_magics.compare", "CompareResult", _compare_bundle)
    formatter.for_type_by_name("memories_magics.over_result", "OverResult", _over_bundle)
