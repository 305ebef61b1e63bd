"""The results table: plain text for the terminal, Markdown for bench/RESULTS.md."""

from __future__ import annotations

from typing import Any

from bench.measure import Figure, Stats, fmt

HEADERS = ("group", "measurement", "ours: median [p10–p90]", "baseline: median [p10–p90]",
           "ratio", "goal", "met")


def stats_text(stats: Stats | None) -> str:
    if stats is None:
        return "–"
    if stats.n == 1 or stats.p10 == stats.p90:
        return f"{fmt(stats.median)} {stats.unit}"
    return f"{fmt(stats.median)} [{fmt(stats.p10)}–{fmt(stats.p90)}] {stats.unit}"


def row(figure: Figure) -> list[str]:
    baseline = "–"
    if figure.baseline is not None:
        baseline = f"{figure.baseline_name}: {stats_text(figure.baseline)}"
    elif figure.baseline_name:
        baseline = figure.baseline_name
    ratio = f"{fmt(figure.ratio)} {figure.ratio_label}".strip() if figure.ratio is not None else "–"
    met = {True: "yes", False: "NO", None: "–"}[figure.met]
    ours = stats_text(figure.ours) if figure.ours is not None else (figure.note or "–")
    return [figure.group, figure.name, ours, baseline, ratio, figure.goal or "–", met]


def text_table(figures: list[Figure]) -> str:
    """An aligned table, with each figure's note on the line below it."""
    rows = [row(f) for f in figures]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(HEADERS), line(["-" * w for w in widths])]
    for figure, cells in zip(figures, rows, strict=True):
        out.append(line(cells))
        if figure.note and figure.ours is not None:
            out.append(" " * (widths[0] + 2) + "  ↳ " + figure.note)
    return "\n".join(out)


def markdown(figures: list[Figure], machine: dict[str, Any], baselines: dict[str, Any]) -> str:
    """bench/RESULTS.md: the table, the notes and what it was measured on."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["# Benchmark results", "",
             ("Written by `./dev bench` (`bench/run.py`); raw figures in "
              "`bench/results/latest.json` (not committed). Every figure is the median and "
              "p10–p90 of repeated runs; ratios compare with a baseline measured in the same "
              "process or run. See [bench/README.md](README.md) for what each line measures."),
             "",
             "![benchmarks](plot.png)", "",
             "| " + " | ".join((*HEADERS, "notes")) + " |",
             "|" + "---|" * (len(HEADERS) + 1)]
    for figure in figures:
        cells = [*row(figure), figure.note if figure.ours is not None else ""]
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())

    def loads(key: str) -> str:
        return ", ".join(f"{x:.2f}" for x in machine[key])

    lines += ["", "## Machine and versions", "",
              (f"- {machine['cpu_count']} CPUs, {machine['cpu_model']}, "
               f"{machine['memory_gib']:.0f} GiB; {machine['platform']}; "
               f"Python {machine['python']}"),
              f"- load average (1, 5, 15 min) at start: {loads('load_average_at_start')}"
              + (f"; at end: {loads('load_average_at_end')}"
                 if machine.get("load_average_at_end") else ""),
              f"- measured {machine['date']} at commit {machine['commit']}",
              f"- ours: {versions}"]
    for key, found in baselines.items():
        lines.append(f"- {key}: " + (", ".join(f"{k} {v}" for k, v in found.items())
                                     or "not available"))
    if machine.get("quick"):
        lines += ["", ("**Quick run (`--quick`): a tenth of the repetitions; a smoke test, "
                       "not a measurement.**")]
    return "\n".join(lines) + "\n"
