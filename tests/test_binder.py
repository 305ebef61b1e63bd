"""binder/ builds a working environment: the same two steps repo2docker takes, in a fresh
virtual environment, then the quickstart notebook runs there with no key."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.timeout(1500)
def test_binder_files_build_an_environment_that_runs_the_quickstart(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed to copy the repository as repo2docker sees it")
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # BINDER_PIP_CACHE: pip's wheel cache is reused (llama-cpp-python compiles once, not on
    # every run); repo2docker runs postBuild without it, with --no-cache-dir.
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv), "BINDER_PIP_CACHE": "1"}
    env.pop("PIP_NO_CACHE_DIR", None)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "COHERE_API_KEY", "MISTRAL_API_KEY",
                 "DEEPSEEK_API_KEY", "MEMORIES_MAGICS_CACHE_DIR", "MEMORIES_MAGICS_CONFIG"):
        env.pop(name, None)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
                   cwd=repo, env=env, check=True)
    subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, check=True)
    extensions = subprocess.run([str(venv / "bin" / "jupyter"), "labextension", "list"],
                                cwd=repo, env=env, capture_output=True, text=True, check=True)
    assert "memories-magics" in extensions.stdout + extensions.stderr
    out = subprocess.run([str(venv / "bin" / "jupyter"), "nbconvert", "--to", "markdown",
                          "--execute", "--stdout", "notebooks/quickstart.ipynb"],
                         cwd=repo, env=env, capture_output=True, text=True, check=True).stdout
    assert "a tide is" in out and "cached" in out
    assert "def add(a, b):" in out


@pytest.mark.parametrize(("cache", "flag"), [("", True), ("1", False)])
def test_postbuild_keeps_no_pip_cache_on_binder(tmp_path: Path, cache: str, flag: bool) -> None:
    """On Binder (no BINDER_PIP_CACHE) the image keeps no pip cache; the test above reuses it."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "BINDER_PIP_CACHE": cache}
    run = subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["-m", "pip", "install", *(["--no-cache-dir"] * flag), ".[local]"]
