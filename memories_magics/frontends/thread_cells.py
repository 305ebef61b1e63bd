"""Threads in the magics: which thread a cell's turn joins (``-c``, ``--thread NAME`` and the
front end's cell id), the history its requests carry, the turn added once the answers are
in, and the ``%llm thread list | show | reset`` subcommands.

JupyterLab, Notebook 7 and VS Code send each execution's ``cellId`` in the execute_request's
metadata; ipykernel (6 and later) keeps that request as ``kernel.get_parent()``. nbclient,
nbval and plain IPython send none, and turns then append in execution order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import ModelSpec
from ..errors import ContextFullError, UsageError
from ..images import Prompt
from ..threads import Plan, Reply, ThreadStore, Turn, check_context, context_error
from ..types import Message, Request, Response

#: Longer "cell ids" are not a front end's: ignored, as if none was sent.
MAX_CELL_ID = 200


def cell_id(shell: Any) -> str | None:
    """The running cell's id from the front end, or None (nbclient, plain IPython, or
    anything that is not a short string)."""
    get_parent = getattr(getattr(shell, "kernel", None), "get_parent", None)
    try:
        parent = get_parent() if callable(get_parent) else None
    except Exception:  # noqa: BLE001 - a kernel without a parent request has no cell id
        return None
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    value = metadata.get("cellId") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= MAX_CELL_ID else None


class CellTurn:
    """One cell's turn in a thread, from its options to the turn recorded after the run."""

    def __init__(self, store: ThreadStore, shell: Any, args: Any, *, cell: bool = True) -> None:
        """``cell=False``: a panel run, which has no cell id (its worker would read whichever
        request came last) and does not move the thread a cell's ``-c`` continues."""
        self.store = store
        self.shell = shell
        self.cell = cell_id(shell) if cell else None
        self.in_cell = cell
        self.plan: Plan = store.plan(self.cell, follow=bool(args.continue_thread),
                                     name=args.thread)
        self.continues = bool(args.continue_thread or args.thread)
        self.system = args.system if args.system is not None else self.plan.system()

    def model(self, given: str | None) -> str | None:
        """The model to ask: ``given``, else (continuing a thread) the one it asked last."""
        return given or (self.plan.model() if self.continues else None)

    def models(self) -> list[str]:
        """Continuing a thread: the models its previous turn asked (a ``%%compare -c`` without
        models compares them again)."""
        turns = self.plan.thread.turns[:self.plan.at]
        return [r.model for r in turns[-1].replies] if self.continues and turns else []

    def messages(self, spec: ModelSpec, prompt: str | Prompt) -> list[Message]:
        """The earlier turns as ``spec`` sees them, then the prompt."""
        return [*self.plan.history(spec.label), {"role": "user", "content": prompt}]

    def check(self, spec: ModelSpec, request: Request) -> None:
        """A one-line error before asking when the history can't fit ``spec``'s context."""
        if self.plan.at:
            check_context(spec, request, self.plan.name, self.fix)

    @property
    def fix(self) -> str:
        """The command that empties this thread."""
        return f"%llm thread reset {self.plan.name}"

    def too_long(self, exc: ContextFullError, spec: ModelSpec) -> ContextFullError:
        """A model's context error, said for this thread (the prompt alone is the cell's)."""
        return context_error(exc, spec, self.plan.name, self.fix) if self.plan.at else exc

    def record(self, prompt: str | Prompt, answers: Sequence[tuple[str, str, Response]],
               tools: Sequence[dict[str, Any]] = ()) -> str:
        """Add the turn (``(model asked, label that answered, response)`` for each answer
        that could be cached: a cut or failed answer is never history; ``tools`` the schemas
        the cell offered) and return the note the cell shows ("" when there is nothing to
        say)."""
        replies = tuple(Reply.of(model, label, response)
                        for model, label, response in answers if response.cacheable)
        notes = [self.plan.note]
        if self.continues:
            notes.append(f"thread {self.plan.name}, turn {self.plan.at + 1}")
        if not replies:  # a plain cell's cut answer already says "not cached"
            if self.continues:
                notes.append(f"not added to thread {self.plan.name}: no complete answer")
            return "; ".join(n for n in notes if n)
        notes.append(self.plan.dropped_note())
        # IPython counts the running cell before running it: In [N] runs with N + 1.
        count = getattr(self.shell, "execution_count", None) if self.in_cell else None
        execution = count - 1 if isinstance(count, int) and count > 1 else None
        self.store.commit(self.plan, Turn(prompt, replies, self.system, self.cell, execution,
                                          tuple(tools)), latest=self.in_cell)
        return "; ".join(n for n in notes if n)


def add_note(result: Any, note: str) -> None:
    """Append ``note`` to an LLMResult's note (shown in its footer)."""
    if note and result is not None:
        result.note = "; ".join(n for n in (result.note, note) if n)


def thread_command(store: ThreadStore, words: list[str]) -> tuple[list[str], list[list[Any]],
                                                                  str] | None:
    """``%llm thread list | show [NAME] | reset [NAME]``: a table to show (headers, rows,
    title), or None when a line was printed."""
    action, rest = (words[0], words[1:]) if words else ("list", [])
    if action not in ("list", "show", "reset") or len(rest) > 1 or (action == "list" and rest):
        raise UsageError("usage: %llm thread list | show [NAME] | reset [NAME]")
    if action == "list":
        # No execution counts: nbval runs cells uncounted, and a replay must look the same.
        listed = [[name + (" (latest)" if name == store.latest else ""), len(t.turns),
                   ", ".join(dict.fromkeys(r.label for turn in t.turns for r in turn.replies))]
                  for name, t in store.threads.items()]
        return ["thread", "turns", "models"], listed, \
            "Threads in this kernel (%%llm -c continues the latest)"
    thread = store.get(rest[0] if rest else None)
    if action == "reset":
        count = len(thread.turns)
        store.reset(thread.name)
        print(f"Thread {thread.name} emptied ({count} turn{'s' * (count != 1)} removed); "
              f"its next cell starts afresh")
        return None
    rows: list[list[Any]] = []
    for number, turn in enumerate(thread.turns, 1):
        rows.append([number, "you", turn.prompt])
        for reply in turn.replies:
            calls = sum(len(m.get("tool_calls") or ()) for m in reply.messages)
            who = reply.label + (" · cached" if reply.cached else "") + \
                (f" · {calls} tool call{'s' * (calls != 1)}" if calls else "")
            rows.append(["", who, reply.text])
    system = thread.system()
    count = len(thread.turns)
    title = f"Thread {thread.name}: {count} turn{'s' * (count != 1)}" + \
        (f" (system: {system})" if system else "")
    return ["turn", "who", "text"], rows, title
