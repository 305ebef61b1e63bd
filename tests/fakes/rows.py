"""A fake provider server for prompts over data: it answers each request from its prompt
(so concurrent rows get their own answers in any order), with a fixed latency, and counts
the requests in flight at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .reply import Reply
from .server import FakeLLMServer, RecordedRequest


def prompt_of(request: RecordedRequest) -> str:
    """The last message's text (OpenAI and Anthropic shapes)."""
    messages = (request.body or {}).get("messages") or [{}]
    content = messages[-1].get("content", "")
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


class RowServer(FakeLLMServer):
    """``FakeLLMServer`` whose reply is ``answer(prompt)``, after ``latency`` seconds.

    ``max_in_flight`` is the most requests it was answering at the same time; ``release``
    ends every reply that is waiting on it (``Reply`` made by :meth:`hang`).
    """

    def __init__(self, answer: Callable[[str], Reply] | None = None, latency: float = 0.0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.answer = answer or (lambda prompt: Reply(text=f"answer to {prompt}"))
        self.latency = latency
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()
        self._current = threading.local()

    def _record(self, request: RecordedRequest) -> None:
        super()._record(request)
        self._current.request = request

    def prompts(self) -> list[str]:
        """The prompts received so far, in arrival order."""
        with self._lock:
            return [prompt_of(r) for r in self.requests]

    def hang(self) -> Reply:
        """A reply that waits until :attr:`release` is set (a row that never ends)."""
        self.release.wait(60)
        return Reply(text="released")

    def _next_reply(self) -> Reply:
        prompt = prompt_of(self._current.request)
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            return self.answer(prompt)
        finally:
            with self._lock:
                self.in_flight -= 1

    def stop(self) -> None:
        self.release.set()
        super().stop()
