"""The progress bar of a run over data: tqdm's (its ipywidgets bar in a notebook, text in a
terminal), with done / cached / failed and the estimated cost so far beside tqdm's own
elapsed time and rate."""

from __future__ import annotations

from typing import Any

from ..over import usd


class RowProgress:
    """One bar over ``total`` answers; :meth:`settle` counts one, :meth:`close` removes it."""

    def __init__(self, total: int, label: str, *, bar: Any = None) -> None:
        if bar is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=label, unit="answer", leave=False,
                       mininterval=0.2, dynamic_ncols=True)
        self.bar = bar
        self.counts = {"done": 0, "cached": 0, "failed": 0}
        self.cost_usd = 0.0

    def settle(self, state: str, cost_usd: float = 0.0) -> None:
        """One answer ended in ``state``, costing ``cost_usd`` now."""
        if state in self.counts:
            self.counts[state] += 1
        self.cost_usd += cost_usd
        self.bar.set_postfix_str(self.line(), refresh=False)
        self.bar.update(1)

    def line(self) -> str:
        """``done 3 · cached 1 · failed 0 · $0.0012``."""
        return " · ".join(f"{k} {v}" for k, v in self.counts.items()) + f" · {usd(self.cost_usd)}"

    def close(self) -> None:
        """Remove the bar (the result table takes its place)."""
        self.bar.close()
