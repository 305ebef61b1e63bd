"""Where the time goes, for when a figure misses its goal.

    .venv/bin/python -m bench.profile load     # import-time tree of %load_ext memories_magics
    .venv/bin/python -m bench.profile call     # cProfile of 300 %%llm --cache off calls

Prints to the terminal; the cProfile data also goes to bench/results/<what>.prof (open with
``python -m pstats`` or snakeviz).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import tempfile

from bench.common import RESULTS, child_env

LOAD_SNIPPET = """\
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
import sys
print("@@start", file=sys.stderr)
shell.run_line_magic("load_ext", "memories_magics")
"""


def profile_load() -> None:
    """``python -X importtime``: every module %load_ext imports, slowest first."""
    for _ in range(2):  # the first run writes .pyc files
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", LOAD_SNIPPET],
                              check=False, capture_output=True, text=True, env=child_env())
    lines = done.stderr.split("@@start", 1)[-1].strip().splitlines()
    rows = []
    for line in lines:
        if line.startswith("import time:"):
            own, total, name = line[len("import time:"):].split("|")
            rows.append((int(total), int(own), name.rstrip()))
    print(f"{'cumulative µs':>14} {'self µs':>8}  module (indented: imported by the next line "
          "less indented)")
    for total, own, name in rows:
        print(f"{total:>14} {own:>8}  {name}")


def _profiled(what: str, calls: int, call: object) -> None:
    for _ in range(30):
        call()  # warm up: imports, clients, connections
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    RESULTS.mkdir(exist_ok=True)
    profiler.dump_stats(RESULTS / f"{what}.prof")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(r"memories_magics|IPython|openai", 30)


def profile_calls() -> None:
    from bench.fakeserver import ANSWER, fake_server, provider_env
    from bench.shell import ours_shell, run

    with fake_server(text=ANSWER) as url, tempfile.TemporaryDirectory() as tmp:
        shell = ours_shell(**provider_env(url), MEMORIES_MAGICS_CACHE_DIR=tmp)

        def call() -> None:
            shell.outputs.clear()
            run(shell, "%%llm gpt-4o-mini --cache off\nSay something about benchmarks.")
        _profiled("call", 300, call)


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "load"
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if what == "load":
        profile_load()
    elif what == "call":
        profile_calls()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
