"""The options of ``%%llm`` and ``%%compare``, derived from their one declaration in
vocabulary.json: the ``magic_arguments`` decorators, validation with the limits in the message,
the request's sampling parameters, and the option words of an equivalent cell (the panel's
"copy as cell").

Adding an option means adding it to vocabulary.json (and mapping it in the providers if it is
a request parameter); nothing here names an option.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import UsageError
from .vocabulary import VOCABULARY

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Option:
    """One declared option: its flags, value type, range, role and help."""

    name: str
    flags: tuple[str, ...]
    type: str
    role: str
    magics: tuple[str, ...]
    help: str
    choices: tuple[str, ...] = ()
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    metavar: str | None = None

    @property
    def flag(self) -> str:
        """The shortest flag (what a written cell uses)."""
        return min(self.flags, key=len)

    def check(self, value: Any) -> Any:
        """``value`` converted to this option's type and checked against its range and
        choices; ``None`` stays ``None``. A bad value is a one-line :class:`UsageError`."""
        if value is None:
            return None
        where = f"{self.flag} {value!r}"
        if self.type in ("float", "int"):
            try:
                number = float(value) if self.type == "float" else _integer(value)
            except (TypeError, ValueError):
                wanted = "a number" if self.type == "float" else "a whole number"
                raise UsageError(f"{where}: expected {wanted}") from None
            if isinstance(number, float) and not math.isfinite(number):
                raise UsageError(f"{where}: expected a finite number")
            if (self.min is not None and number < self.min) or \
                    (self.max is not None and number > self.max):
                raise UsageError(f"{where}: must be between {_shown(self.min)} and "
                                 f"{_shown(self.max)}")
            return number
        if self.type == "choice":
            if value not in self.choices:
                raise UsageError(f"{where}: use one of {', '.join(self.choices)}")
            return value
        if self.type == "flag":
            return bool(value)
        if not isinstance(value, str):
            raise UsageError(f"{where}: expected text")
        return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(value)


def _shown(limit: float | None) -> str:
    """A limit as a person reads it: ``4,294,967,295``, ``0.5`` (never ``4.29497e+09``)."""
    if limit is None:
        return "?"
    return f"{int(limit):,}" if float(limit).is_integer() else f"{limit:g}"


def _load() -> dict[str, Option]:
    options: dict[str, Option] = {}
    for entry in VOCABULARY["options"]:
        choices = tuple(VOCABULARY[entry["choices"]]) if "choices" in entry else ()
        options[entry["name"]] = Option(
            name=entry["name"], flags=tuple(entry["flags"]), type=entry["type"],
            role=entry["role"], magics=tuple(entry["magics"]), help=entry["help"],
            choices=choices, default=entry.get("default"), min=entry.get("min"),
            max=entry.get("max"), step=entry.get("step"), metavar=entry.get("metavar"))
    return options


#: Every declared option by name, in declaration order.
OPTIONS: dict[str, Option] = _load()
#: The options that are request parameters (what the model sees), in declaration order.
REQUEST_OPTIONS: tuple[str, ...] = tuple(n for n, o in OPTIONS.items() if o.role == "request")


def magic_parser(name: str | None = None) -> Callable[[F], F]:
    """IPython's ``@magic_arguments()`` (untyped there), built on first use: the outermost
    decorator of a magic, whose parser comes from the argument decorators below it; ``name``
    is what its usage line shows after "%" (``"%llm"`` shows the cell magic, ``%%llm``).

    IPython builds the parser, and the full help ``%%llm?`` shows, as the class is defined,
    which was a third of ``%load_ext`` (bench/profile.py load); here :func:`parser_of` builds
    it on the first cell, and ``%%llm?`` on asking (IPython calls an object's ``getdoc``)."""
    def decorate(func: F) -> F:
        marked: Any = func
        if not getattr(marked, "has_arguments", False):
            marked.has_arguments, marked.decorators = True, []
        if name is not None:
            marked.argcmd_name = name
        built: list[Any] = []

        def build() -> Any:
            if not built:
                from IPython.core.magic_arguments import construct_parser

                built.append(construct_parser(marked))  # its __doc__ becomes the full help
            return built[0]

        def getdoc() -> str | None:
            build()  # sets the full help as the docstring
            doc: str | None = marked.__doc__
            return doc

        marked.build_parser, marked.getdoc = build, getdoc
        return func
    return decorate


def parser_of(magic: Any) -> Any:
    """The argument parser of a magic decorated with :func:`magic_parser`."""
    return magic.build_parser()


def magic_argument(*flags: str, **kwargs: Any) -> Callable[[F], F]:
    """IPython's ``@argument`` (untyped there), for a magic's own positional arguments."""
    from IPython.core.magic_arguments import argument

    add = argument(*flags, **kwargs)

    def decorate(func: F) -> F:
        added: F = add(func)
        return added
    return decorate


def magic_options(magic: str) -> Callable[[F], F]:
    """The ``magic_arguments`` decorators for every option ``magic`` ("llm", "compare") takes."""
    from IPython.core.magic_arguments import argument

    def decorate(func: F) -> F:
        for option in reversed([o for o in OPTIONS.values() if magic in o.magics]):
            kwargs: dict[str, Any] = {"help": option.help.replace("%", "%%"),
                                      "dest": option.name}
            if option.type == "flag":
                kwargs["action"] = "store_true"
            elif option.type == "choice":
                kwargs.update(choices=option.choices, default=option.default)
            else:  # numbers stay text here and are checked by check_args, limits included
                kwargs["metavar"] = option.metavar or option.name.upper()
            func = argument(*option.flags, **kwargs)(func)
        return func
    return decorate


def check_args(args: Any, magic: str) -> Any:
    """Parsed magic arguments with every declared option converted and range-checked."""
    for option in OPTIONS.values():
        if magic in option.magics:
            setattr(args, option.name, option.check(getattr(args, option.name, None)))
    return args


def request_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """The request parameters among ``values`` (by option name), checked; unknown names are a
    one-line error that lists the known ones."""
    unknown = sorted(set(values) - set(REQUEST_OPTIONS))
    if unknown:
        raise UsageError(f"unknown parameter {unknown[0]!r}; use one of: "
                         f"{', '.join(REQUEST_OPTIONS)}")
    return {name: OPTIONS[name].check(value) for name, value in values.items()}


def option_words(magic: str, values: Mapping[str, Any]) -> list[str]:
    """The option words a cell needs to reproduce ``values`` (only those that differ from the
    defaults), shell-quoted: ``["-t", "0.2", "--no-stream"]``."""
    words: list[str] = []
    for option in OPTIONS.values():
        value = values.get(option.name)
        if magic not in option.magics or value is None or value == option.default:
            continue
        if option.type == "flag":
            if value:
                words.append(option.flag)
            continue
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            raise UsageError(f"{option.flag}: a value with line breaks cannot be written on a "
                             "magic's option line; use one line")
        shown = repr(float(value)) if option.type == "float" else str(value)
        words += [option.flag, shlex.quote(shown)]
    return words
