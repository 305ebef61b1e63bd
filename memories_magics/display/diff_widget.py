"""The interactive comparison widget (anywidget): pick any two answers, switch the diff mode,
copy an answer. Diffs are computed in Python by :mod:`memories_magics.diff`, the same code as
the static view; the browser only draws them, as text nodes (model text is never HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..diff import DIFF_MODES, diff_ops


class DiffWidget(anywidget.AnyWidget):
    """Columns of answers, the aggregate line, and a diff of two chosen answers."""

    _esm = Path(__file__).with_name("diff_widget.js")
    answers = traitlets.List(traitlets.Dict()).tag(sync=True)
    aggregate = traitlets.Unicode("").tag(sync=True)
    a = traitlets.Int(0).tag(sync=True)
    b = traitlets.Int(1).tag(sync=True)
    mode = traitlets.Enum(DIFF_MODES, default_value="word").tag(sync=True)
    ops = traitlets.List().tag(sync=True)

    @classmethod
    def for_result(cls, result: Any) -> DiffWidget:
        """A widget over a :class:`~memories_magics.compare.CompareResult`."""
        answers = [{"label": o.label, "text": o.result.text if o.result else "",
                    "footer": o.footer, "error": o.error} for o in result.outcomes]
        a, b = result.diff_pair or (0, min(1, len(answers) - 1))
        return cls(answers=answers, aggregate=result.aggregate_line, a=a, b=b,
                   mode=result.diff_mode)

    @traitlets.observe("a", "b", "mode", "answers")
    def _recompute(self, _: Any = None) -> None:
        if not self.answers:
            self.ops = []
            return
        first, second = (self.answers[max(0, min(i, len(self.answers) - 1))]["text"]
                         for i in (self.a, self.b))
        self.ops = [list(op) for op in diff_ops(first, second, self.mode)]

    def __init__(self, **traits: Any) -> None:
        super().__init__(**traits)
        self._recompute()
