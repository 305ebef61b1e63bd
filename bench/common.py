"""Paths and child-process helpers shared by the measurement groups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
MAIN_PYTHON = sys.executable


def child_env(**extra: str) -> dict[str, str]:
    """The environment for measured child processes.

    ``PYTHONDONTWRITEBYTECODE`` is dropped: a user's packages have their ``.pyc`` files, so the
    children may write them (a warm-up run does) rather than compile every module each start.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("IPYTHONDIR", os.path.join(tempfile.gettempdir(), "memories-bench-ipython"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_json(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | str | None = None,
             timeout: float = 120) -> Any:
    """Run a worker and parse the JSON on the last line of its stdout (raise with its stderr
    if it failed)."""
    done = subprocess.run(argv, check=False, capture_output=True, text=True,
                          env=env or child_env(), cwd=cwd or tempfile.gettempdir(),
                          timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])
