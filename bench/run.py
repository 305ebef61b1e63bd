"""Run every benchmark, print the table, write bench/results/latest.json, bench/RESULTS.md
and bench/plot.png. This is ``./dev bench``.

    .venv/bin/python bench/run.py                  # everything (about 4 minutes)
    .venv/bin/python bench/run.py --only load,cache
    .venv/bin/python bench/run.py --quick          # a tenth of the runs: checks, not figures

Each group runs in a fresh process of this venv (``python -m bench.<module>``) so that one
group's imports, loaded models and threads cannot colour another's figures. The baselines
(jupyter-ai 2 and 3) get their own venvs under bench/.venv-baselines/, built once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baselines, machine, report
from bench.common import BENCH, RESULTS, ROOT, child_env
from bench.measure import Figure, parse_emitted

#: A 1-minute load average below this counts as a quiet machine (see --wait-quiet).
QUIET_LOAD = 0.5
#: name -> (module, what it measures), in the order they run and print.
GROUPS = {
    "load": ("bench.load_time", "%load_ext time vs jupyter-ai 2 and 3"),
    "overhead": ("bench.overhead", "per-call overhead vs raw SDKs, jupyter-ai and llm"),
    "cache": ("bench.cache_hits", "cache hit latency and size on disk"),
    "local": ("bench.local_model", "local model vs raw llama-cpp-python"),
    "compare": ("bench.compare", "%%compare vs one call and a sequential loop"),
    "stream": ("bench.streaming", "streaming render throughput and update rate"),
    "bigcompare": ("bench.big_compare", "%%compare of two 100 KB answers after they arrived"),
    "over": ("bench.over", "--over rows/s: concurrency 8 vs 1 and vs a loop; 10,000 cached rows"),
}


def ensure_bench_dependencies() -> None:
    """Install the ``bench`` extra's packages (pyproject.toml) into this venv if missing."""
    import importlib.metadata
    import re

    extra = [r.split(";")[0].strip() for r in importlib.metadata.requires("memories_magics") or []
             if re.search(r"""extra\s*==\s*['"]bench['"]""", r)]
    missing = []
    for requirement in extra:
        name = re.split(r"[\s<>=!~\[(]", requirement, maxsplit=1)[0]
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    if missing:
        print(f"installing the bench extra's {', '.join(missing)} into {sys.prefix}", flush=True)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", *missing],
                              check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"could not install {', '.join(missing)}:\n{done.stderr[-1500:]}")


def wait_until_quiet(minutes: float) -> None:
    """Sleep until the 1-minute load average is below QUIET_LOAD, at most ``minutes``."""
    deadline = time.monotonic() + minutes * 60
    while os.getloadavg()[0] >= QUIET_LOAD and time.monotonic() < deadline:
        print(f"waiting for a quiet machine (load average {os.getloadavg()[0]:.2f})", flush=True)
        time.sleep(15)


def run_group(name: str, quick: bool) -> list[Figure]:
    """Run one group in a fresh process; a failure becomes a figure saying so."""
    module, _ = GROUPS[name]
    env = child_env(**({"BENCH_QUICK": "1"} if quick else {}))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", module], check=False, cwd=ROOT, env=env,
                          text=True, capture_output=True)
    seconds = time.perf_counter() - started
    try:
        figures = [Figure.from_dict(d) for d in parse_emitted(done.stdout)]
    except ValueError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
        print(f"  {name}: FAILED ({done.returncode})\n    " + "\n    ".join(tail), flush=True)
        return [Figure(name, GROUPS[name][1], None, note=f"failed: {tail[-1] if tail else '?'}")]
    print(f"  {name}: {len(figures)} figures in {seconds:.0f} s", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated groups: " + ", ".join(GROUPS))
    parser.add_argument("--quick", action="store_true",
                        help="a tenth of the repetitions (a smoke test, not a measurement)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="do not build the jupyter-ai venvs (their figures say n/a)")
    parser.add_argument("--wait-quiet", type=float, metavar="MINUTES", default=0,
                        help="first wait up to MINUTES for the 1-minute load average to drop "
                             f"below {QUIET_LOAD} (other work on the machine widens spreads)")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(GROUPS)
    unknown = set(chosen) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s) {', '.join(sorted(unknown))}; "
                     f"choose from {', '.join(GROUPS)}")

    ensure_bench_dependencies()
    if not args.no_baselines and {"load", "overhead"} & set(chosen):
        for baseline in baselines.BASELINES:
            baselines.ensure(baseline)
    if args.wait_quiet:
        wait_until_quiet(args.wait_quiet)
    about = machine.describe()
    about["quick"] = args.quick
    if about["load_average_at_start"][0] >= QUIET_LOAD:
        print(f"note: the machine is busy (load average {about['load_average_at_start'][0]:.2f});"
              " figures will be noisier", flush=True)
    print(f"benchmarks on {about['cpu_count']} × {about['cpu_model']} ({about['commit']})",
          flush=True)
    started = time.perf_counter()
    figures: list[Figure] = []
    for name in chosen:
        figures.extend(run_group(name, args.quick))
    about["load_average_at_end"] = os.getloadavg()
    about["seconds"] = round(time.perf_counter() - started, 1)
    found = {b.key: baselines.versions(b) if b.python.exists() else {}
             for b in baselines.BASELINES}

    print()
    print(report.text_table(figures))
    RESULTS.mkdir(exist_ok=True)
    payload = {"machine": about, "baselines": found, "figures": [f.to_dict() for f in figures]}
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    if set(chosen) == set(GROUPS) and not args.quick:
        (BENCH / "RESULTS.md").write_text(report.markdown(figures, about, found))
        from bench import plot

        plot.draw(figures, BENCH / "plot.png")
        print(f"\nwrote bench/results/latest.json, bench/RESULTS.md and bench/plot.png "
              f"({about['seconds']:.0f} s)")
    else:
        print(f"\nwrote bench/results/latest.json ({about['seconds']:.0f} s; RESULTS.md and "
              "plot.png are written by full runs only, without --quick)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
