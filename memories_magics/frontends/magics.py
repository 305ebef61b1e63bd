"""The ``%%llm`` and ``%%compare`` cell magics and the ``%llm`` line magic (subcommands)."""

from __future__ import annotations

import argparse
import shlex
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core import magic as ipython_magic
from IPython.core.error import UsageError as IPythonUsageError
from IPython.core.magic import Magics, magics_class

from ..errors import UsageError
from ..options import (
    OPTIONS,
    check_args,
    magic_argument,
    magic_options,
    magic_parser,
    parser_of,
)

if TYPE_CHECKING:  # the engine and renderers load on first use, keeping %load_ext fast
    from ..config import ModelSpec
    from ..engine import Engine
    from ..images import Prompt
    from ..threads import ThreadStore

_F = TypeVar("_F", bound=Callable[..., Any])


def _bare(marker: Callable[[Any], Any]) -> Callable[[_F], _F]:
    """IPython annotates its method markers as returning "the function or a decorator" (they
    also take a name); used bare, as here, they return the function, which this says."""

    def mark(func: _F) -> _F:
        marked: _F = marker(func)
        return marked
    return mark


line_cell_magic = _bare(ipython_magic.line_cell_magic)
cell_magic = _bare(ipython_magic.cell_magic)
#: Option lines are taken as written (no IPython ``$var``/``{expr}`` expansion), so a cell
#: the panel writes asks exactly what the panel asked.
no_var_expand = _bare(ipython_magic.no_var_expand)

SUBCOMMANDS = {
    "models": "every known model: provider, local/api, key present?, streaming, tools",
    "use M": "make M the default model for this kernel",
    "config": "where model_config.json comes from, and the global settings",
    "cache info|clear|dir PATH|mode MODE": "this notebook's cache: size, clear, move, mode",
    "cache verify [--sample N]": "ask the recorded prompts again live: N same, M changed",
    "cache prune [--yes]": "drop the records no cell asked for in this kernel (after Run All)",
    "cache export PATH | import PATH": "copy records to a new file, or add them from one",
    "usage": "tokens and estimated cost per model in this kernel",
    "embed VAR -o VEC [-m MODEL]": "embed a list/Series of texts into an n × d array (cached)",
    "unload": "free local models from memory",
    "panel [M ...]": "interactive panel: prompt, model picker, parameters, Run/Stop, history",
    "thread list|show [NAME]|reset [NAME]": "conversation threads (%%llm -c, --thread NAME)",
    "fix [MODEL]": "ask a model about the last error (its code and traceback), in a new thread",
    "help": "this list",
}


def _publish_table(headers: list[str], rows: list[list[Any]], title: str) -> None:
    from IPython.display import display

    from ..display.render import table_bundle

    display(table_bundle(headers, rows, title), raw=True)


def parse(magic: Any, line: str) -> Any:
    """Parse magic options, turning argparse errors into one line with the way to help.

    The line is split like a shell does (``-s "Be brief"`` gives ``Be brief``, without the
    quotes that IPython's own non-POSIX splitting would keep). A line parses the same every
    time (nothing but the line and the declared options goes in), so each magic keeps its
    last lines' results and hands out copies: a loop of cells skips argparse.
    """
    key = (magic.__name__, line)
    parsed = _parsed.get(key)
    if parsed is None:
        parsed = _parse(magic, line)
        with _parsed_lock:
            while len(_parsed) >= PARSED_LINES:
                _parsed.pop(next(iter(_parsed)))
            _parsed[key] = parsed
    return argparse.Namespace(**{name: list(value) if isinstance(value, list) else value
                                 for name, value in vars(parsed).items()})


#: How many option lines' parses are kept (oldest first out).
PARSED_LINES = 64
_parsed: dict[tuple[str, str], argparse.Namespace] = {}
_parsed_lock = threading.Lock()


def _parse(magic: Any, line: str) -> argparse.Namespace:
    args: argparse.Namespace
    try:
        words = shlex.split(line)
    except ValueError as exc:  # e.g. an unclosed quote
        raise UsageError(f"{exc} in {line!r}; see %%{magic.__name__}? for the options") from None
    try:
        args = parser_of(magic).parse_args(words)
    except IPythonUsageError as exc:
        raise UsageError(f"{exc}; see %%{magic.__name__}? for the options") from None
    args = check_args(args, magic.__name__)
    if not getattr(args, "over", None):
        for option in OPTIONS.values():
            if option.role == "over" and option.name != "over" and getattr(args, option.name,
                                                                          None):
                raise UsageError(f"{option.flag} goes with --over VAR (a prompt over the rows "
                                 "of a list or DataFrame)")
    return args


@magics_class
class LLMMagics(Magics):
    """``%%llm``, ``%llm`` subcommands and ``%%compare``."""

    def __init__(self, shell: Any, engine: Engine | None = None) -> None:
        super().__init__(shell)
        self._engine = engine
        self._threads: ThreadStore | None = None

    @property
    def user_ns(self) -> dict[str, Any]:
        """The notebook's namespace (these magics are only registered on a shell)."""
        if self.shell is None:
            raise UsageError("memories_magics' magics run in IPython: %load_ext memories_magics")
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    @property
    def engine(self) -> Engine:
        """The kernel's engine, created on first use (not at ``%load_ext``)."""
        if self._engine is None:
            from ..engine import default_engine

            self._engine = default_engine()
        if self._engine.user_ns is None:
            self._engine.user_ns = self.user_ns
        return self._engine

    @no_var_expand
    @magic_parser("%llm")  # usage shown as %%llm
    @magic_argument("model", nargs="?",
                    help="provider:model or alias (default: %%llm use, else smollm2)")
    @magic_argument("-m", "--model", dest="model_option", metavar="MODEL", help="same as MODEL")
    @magic_options("llm")
    @line_cell_magic
    def llm(self, line: str, cell: str | None = None) -> Any:
        """Ask a language model; the cell body is the prompt ({expr} interpolates, {{ }} escape;
        {In[N]}, {Out[N]} and {Err[N]} are cell N's code, value and traceback).

        -c continues the latest thread (the request carries its earlier turns), --thread NAME
        a named one; a cell without either starts a new thread.

        As a line magic: %llm models | use M | config | cache info|clear|dir PATH|mode MODE |
        usage | unload | panel | thread list|show|reset | fix | help.
        """
        if cell is None:
            return self._subcommand(line)
        args = parse(self.llm, line)
        if args.over:
            return self._over(args, cell, [self.engine.model(args.model_option or args.model)])
        self._ask(args, self._prompt(cell, "%%llm", args.attach))
        return None

    def _ask(self, args: Any, prompt: str | Prompt) -> None:
        """Answer ``prompt`` as a ``%%llm`` cell with ``args`` does, in its thread."""
        from .run_live import run_llm
        from .thread_cells import CellTurn

        turn = CellTurn(self.threads, self.shell, args)
        self._shown(run_llm(self.engine, turn.model(args.model_option or args.model), prompt,
                            vars(args) | {"system": turn.system}, self.user_ns, turn=turn))

    @no_var_expand
    @magic_parser("%compare")
    @magic_argument("models", nargs="*", help="two or more provider:model ids or aliases")
    @magic_options("compare")
    @cell_magic
    def compare(self, line: str, cell: str) -> Any:
        """Ask several models the same prompt at once; columns stream side by side, then the
        aggregate and a diff of two answers are shown. With -c or --thread NAME each model
        sees its own earlier answers (and -c without models compares the thread's again)."""
        from .run_live import run_compare
        from .thread_cells import CellTurn

        args = parse(self.compare, line)
        turn = CellTurn(self.threads, self.shell, args)
        models = args.models or turn.models()  # -c alone: the models the thread compared
        if len(models) < 2:
            one = f"; to ask only {models[0]}, use %%llm {models[0]}" if models else ""
            raise UsageError(f"%%compare needs two or more models, e.g. %%compare smollm2 gemma"
                             f"{one}")
        if args.over:
            return self._over(args, cell, [self.engine.model(m) for m in models])
        prompt = self._prompt(cell, "%%compare", args.attach)
        self._shown(run_compare(self.engine, models, prompt,
                                vars(args) | {"system": turn.system}, self.user_ns, turn=turn))
        return None

    def _over(self, args: Any, cell: str, specs: list[ModelSpec]) -> Any:
        """``--over VAR``: the cell is a template asked once per row (of every model)."""
        from ..over import rows_of
        from .run_live import request_for, schema_of
        from .run_over import resolve_check, run_over

        for flag, name in (("--fallback", "fallback"), ("--tools", "tools"),
                           ("-c", "continue_thread"), ("--thread", "thread")):
            if getattr(args, name, None):
                raise UsageError(f"{flag} does not go with --over yet; ask the rows without it")

        namespace = self.user_ns
        rows = rows_of(args.over, namespace)
        schema = schema_of(vars(args), namespace)
        result = run_over(self.engine, [(spec, None) for spec in specs], cell.strip(), rows,
                          namespace, lambda spec, prompt: request_for(
                              self.engine, spec, prompt, vars(args), schema=schema),
                          fmt=args.format, cache=args.cache, stream=not args.no_stream,
                          concurrency=args.concurrency, budget=args.budget,
                          dry_run=args.dry_run, check=resolve_check(args.check, namespace),
                          check_name=args.check, aggregate=getattr(args, "aggregate", None),
                          schema=schema, retries=args.retries or 0, attach=args.attach)
        if result is not None and args.output:
            namespace[args.output] = result.frame
        return result

    def _prompt(self, cell: str, magic: str, attach: str | None) -> str | Prompt:
        """The cell's prompt, interpolated, with the images ``--attach`` names and those its
        ``{expr}`` places (a :class:`~memories_magics.images.Prompt` when there are any)."""
        if not cell.strip():
            raise UsageError(f"the cell is empty: write the prompt below the {magic} line")
        from ..images import prompt_with_images

        return prompt_with_images(cell.strip(), self.user_ns, attach)

    def _shown(self, result: Any) -> None:
        """``result`` is in the cell's output already (the live view became it), so the magic
        returns None to show it once: point ``_``, ``_N`` and ``Out[N]`` at it as a returned
        value would."""
        shell: Any = self.shell
        shell.displayhook.update_user_ns(result)
        shell.displayhook.fill_exec_result(result)

    @property
    def threads(self) -> ThreadStore:
        """This kernel's conversation threads (``-c``, ``--thread``, ``%llm thread``)."""
        if self._threads is None:
            from ..threads import ThreadStore

            self._threads = ThreadStore()
        return self._threads

    # -- %llm subcommands ----------------------------------------------------------------
    def _subcommand(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:  # e.g. an unclosed quote
            raise UsageError(f"{exc} in %llm {line}") from None
        if not words or words[0] == "help":
            return _publish_table(["command", "what it does"],
                                  [[f"%llm {k}", v] for k, v in SUBCOMMANDS.items()],
                                  "%%llm [MODEL] [options] + prompt; see %%llm? for options")
        command, rest = words[0], words[1:]
        handler = {"models": self._models, "use": self._use, "config": self._config,
                   "cache": self._cache, "usage": self._usage, "unload": self._unload,
                   "panel": self._panel, "thread": self._thread, "fix": self._fix,
                   "embed": self._embed}.get(command)
        if handler is None:
            raise UsageError(f"unknown %llm command {command!r}; use one of: "
                             f"{', '.join(k.split()[0] for k in SUBCOMMANDS)} "
                             "(a prompt needs the cell magic %%llm)")
        return handler(rest)

    def _models(self, _: list[str]) -> None:
        engine = self.engine
        default = engine.model()
        rows = [[alias + (" (default)" if spec == default else ""), spec.model_id, spec.type,
                 status, "yes" if engine.supports(spec, "streaming") else "no",
                 "yes" if engine.supports(spec, "function_calling") else "no",
                 ("completion only (no chat template); " if not spec.chat else "")
                 + spec.description]
                for alias, spec, _, status in engine.models_by_availability()]
        _publish_table(["model", "id", "type", "ready", "streaming", "tools", "notes"],
                       rows, "Models (any provider:model also works)")

    def _use(self, rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError("usage: %llm use MODEL (e.g. %llm use openai:gpt-4o-mini)")
        spec = self.engine.model(rest[0])
        self.engine.check_generates(spec)  # now, not at the next %%llm
        self.engine.default_model_override = rest[0]
        print(f"Default model: {spec.label} ({spec.model_id})")

    def _config(self, _: list[str]) -> None:
        from ..cache_folder import shown_path
        from ..config import USER_CONFIG_ENV, user_config_path

        path = user_config_path()
        rows = [["user file", str(path) if path else f"none (set {USER_CONFIG_ENV})"],
                ["default model", self.engine.default_model()],
                ["cache mode", self.engine.cache_mode],
                ["cache dir", shown_path(self.engine.cache().directory)]]
        rows += [[k, v] for k, v in self.engine.config.settings.items()
                 if k not in ("default_model", "cache_mode")]
        _publish_table(["setting", "value"], rows, "memories_magics configuration")

    def _cache(self, rest: list[str]) -> None:
        from .cache_commands import cache_command

        cache_command(self.engine, rest)

    def _usage(self, _: list[str]) -> None:
        rows = [[model, u.calls, u.cache_hits, u.input_tokens, u.output_tokens,
                 f"{u.cost_usd:.4f}"] for model, u in sorted(self.engine.usage.items())]
        _publish_table(["model", "calls", "cache hits", "tokens in", "tokens out",
                        "est. cost (USD)"], rows,
                       "Usage in this kernel (costs are estimates from model_config.json)")

    def _embed(self, rest: list[str]) -> None:
        from .embed_command import embed_command

        print(embed_command(self.engine, self.user_ns, rest))

    def _unload(self, _: list[str]) -> None:
        from ..providers.local_runtime import unload_models

        names = unload_models()
        print(f"Unloaded: {', '.join(names)}" if names else "No local model was loaded")

    def _thread(self, rest: list[str]) -> None:
        from .thread_cells import thread_command

        table = thread_command(self.threads, rest)
        if table is not None:
            _publish_table(*table)

    def _fix(self, rest: list[str]) -> Any:
        from .fix import fix_prompt

        args = parse(self.llm, shlex.join(rest))
        if args.continue_thread or args.thread:
            raise UsageError("%llm fix starts a new thread; continue it with %%llm -c")
        self._ask(args, fix_prompt(self.shell))
        return None

    def _panel(self, models: list[str]) -> None:
        from IPython.display import display

        from .panel import Panel

        display(Panel(self.engine, models, self.threads))  # its -c continues them


def register(ipython: Any, engine: Engine | None = None) -> None:
    """Register the magics on ``ipython`` (what ``%load_ext memories_magics`` does). Nothing
    else loads until a magic runs."""
    from ..display.formatters import register as register_formatters
    from .fix import record_errors

    ipython.register_magics(LLMMagics(ipython, engine))
    register_formatters(ipython)
    record_errors(ipython)
