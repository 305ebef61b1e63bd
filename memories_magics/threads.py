"""Conversation threads: the earlier turns a request carries, so that its cache key covers the
whole history and a replay is exact.

A :class:`Thread` is a list of :class:`Turn`; a turn is one prompt and the replies to it (one
for ``%%llm``, whichever model of a fallback chain answered; one per model for ``%%compare``).
A turn may name the notebook cell that made it (the front end's ``cellId``): re-running that
cell replaces its turn and drops the later ones. Without cell ids turns append in execution
order, so Run All rebuilds the recorded thread. The engine never sees a thread, only the
messages of the :class:`~memories_magics.types.Request` built from it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import ModelSpec
from .errors import ContextFullError, UsageError
from .images import Prompt
from .tools import round_messages
from .types import Message, Request, Response

#: A thread name: a letter, then up to 39 letters, digits, ``_``, ``.`` or ``-``.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}\Z")
#: Threads that a cell without ``-c``/``--thread`` starts are called t1, t2, ...
AUTO_PREFIX = "t"
#: Characters per token in the pre-flight estimate for hosted models (a rough English mean).
CHARS_PER_TOKEN = 4


def check_name(name: str) -> str:
    """``name`` if it can name a thread, else a one-line :class:`UsageError`."""
    if not isinstance(name, str) or not NAME.match(name):
        shown = repr(name)[:50]
        raise UsageError(f"--thread {shown}: a thread name is a letter then up to 39 letters, "
                         "digits, _ . or - (e.g. --thread review)")
    return name


@dataclass(frozen=True)
class Reply:
    """One model's reply in a turn: ``model`` is the model it was asked as, alias or id (its
    lane in a ``%%compare`` thread), ``label`` the model that answered (a fallback's, if one
    did), ``messages`` the assistant's messages (tool calls and results first, if any)."""

    model: str
    label: str
    messages: tuple[Message, ...]
    cached: bool = False

    @classmethod
    def of(cls, model: str, label: str, response: Response) -> Reply:
        """The reply that ``response`` adds to a history."""
        messages = round_messages("", response.tool_steps) if response.tool_steps else []
        messages.append({"role": "assistant", "content": response.text})
        return cls(model, label, tuple(messages), response.cached)

    @property
    def text(self) -> str:
        """What the model said last."""
        return str(self.messages[-1].get("content") or "")


@dataclass(frozen=True)
class Turn:
    """One prompt and its replies; ``cell``/``execution`` say which cell made it."""

    #: The cell's prompt: a :class:`~memories_magics.images.Prompt` keeps its images, so
    #: later turns send them again.
    prompt: str | Prompt
    replies: tuple[Reply, ...]
    system: str | None = None
    cell: str | None = None
    execution: int | None = None
    #: The tool schemas the cell offered (``--tools``): a later request whose history holds
    #: their calls carries them too, as the providers require.
    tools: tuple[dict[str, Any], ...] = ()

    def reply_for(self, model: str | None) -> Reply:
        """The reply ``model`` sees as its own: its lane's, else the first (a turn answered by
        one model is every model's history)."""
        for reply in self.replies:
            if reply.model == model:
                return reply
        return self.replies[0]

    @property
    def where(self) -> str:
        """``In [5]`` when the execution count is known, else ``?``."""
        return f"In [{self.execution}]" if self.execution is not None else "?"


@dataclass
class Thread:
    """A named list of turns."""

    name: str
    turns: list[Turn] = field(default_factory=list)
    #: The model the latest turn asked first (kept by :meth:`ThreadStore.reset`).
    asked: str | None = None

    def history(self, model: str | None, upto: int | None = None) -> list[Message]:
        """The messages of the first ``upto`` turns (all by default) as ``model`` sees them."""
        messages: list[Message] = []
        for turn in self.turns[:upto]:
            messages.append({"role": "user", "content": turn.prompt})
            messages.extend(turn.reply_for(model).messages)
        return messages

    def system(self, upto: int | None = None) -> str | None:
        """The system prompt of the latest of the first ``upto`` turns that set one."""
        for turn in reversed(self.turns[:upto]):
            if turn.system is not None:
                return turn.system
        return None

    def tools(self, upto: int | None = None) -> list[dict[str, Any]]:
        """The tool schemas the first ``upto`` turns offered, one per name (the latest
        schema of a name, in the order the names first came)."""
        schemas: dict[str, dict[str, Any]] = {}
        for turn in self.turns[:upto]:
            schemas.update((str(t.get("name")), t) for t in turn.tools)
        return list(schemas.values())

    def model(self, upto: int | None = None) -> str | None:
        """The model the latest of the first ``upto`` turns asked first (a ``-c`` cell without
        a model continues with it); an emptied thread keeps the model it had."""
        turns = self.turns[:upto]
        return turns[-1].replies[0].model if turns else self.asked

    def position(self, cell: str | None) -> int | None:
        """Where ``cell``'s turn is, or None."""
        if cell is None:
            return None
        return next((i for i, t in enumerate(self.turns) if t.cell == cell), None)


@dataclass
class Plan:
    """Where a cell's turn will go: the turns before ``at`` are its history; ``later`` are
    the turns a re-run cell drops when its answer is added; ``note`` says anything unusual."""

    thread: Thread
    at: int
    new: bool
    note: str = ""

    @property
    def name(self) -> str:
        """The thread's name."""
        return self.thread.name

    @property
    def later(self) -> list[Turn]:
        """The turns after this cell's old turn (dropped when its new turn is added)."""
        return self.thread.turns[self.at + 1:]

    def history(self, model: str | None) -> list[Message]:
        """The earlier turns' messages as ``model`` sees them."""
        return self.thread.history(model, self.at)

    def system(self) -> str | None:
        """The system prompt the earlier turns set."""
        return self.thread.system(self.at)

    def model(self) -> str | None:
        """The model the earlier turns asked."""
        return self.thread.model(self.at)

    def tools(self, offered: Sequence[dict[str, Any]]) -> tuple[tuple[dict[str, Any], ...],
                                                                 str | None]:
        """The tools a request in this turn carries and its ``tool_choice``: those the cell
        ``offered``, then the earlier turns' (which their tool calls need); ``"none"`` when
        the cell offered none, so the carried ones are not called."""
        names = {t.get("name") for t in offered}
        carried = [t for t in self.thread.tools(self.at) if t.get("name") not in names]
        return (*offered, *carried), "none" if carried and not offered else None

    def dropped_note(self) -> str:
        """One line naming the later turns this re-run drops ("" when there are none)."""
        later = self.later
        if not later:
            return ""
        cells = ", ".join(t.where for t in later)
        return (f"re-ran turn {self.at + 1} of thread {self.name}: dropped {len(later)} later "
                f"turn{'s' * (len(later) != 1)} ({cells})")


class ThreadStore:
    """The threads of one kernel and which one is the latest (what ``-c`` continues)."""

    def __init__(self) -> None:
        self.threads: dict[str, Thread] = {}
        self.latest: str | None = None
        self._started = 0

    def get(self, name: str | None = None) -> Thread:
        """The thread called ``name`` (default: the latest), or one line listing them."""
        name = name or self.latest
        if name is None or name not in self.threads:
            known = ", ".join(self.threads) or "none yet"
            what = f"no thread named {name!r}" if name else "no thread yet"
            raise UsageError(f"{what}; threads: {known} (a %%llm cell starts one)")
        return self.threads[name]

    def plan(self, cell: str | None, *, follow: bool = False, name: str | None = None) -> Plan:
        """Where the turn of ``cell`` goes: thread ``name``; else (``follow``, ``-c``) the
        thread this cell is already in, else the latest; else a new thread (the one this
        cell started before, if it did)."""
        if name is not None:
            thread = self.threads.get(check_name(name)) or Thread(name)
        elif follow:
            thread = self._holding(cell) or (self.threads.get(self.latest or "") or
                                             Thread(self._next_name()))
        else:
            thread = self._holding(cell, first=True) or Thread(self._next_name())
        new = thread.name not in self.threads
        at = thread.position(cell)
        plan = Plan(thread, len(thread.turns) if at is None else at, new)
        if follow and name is None and new:
            plan.note = f"-c: no earlier thread to continue, started thread {plan.name}"
        return plan

    def commit(self, plan: Plan, turn: Turn, *, latest: bool = True) -> None:
        """Put ``turn`` where ``plan`` says (dropping the later turns) and make its thread
        the latest (unless not ``latest``: a panel run's)."""
        plan.thread.turns[plan.at:] = [turn]
        plan.thread.asked = turn.replies[0].model
        if plan.name not in self.threads:
            if plan.name == self._next_name():
                self._started = int(plan.name[len(AUTO_PREFIX):])
            self.threads[plan.name] = plan.thread
        if latest:
            self.latest = plan.name

    def reset(self, name: str | None = None) -> Thread:
        """Empty the thread called ``name`` (default: the latest); it keeps its name."""
        thread = self.get(name)
        thread.turns.clear()
        return thread

    def _holding(self, cell: str | None, first: bool = False) -> Thread | None:
        """The thread in which ``cell`` made a turn (``first``: the thread it started)."""
        if cell is None:  # a front end that sends no cell ids: no thread to look through
            return None
        for thread in self.threads.values():
            at = thread.position(cell)
            if at is not None and (at == 0 or not first):
                return thread
        return None

    def _next_name(self) -> str:
        number = self._started + 1
        while f"{AUTO_PREFIX}{number}" in self.threads:
            number += 1
        return f"{AUTO_PREFIX}{number}"


def estimated_tokens(request: Request) -> int:
    """A rough token count of everything ``request`` sends (text, tool calls and the tools'
    schemas), plus the answer's ``max_tokens``: about one token per :data:`CHARS_PER_TOKEN`
    characters."""
    schemas = sum(len(json.dumps(t, ensure_ascii=False, default=str)) for t in request.tools)
    chars = len(request.system or "") + schemas
    for message in request.messages:
        chars += len(str(message.get("content") or "")) + len(str(message.get("tool_calls") or ""))
    return math.ceil(chars / CHARS_PER_TOKEN) + (request.max_tokens or 0)


def check_context(spec: ModelSpec, request: Request, thread: str, fix: str) -> None:
    """Before a hosted model is asked a thread's history: a one-line
    :class:`ContextFullError` when the estimate exceeds its ``max_length``. (A local model
    counts the real tokens itself, and :func:`context_error` rewords its error.)"""
    if spec.provider == "local" or not spec.max_length:
        return
    tokens = estimated_tokens(request)
    if tokens > spec.max_length:
        raise context_error(ContextFullError("", tokens, spec.max_length), spec, thread, fix,
                            estimated=True)


def context_error(exc: ContextFullError, spec: ModelSpec, thread: str, fix: str, *,
                  estimated: bool = False) -> ContextFullError:
    """``exc`` (the prompt does not fit) said for a thread: how long it is, what the model
    holds, and the fix (``fix`` empties the thread)."""
    size = "" if exc.tokens is None else \
        f"{'about ' if estimated else ''}{exc.tokens:,} tokens with its history, answer included"
    holds = "" if exc.limit is None else f"{spec.label} holds {exc.limit:,}"
    counts = "; ".join(p for p in (size, holds) if p)
    return ContextFullError(
        f"thread {thread} no longer fits {spec.label}'s context ({counts}): start afresh with "
        f"{fix}, or continue on a model with a longer context", exc.tokens, exc.limit)
