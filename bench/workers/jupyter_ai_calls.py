"""Time jupyter-ai's ``%%ai`` against the fake server, alternating with the raw openai SDK call
written in a cell of the same shell (both without streaming: ``%%ai`` does not stream).

``python jupyter_ai_calls.py jupyter-ai-2|jupyter-ai-3 URL PROMPT ANSWER ROUNDS``, run with a
baseline venv's python, ``PYTHONPATH`` at the repository and the provider variables pointing
at the fake server. Prints JSON: seconds per call for "ai" and "raw".
"""

import json
import sys

import openai  # each venv's own openai SDK

from bench.measure import interleave
from bench.shell import quiet_shell, run

key, url, prompt, answer, rounds = sys.argv[1:6]
shell = quiet_shell()
if key == "jupyter-ai-2":
    shell.run_line_magic("load_ext", "jupyter_ai_magics")
    # The OpenAI provider (LangChain's ChatOpenAI) reads OPENAI_API_BASE / OPENAI_BASE_URL.
    ai_cell = f"%%ai openai-chat:gpt-4o-mini\n{prompt}"
else:
    shell.run_line_magic("load_ext", "jupyter_ai_magic_commands")
    ai_cell = f"%%ai openai/gpt-4o-mini --api-base {url}/v1\n{prompt}"

shell.user_ns["_oa"] = openai.OpenAI()
raw_cell = (f"_oa.chat.completions.create(model='gpt-4o-mini', messages=[{{'role': 'user', "
            f"'content': {prompt!r}}}]).choices[0].message.content")


def cell(source):
    def call():
        shell.outputs.clear()
        run(shell, source)
    return call


for source in (ai_cell, raw_cell):
    cell(source)()
    shown = json.dumps(shell.outputs.events[-1][2] if shell.outputs.events else None)
    if answer not in shown:
        raise SystemExit(f"unexpected output from {source.splitlines()[0]!r}: {shown[:500]}")

samples = interleave({"ai": cell(ai_cell), "raw": cell(raw_cell)}, int(rounds), warmup=5)
print(json.dumps(samples))
