"""bench/plot.png: one small panel per measurement group, ours in colour, baselines in grey,
each bar a median with its p10–p90 whisker (the bars come from ``Figure.extra["bars"]``)."""

from __future__ import annotations

from pathlib import Path

from bench.measure import Figure

#: group -> (panel title, axis label, logarithmic axis?)
PANELS = {
    "load": ("%load_ext in a fresh process", "ms (log)", True),
    "overhead": ("Time per call over the raw SDK", "ms", False),
    "cache": ("Cache hit vs a call to an instant server", "ms", False),
    "local": ("Local model (SmolLM2, 64 tokens)", "tokens/s", False),
    "compare": ("%%compare: 3 models of ~0.6 s each", "s", False),
    "stream": ("20,000 chunks over HTTP", "chunks/s", False),
}
OURS, BASELINE = "#2f6db5", "#a8a8a8"


def draw(figures: list[Figure], path: Path) -> None:
    """Write the panels for the groups that have bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in PANELS if any(f.group == g and f.extra.get("bars") for f in figures)]
    if not groups:
        return
    columns = 3
    rows = -(-len(groups) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(12, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for ax, group in zip(axes.flat, groups, strict=False):  # the grid may have spare axes
        title, unit, log = PANELS[group]
        bars, seen = [], set()
        for figure in figures:
            if figure.group != group:
                continue
            for entry in figure.extra.get("bars", []):
                if entry["label"] not in seen:
                    seen.add(entry["label"])
                    bars.append(entry)
        bars.reverse()  # first bar on top
        scale = 1e-3 if unit == "s" else 1  # the compare group measures in ms
        medians = [b["stats"]["median"] * scale for b in bars]
        low = [max(m - b["stats"]["p10"] * scale, 0) for m, b in zip(medians, bars, strict=True)]
        high = [max(b["stats"]["p90"] * scale - m, 0) for m, b in zip(medians, bars, strict=True)]
        ax.barh(range(len(bars)), medians, xerr=[low, high], capsize=2,
                color=[OURS if b["ours"] else BASELINE for b in bars], height=0.6)
        ax.set_yticks(range(len(bars)), [b["label"] for b in bars], fontsize=7.5)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        ax.tick_params(axis="x", labelsize=7.5)
        if log:
            ax.set_xscale("log")
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
