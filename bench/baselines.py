"""The alternatives a notebook user would pick instead, each in its own virtual environment
under ``bench/.venv-baselines/`` (git-ignored, built on first use, reused afterwards), so they
never touch the project's ``.venv``.

* jupyter-ai 2: ``%load_ext jupyter_ai_magics`` (PyPI ``jupyter-ai-magics``, LangChain based;
  its OpenAI provider needs ``langchain-openai``).
* jupyter-ai 3: ``%load_ext jupyter_ai_magic_commands`` (PyPI ``jupyter-ai-magic-commands``,
  on LiteLLM).

A venv is rebuilt only when its requirement list below changes (a stamp file records it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venv-baselines"


@dataclass(frozen=True)
class Baseline:
    """One alternative: where it lives, what it installs, which extension it loads."""

    key: str
    label: str
    requirements: tuple[str, ...]
    extension: str
    #: Distributions whose versions the results record.
    distributions: tuple[str, ...]

    @property
    def venv(self) -> Path:
        return VENVS / self.key

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


JUPYTER_AI_2 = Baseline(
    key="jupyter-ai-2", label="jupyter-ai 2 (%load_ext jupyter_ai_magics)",
    requirements=("jupyter-ai-magics==2.31.7", "langchain-openai==0.3.35"),
    extension="jupyter_ai_magics",
    distributions=("jupyter-ai-magics", "langchain", "langchain-core", "langchain-openai",
                   "openai", "ipython"))
JUPYTER_AI_3 = Baseline(
    key="jupyter-ai-3", label="jupyter-ai 3 (%load_ext jupyter_ai_magic_commands)",
    requirements=("jupyter-ai-magic-commands==0.0.4", "jupyter-ai-litellm==0.1.0",
                  "litellm==1.110.2"),
    extension="jupyter_ai_magic_commands",
    distributions=("jupyter-ai-magic-commands", "jupyter-ai-litellm", "litellm", "openai",
                   "ipython"))
BASELINES = (JUPYTER_AI_2, JUPYTER_AI_3)

#: LiteLLM fetches its model price list from GitHub at import unless told to use its packaged
#: copy; there is no network here, and a user's fetch time is not what we compare.
BASELINE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def ensure(baseline: Baseline, log: Callable[[str], None] = print) -> Path | None:
    """Build ``baseline``'s venv if missing or stale; returns its python, or None if the
    install failed (the measurements then say "not available")."""
    stamp = baseline.venv / ".bench-requirements.json"
    wanted = json.dumps(list(baseline.requirements))
    if baseline.python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return baseline.python
    log(f"setting up {baseline.venv.relative_to(HERE.parent)} ({', '.join(baseline.requirements)}),"
        " once: about a minute")
    pip = [str(baseline.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for step in ([sys.executable, "-m", "venv", "--clear", str(baseline.venv)],
                 [*pip, "--upgrade", "pip"], [*pip, *baseline.requirements]):
        done = subprocess.run(step, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            log(f"could not set up {baseline.key}: {' '.join(step)} failed:\n"
                f"{done.stderr[-1500:]}")
            return None
    stamp.write_text(wanted)
    return baseline.python


def versions(baseline: Baseline) -> dict[str, str]:
    """Installed versions of the baseline's main distributions."""
    code = ("import json, importlib.metadata as m\n"
            f"names = {list(baseline.distributions)!r}\n"
            "out = {}\n"
            "for n in names:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = 'missing'\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(baseline.python), "-c", code], check=False, capture_output=True,
                          text=True, env={**os.environ, **BASELINE_ENV})
    return json.loads(done.stdout) if done.returncode == 0 else {}
