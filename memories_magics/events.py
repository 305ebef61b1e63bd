"""The events of one answer, as :meth:`Engine.answer` and :meth:`Engine.answer_chain` yield
them, and the two ways a consumer ends them: :func:`drain` to the Response, :func:`interrupt`
with Ctrl-C delivered inside the driver."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from .config import ModelSpec
from .received import Interrupted
from .schema import Retry
from .types import Chunk, Request, Response, ToolStep


@dataclass(frozen=True)
class Attempt:
    """The fallback layer moved to ``spec``; ``skipped`` says why earlier models were passed."""

    spec: ModelSpec
    request: Request
    skipped: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """"answered by fallback X (why)" when earlier models were skipped, else ""."""
        if not self.skipped:
            return ""
        return f"answered by fallback {self.spec.label} ({'; '.join(self.skipped)})"


Event = Chunk | ToolStep | Retry | Attempt | Response
def interrupt(events: Generator[Event, None, None]) -> Response | None:
    """Ctrl-C arrived while the consumer of ``events`` was busy between two events: deliver
    it inside the driver, which answers with the partial Response (None if it had none)."""
    try:
        events.throw(KeyboardInterrupt())
    except Interrupted as exc:
        return exc.partial
    except (KeyboardInterrupt, StopIteration):
        return None
    events.close()
    return None


def drain(events: Iterator[Event], on_chunk: Callable[[Chunk], None] | None = None) -> Response:
    """Run an answer's events to the end and return its Response."""
    for event in events:
        if isinstance(event, Response):
            return event
        if isinstance(event, Chunk) and on_chunk is not None:
            on_chunk(event)
    raise RuntimeError("an answer ended without a Response")  # a bug, not a user error


def close_source(events: Any) -> None:
    """Close a source (generators close their HTTP connection); plain iterators have nothing
    to close."""
    close = getattr(events, "close", None)
    if close is not None:
        close()
