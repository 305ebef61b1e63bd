"""``./dev quickstart`` in a terminal: what a person reads there.

It runs notebooks/quickstart.ipynb live on the embedded local model (a fresh cache) and prints
the Markdown cells and each output's plain text: no HTML, no screen-wide lines, and no answer
said to come from a cache it was not read from. Runs in this environment as it is
(``MEMORIES_SKIP_SETUP=1``: no pip install into it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("llama_cpp", reason="the quickstart runs the embedded local model")


@pytest.mark.timeout(900)  # eight local-model answers: seconds alone, minutes on a busy machine
def test_dev_quickstart_prints_terminal_text() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORIES_MAGICS_")}
    env.update({"MEMORIES_VENV": sys.prefix, "MEMORIES_SKIP_SETUP": "1", "PYTHONPATH": str(ROOT),
                "NO_COLOR": "1"})
    run = subprocess.run(["bash", str(ROOT / "dev"), "quickstart"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=840)
    out = run.stdout
    assert run.returncode == 0, run.stderr[-3000:]
    assert "without encryption" not in run.stderr and "Converting notebook" not in run.stderr

    assert out.startswith("Running notebooks/quickstart.ipynb live on the embedded local model")
    # Plain text, not HTML: no markup and no 2,800-character line of it.
    assert not re.search(r"</?(div|p|span|table|sub|pre|details|style)\b", out), out[:3000]
    outputs = [line for line in out.splitlines() if line.startswith("    ")]
    assert outputs and max(len(line) for line in outputs) <= 200
    assert not any(line != line.rstrip() for line in out.splitlines())
    assert "\n\n\n" not in out
    # The comparison as labelled columns, then the aggregate and the diff.
    assert re.search(r"== smollm2\n(.|\n)*?\[smollm2 · .* \$0 \(local\)", out)
    assert "== gemma" in out and "== aggregate" in out and "== diff (word)" in out
    # Every answer is live but the replayed one, whose footer alone says cached.
    footers = re.findall(r"^\s*\[(smollm2|gemma) · [^\]]*\]$", out, re.M)
    lines = [line for line in out.splitlines() if re.match(r"\s*\[(smollm2|gemma) · ", line)]
    assert len(lines) == len(footers) >= 6
    assert [line for line in lines if "cached" in line] == [lines[-2]], lines
    # The notebook's own words don't claim the recorded cache for this run.
    assert "`./dev quickstart` instead runs every cell live" in out
    assert "tiny demo model" in out and "## Bigger models" in out
