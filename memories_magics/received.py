"""What one answer's stream has delivered: the :class:`Received` collector that the engine's
driver feeds, and :class:`Interrupted`, which carries the partial answer out of a Ctrl-C."""

from __future__ import annotations

import time

from .errors import MemoriesError, ProviderError
from .schema import Retry
from .secrets import mask_known
from .types import Chunk, Request, Response, ToolStep, Usage


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a call; ``partial`` holds what had arrived (never cached)."""

    def __init__(self, partial: Response) -> None:
        super().__init__("interrupted")
        self.partial = partial


class Received:
    """What one answer's stream has delivered so far, with its timing.

    Chunks are grouped in rounds (a tool exchange or a ``--retries`` exchange has several): a
    :class:`ToolStep` or a :class:`~memories_magics.schema.Retry` closes a round, whose tokens
    are added to the answer's and whose text is replaced by the next round's.
    :meth:`response` assembles the answer, cut (``cut``) or interrupted as it is.
    """

    def __init__(self, request: Request) -> None:
        self.request = request
        self.started_at = time.perf_counter()
        self.first_token_s: float | None = None
        self.round: list[Chunk] = []
        self.steps: list[ToolStep] = []
        self.spent = Usage()
        self.interrupted = False
        self.cut: MemoriesError | None = None
        self.started = False

    def add(self, event: Chunk | ToolStep | Retry) -> None:
        """Take one event from the source."""
        self.started = True
        if isinstance(event, Chunk):
            if self.first_token_s is None and event.text:
                self.first_token_s = time.perf_counter() - self.started_at
            self.round.append(event)
            return
        if self.round:
            self._close_round()
        if isinstance(event, ToolStep):
            self.steps.append(event)

    def _close_round(self) -> None:
        usage = Response.from_chunks(self.round, self.request, latency_s=None,
                                     first_token_s=None).usage
        self.spent = _add(self.spent, usage)
        self.round = []

    def response(self) -> Response:
        """The answer so far (complete only if the provider said it ended)."""
        response = Response.from_chunks(self.round, self.request, first_token_s=self.first_token_s,
                                        latency_s=time.perf_counter() - self.started_at)
        response.usage = _add(self.spent, response.usage)  # every round's tokens
        response.tool_steps = tuple(self.steps)
        response.text = mask_known(response.text)  # a server may echo the key
        response.interrupted = self.interrupted
        if self.cut is not None:
            response.finish_reason = None
            response.error = (f"the stream was cut after {len(response.text):,} characters: "
                              f"{_cut_reason(self.cut)}")
        elif response.finish_reason is None and not self.interrupted:
            response.error = (f"the stream was cut after {len(response.text):,} characters: "
                              "it ended without saying the answer was finished")
        elif response.finish_reason == "stop" and not (
                response.text.strip() or response.tool_calls or self.steps):
            response.error = ("the model sent an empty answer that claims it finished (as a "
                              "failing proxy does); re-run it")
        return response


def _cut_reason(error: MemoriesError) -> str:
    """Why a stream that had started stopped: a dropped connection reads as one, never as
    "could not connect"."""
    if isinstance(error, ProviderError) and error.kind in ("connect", "dropped"):
        return f"{error.provider}: the connection dropped ({error.detail})"
    return str(error)


def _add(a: Usage, b: Usage) -> Usage:
    """Token counts summed; unknown stays unknown only if both are."""
    def plus(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)
    return Usage(plus(a.input_tokens, b.input_tokens), plus(a.output_tokens, b.output_tokens))
