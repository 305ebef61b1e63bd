"""Function calling: Python functions as tools, and the rounds that let a model use them.

Schemas and argument checks come from pydantic: the signature's type hints become a model
(Enums, Literals, TypedDicts, dates and nested pydantic models get real JSON schemas) and the
model's arguments are validated and coerced to the annotated types before the call.
Descriptions come from the docstring (``Args:`` or ``:param x:`` sections).

:func:`tool_rounds` is a source for :meth:`memories_magics.engine.Engine.answer`: it asks,
runs the requested tools, answers back and repeats, at most ``max_rounds`` times, yielding the
chunks of every round and a :class:`~memories_magics.types.ToolStep` per call. The engine
caches the whole exchange under the first request, so a re-run replays the recorded results
without running the functions again.

Messages use one neutral shape that each provider translates:
``{"role": "assistant", "content": text, "tool_calls": [{"id", "name", "arguments"}]}`` and
``{"role": "tool", "tool_call_id": id, "name": name, "content": text, "is_error": bool}``.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .types import Chunk, Message, Request, Response, ToolCall, ToolStep

if TYPE_CHECKING:  # for annotations only: pydantic is imported when a tool is first described
    import pydantic

_PARAM_LINE = re.compile(r"^\s*(?::param\s+)?(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


def _docstring_parts(func: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The docstring's first paragraph, and each parameter's description. Hand-written because
    the two conventions we read (Google ``Args:`` lines and reST ``:param x:``) are one regex;
    a docstring parser package would be a dependency for that line."""
    doc = inspect.getdoc(func) or ""
    summary = doc.split("\n\n")[0].replace("\n", " ").strip()
    names = inspect.signature(func).parameters
    params: dict[str, str] = {}
    for line in doc.splitlines():
        match = _PARAM_LINE.match(line)
        if match and match.group(1) in names:
            params[match.group(1)] = match.group(2).strip()
    return summary, params


def arguments_model(func: Callable[..., Any]) -> type[pydantic.BaseModel]:
    """A pydantic model of ``func``'s named parameters (``*args``/``**kwargs`` are not
    offered to the model); a hint pydantic can't use is a one-line error."""
    import pydantic

    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:  # noqa: BLE001 - any unresolvable annotation
        raise UsageError(f"--tools: can't read the type hints of {func.__name__} ({exc})") from None
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = ... if param.default is param.empty else param.default
        fields[name] = (hints.get(name, str), default)
    try:
        return pydantic.create_model(f"{func.__name__}_arguments", **fields)
    except (pydantic.PydanticUserError, pydantic.PydanticSchemaGenerationError, TypeError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"--tools: {func.__name__}'s parameters can't be described to a "
                         f"model: {first}") from None


def _tidy(schema: Any) -> Any:
    """pydantic's schema without titles and defaults (a default is the function's business,
    and leaving it out keeps schemas, hence cache keys, as they were), with ``X | None = None``
    shown as plain ``X``."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    options = schema.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and \
            schema.get("default", 0) is None:
        rest = [o for o in options if o != {"type": "null"}]
        if len(rest) == 1:
            schema = {**{k: v for k, v in schema.items() if k not in ("anyOf", "default")},
                      **rest[0]}
    tidy: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs") and isinstance(value, dict):  # names, not keywords
            tidy[key] = {name: _tidy(sub) for name, sub in value.items()}
        elif key not in ("title", "default"):
            tidy[key] = _tidy(value)
    return tidy


def function_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema a model needs to call ``func``.

    >>> def weather(city: str, unit: str = "C") -> str:
    ...     '''Current weather in a city.
    ...
    ...     Args:
    ...         city: the city name, e.g. Paris
    ...     '''
    >>> function_schema(weather)["parameters"]["required"]
    ['city']
    """
    summary, described = _docstring_parts(func)
    parameters = _tidy(arguments_model(func).model_json_schema())
    parameters.setdefault("required", [])
    for name, text in described.items():
        if name in parameters.get("properties", {}):
            parameters["properties"][name]["description"] = text
    return {"name": func.__name__, "description": summary or func.__name__,
            "parameters": parameters}


#: The ``tool_choice`` spellings we take: the model may call the tools (``auto``, kept as None,
#: the default, so keys stay as they were) or not (``none``: they are there for the history).
_TOOL_CHOICES: dict[str, str | None] = {"auto": None, "none": "none"}


def tool_choice_of(value: object) -> str | None:
    """A ``tool_choice`` as a request keeps it: None (``auto``) or ``"none"``, from any
    provider's spelling (``"none"``, Cohere's ``"NONE"``, Anthropic's ``{"type": "none"}``);
    anything else is one line."""
    word = value.get("type") if isinstance(value, dict) and len(value) == 1 else value
    if value is None or (isinstance(word, str) and word.strip().lower() in _TOOL_CHOICES):
        return None if value is None else _TOOL_CHOICES[str(word).strip().lower()]
    raise UsageError(f"tool_choice {repr(value)[:40]}: use 'auto' (the model may call the "
                     "tools) or 'none' (it may not)")


def resolve_tools(names: str, namespace: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """``"f,g"`` → the callables of those names in the notebook, or a one-line error."""
    tools: dict[str, Callable[..., Any]] = {}
    for name in filter(None, (n.strip() for n in names.split(","))):
        value = namespace.get(name)
        if value is None:
            raise UsageError(f"--tools: no function named {name!r} in the notebook; define it "
                             "in a cell above (def ...)")
        if not callable(value):
            raise UsageError(f"--tools: {name!r} is a {type(value).__name__}, not a function")
        tools[name] = value
    if not tools:
        raise UsageError("--tools needs function names, e.g. --tools get_weather,convert")
    return tools


def call_tool(call: ToolCall, tools: dict[str, Callable[..., Any]]) -> ToolStep:
    """Run one call with its arguments validated and coerced to the annotated types;
    exceptions, bad arguments and unknown names become error results for the model."""
    import pydantic

    if call.name not in tools:
        return ToolStep(call, f"error: unknown tool {call.name!r}; available: "
                              f"{', '.join(tools)}", True)
    function = tools[call.name]
    try:
        inspect.signature(function).bind(**call.arguments)
        arguments = dict(arguments_model(function).model_validate(call.arguments))
    except (TypeError, pydantic.ValidationError) as exc:
        reason = " ".join(str(exc).split())[:300]
        return ToolStep(call, f"error: bad arguments for {call.name}: {reason}", True)
    try:
        value = function(**arguments)
    except Exception as exc:  # noqa: BLE001 - reported to the model and the user
        return ToolStep(call, f"error: {type(exc).__name__}: {exc}", True)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return ToolStep(call, text)


def round_messages(text: str, steps: Sequence[ToolStep]) -> list[Message]:
    """An assistant message that called tools (``text`` is what it said with the calls),
    then each tool's result, in the neutral shape the providers translate."""
    calls = [{"id": s.call.id, "name": s.call.name, "arguments": s.call.arguments}
             for s in steps]
    return [{"role": "assistant", "content": text, "tool_calls": calls},
            *({"role": "tool", "tool_call_id": s.call.id, "name": s.call.name,
               "content": s.result, "is_error": s.is_error} for s in steps)]


def tool_rounds(ask: Callable[[Request], Iterator[Chunk]], request: Request,
                tools: dict[str, Callable[..., Any]], max_rounds: int
                ) -> Iterator[Chunk | ToolStep]:
    """Ask (``ask(request)`` yields one round's chunks), run the calls the model asks for,
    send their results back, until it answers without calls or ``max_rounds`` rounds ran (the
    last round then ends with finish reason ``tool_calls``: shown, not cached)."""
    current = request
    for _ in range(max(1, max_rounds)):
        chunks: list[Chunk] = []
        for chunk in ask(current):
            chunks.append(chunk)
            yield chunk
        said = Response.from_chunks(chunks, current, latency_s=None, first_token_s=None)
        if not said.tool_calls or said.finish_reason is None:
            return
        steps = []
        for call in said.tool_calls:
            step = call_tool(call, tools)
            steps.append(step)
            yield step
        current = replace(current,
                          messages=current.messages + tuple(round_messages(said.text, steps)))
    yield Chunk(finish_reason="tool_calls")
