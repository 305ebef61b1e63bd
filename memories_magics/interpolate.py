"""``{expr}`` interpolation of cell text from the user namespace; ``{{`` and ``}}`` escape.

Any expression works, so IPython's history does too: ``{In[3]}`` is cell 3's code,
``{Out[3]}`` its value and ``{Err[3]}`` its traceback (``Err`` is kept by
:mod:`memories_magics.frontends.fix`); ``{Err[max(Err)]}`` is the last error. nbval runs
cells without numbering them, so a notebook that replays should prefer ``max(Err)`` or a
variable to a fixed number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .errors import UsageError


class Placed(NamedTuple):
    """A ``{expr}`` whose value :func:`interpolate_values` kept as it is (an image)."""

    expression: str
    value: Any


def interpolate(text: str, namespace: dict[str, Any],
                local: Mapping[str, Any] | None = None, missing: str = "") -> str:
    """Replace each ``{expr}`` with ``str(eval(expr, namespace, local))``: names in ``local``
    (a row's columns, with ``--over``) win over the notebook's. ``missing`` replaces the advice
    given for an undefined name.

    >>> interpolate("Explain {topic} {{briefly}}", {"topic": "tides"})
    'Explain tides {briefly}'
    """
    return "".join(str(piece) for piece in interpolate_values(text, namespace, local, missing))


def interpolate_values(text: str, namespace: dict[str, Any],
                       local: Mapping[str, Any] | None = None, missing: str = "",
                       keep: Callable[[Any], bool] | None = None) -> list[str | Placed]:
    """:func:`interpolate`'s pieces in order: texts, and a :class:`Placed` for each value
    that ``keep`` says stays a value (an image in the prompt)."""
    out: list[str | Placed] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "{}" and text[i:i + 2] in ("{{", "}}"):
            out.append(char)
            i += 2
        elif char == "}":
            raise UsageError("unmatched '}' in the prompt; write }} for a literal brace")
        elif char == "{":
            end = _closing_brace(text, i)
            out.append(_evaluate(text[i + 1:end], namespace, local, missing, keep))
            i = end + 1
        else:
            out.append(char)
            i += 1
    return out


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    for j in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return j
    raise UsageError("unmatched '{' in the prompt; write {{ for a literal brace")


def _evaluate(expression: str, namespace: dict[str, Any], local: Mapping[str, Any] | None,
              missing: str, keep: Callable[[Any], bool] | None) -> str | Placed:
    if not expression.strip():
        raise UsageError("empty {} in the prompt; write {{}} for literal braces")
    try:
        value = eval(expression, namespace, local)  # noqa: S307 - the user's own namespace
        return Placed(expression, value) if keep is not None and keep(value) else str(value)
    except NameError as exc:
        name = getattr(exc, "name", None) or str(exc)
        advice = missing or "define it in a cell above or write {{ }} for literal braces"
        raise UsageError(f"{{{expression}}}: name {name!r} is not defined; {advice}") from None
    except SyntaxError:
        raise UsageError(f"{{{expression}}} is not a Python expression; write {{{{ }}}} for "
                         "literal braces (e.g. in JSON)") from None
    except Exception as exc:  # noqa: BLE001 - any error of the user's expression
        raise UsageError(f"{{{expression}}} raised {type(exc).__name__}: {exc}") from None


def evaluate(expression: str, namespace: dict[str, Any], where: str, hint: str = "") -> Any:
    """``eval(expression, namespace)`` for an option that names a notebook value (``--schema
    list[City]``); any error is one line that starts with ``where`` (``hint`` ends a name or
    syntax error)."""
    try:
        return eval(expression, namespace)  # noqa: S307 - the user's own namespace
    except NameError as exc:
        name = getattr(exc, "name", None) or str(exc)
        raise UsageError(f"{where}: name {name!r} is not defined; define it in a cell "
                         f"above{hint}") from None
    except SyntaxError:
        raise UsageError(f"{where} is not a Python expression{hint}") from None
    except Exception as exc:  # noqa: BLE001 - any error of the user's expression
        raise UsageError(f"{where} raised {type(exc).__name__}: {exc}") from None
