"""The tests' fake provider server (tests/fakes), run in its own process for the benchmarks.

In its own process the server's work does not compete with the code being measured for the
GIL; it answers every request with one :class:`~tests.fakes.Reply` given at start::

    with fake_server(chunk_delay=0.05) as url:   # OpenAI at url + "/v1", Anthropic at url
        ...

Run as ``python -m bench.fakeserver`` it reads the Reply's fields as one JSON line on its
standard input, prints its URL and serves until its standard input closes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The answer the overhead measurements get: 24 streamed pieces, about what a short answer is.
ANSWER = ("Benchmarks measure what a notebook user waits for: the time from running a cell to "
          "seeing the whole answer, here with a server that answers at once.")


def provider_env(url: str) -> dict[str, str]:
    """Environment variables that point the OpenAI and Anthropic SDKs (and so our providers,
    llm and jupyter-ai) at the fake server at ``url``."""
    return {"OPENAI_API_KEY": "sk-bench-not-a-key", "OPENAI_BASE_URL": url + "/v1",
            "OPENAI_API_BASE": url + "/v1",
            "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key", "ANTHROPIC_BASE_URL": url}


@contextmanager
def fake_server(python: str | None = None, **reply: Any) -> Iterator[str]:
    """Start the fake server in a child process answering ``Reply(**reply)``; yields its URL."""
    process = subprocess.Popen([python or sys.executable, "-m", "bench.fakeserver"], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(reply) + "\n")
        process.stdin.flush()
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the fake server did not start (it said {url!r})")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fakes import FakeLLMServer, Reply

    reply = json.loads(sys.stdin.readline() or "{}")
    with FakeLLMServer() as server:
        server.default = Reply(**reply)
        print(server.url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
