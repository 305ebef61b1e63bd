"""The final render keeps the cell's other output: what a user's code, a library's warning or
a log line printed while an answer streamed stays in the cell, for ``%%llm`` and ``%%compare``,
and ``_``, ``Out[n]`` and ``-o`` still hold the result. Run by nbclient in a real kernel, which
keeps a cell's outputs as a front end does (display updates in place, clear_output applied)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

RESULT_MIME = "application/vnd.memories-magics.result+json"
COMPARE_MIME = "application/vnd.memories-magics.compare+json"
PRINTED = "a line the user's code printed while the answer streamed"

SETUP = f'''\
%load_ext memories_magics
import time
from memories_magics.providers import register_provider
from memories_magics.providers.base import Provider
from memories_magics.types import Chunk, Response, Usage

class Chatty(Provider):
    """Streams a short answer slowly and prints half-way, as a chatty SDK or callback would."""
    name, key_env = "chatty", None

    def stream(self, request):
        for i, word in enumerate(("The ", "answer ", "is ", "forty-", "two.")):
            if i == 3:
                print({PRINTED!r}, flush=True)
            time.sleep(0.15)
            yield Chunk(text=word)
        yield Chunk(finish_reason="stop", usage=Usage(1, 5))

    def complete(self, request):
        return Response.from_chunks(list(self.stream(request)), request, latency_s=None,
                                    first_token_s=None)

register_provider("chatty", Chatty)
'''


def _text(output: dict) -> str:
    return output.get("text", "") if output["output_type"] == "stream" else ""


def test_prints_made_while_streaming_survive_the_final_render(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MEMORIES_MAGICS_CACHE_DIR", str(tmp_path / "cache"))
    cells = [SETUP,
             "%%llm chatty:one --cache off\nWhat is the answer?",
             "%%compare chatty:one chatty:two --cache off -o both\nWhat is the answer?",
             "print(type(Out[2]).__name__, Out[2].text, '|', type(_).__name__, _ is both)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    llm, compare, check = (cell.outputs for cell in nb.cells[1:])

    assert PRINTED in "".join(map(_text, llm)), "the print survives the final render"
    answers = [o for o in llm if RESULT_MIME in o.get("data", {})]
    assert len(answers) == 1 and answers[0].data[RESULT_MIME]["text"] == "The answer is forty-two."
    assert all("streaming…" not in o.get("data", {}).get("text/plain", "") for o in llm)

    assert "".join(map(_text, compare)).count(PRINTED) == 2, "both models' prints survive"
    columns = [o for o in compare if COMPARE_MIME in o.get("data", {})]
    assert len(columns) == 1
    assert [r["text"] for r in columns[0].data[COMPARE_MIME]["results"]] == \
        ["The answer is forty-two."] * 2

    assert "".join(map(_text, check)).strip() == \
        "LLMResult The answer is forty-two. | CompareResult True", "_ and Out[n] hold the results"
