"""Function calling: Python functions as tools, and the loop that lets a model use them.

Schemas come from signatures, type hints and docstrings (``Args:`` or ``:param x:``
sections). The loop runs the model's calls in the kernel, sends results (or errors) back and
repeats, at most ``max_rounds`` times. The whole exchange is cached under the first request,
so a re-run replays the calls' recorded results instead of running the functions again.

Messages use one neutral shape that each provider translates:
``{"role": "assistant", "content": text, "tool_calls": [{"id", "name", "arguments"}]}`` and
``{"role": "tool", "tool_call_id": id, "name": name, "content": text, "is_error": bool}``.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .config import ModelSpec
from .engine import Engine
from .errors import UsageError
from .types import Message, Request, Response, ToolCall, Usage

DEFAULT_MAX_ROUNDS = 4
_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                               list: "array", tuple: "array", dict: "object"}
_PARAM_LINE = re.compile(r"^\s*(?::param\s+)?(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


def _json_type(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _json_type(options[0]) if len(options) == 1 else {}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin in (list, tuple, set):
        args = typing.get_args(hint)
        return {"type": "array", **({"items": _json_type(args[0])} if args else {})}
    base = origin or hint
    return {"type": _JSON_TYPES[base]} if base in _JSON_TYPES else {}


def _docstring_parts(func: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(func) or ""
    summary = doc.split("\n\n")[0].replace("\n", " ").strip()
    params: dict[str, str] = {}
    for line in doc.splitlines():
        match = _PARAM_LINE.match(line)
        if match and match.group(1) in inspect.signature(func).parameters:
            params[match.group(1)] = match.group(2).strip()
    return summary, params


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
    hints = typing.get_type_hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        schema = _json_type(hints.get(name, str))
        if name in described:
            schema["description"] = described[name]
        properties[name] = schema
        if param.default is param.empty:
            required.append(name)
    return {"name": func.__name__, "description": summary or func.__name__,
            "parameters": {"type": "object", "properties": properties, "required": required}}


@dataclass
class ToolStep:
    """One call the model made and what it got back."""

    call: ToolCall
    result: str
    is_error: bool = False


@dataclass
class ToolExchange:
    """A finished tool loop: every step, the final response, and how it ended."""

    response: Response
    steps: list[ToolStep] = field(default_factory=list)
    replayed: bool = False
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what the cache stores)."""
        return {"response": self.response.to_dict(),
                "steps": [{"call": asdict(s.call), "result": s.result, "is_error": s.is_error}
                          for s in self.steps], "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolExchange:
        """Inverse of :meth:`to_dict`, marked replayed."""
        steps = [ToolStep(ToolCall(**s["call"]), s["result"], s["is_error"]) for s in data["steps"]]
        response = Response.from_dict(data["response"])
        response.cached = True
        return cls(response, steps, replayed=True, stopped_early=data.get("stopped_early", False))


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
    """Run one call; exceptions, bad arguments and unknown names become error results."""
    if call.name not in tools:
        return ToolStep(call, f"error: unknown tool {call.name!r}; available: "
                              f"{', '.join(tools)}", True)
    function = tools[call.name]
    try:
        inspect.signature(function).bind(**call.arguments)
    except TypeError as exc:
        return ToolStep(call, f"error: bad arguments for {call.name}: {exc}", True)
    try:
        value = function(**call.arguments)
    except Exception as exc:  # noqa: BLE001 - reported to the model and the user
        return ToolStep(call, f"error: {type(exc).__name__}: {exc}", True)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return ToolStep(call, text)


def _round_messages(response: Response, steps: list[ToolStep]) -> list[Message]:
    calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls]
    return [{"role": "assistant", "content": response.text, "tool_calls": calls},
            *({"role": "tool", "tool_call_id": s.call.id, "name": s.call.name,
               "content": s.result, "is_error": s.is_error} for s in steps)]


def check_tool_support(spec: ModelSpec) -> None:
    """A one-line error for models that cannot call tools."""
    if not spec.supports_function_calling:
        raise UsageError(f"{spec.label} can't call tools "
                         "(supports_function_calling is false in model_config.json); "
                         "use a model such as gpt-4o-mini or claude-haiku")


def run_tool_loop(engine: Engine, spec: ModelSpec, request: Request,
                  tools: dict[str, Callable[..., Any]], *, cache: str | None = None,
                  max_rounds: int | None = None, on_step: Callable[[ToolStep], None] | None = None,
                  **run_options: Any) -> ToolExchange:
    """Ask, run the requested tools, answer back, until the model stops calling tools.

    The finished exchange is cached under ``request``; a cache hit returns it with
    ``replayed=True`` and runs no function.
    """
    check_tool_support(spec)
    mode = cache or engine.cache_mode
    if mode in ("use", "replay"):
        recorded = engine.cache().get_exchange(request)
        if recorded is not None:
            return ToolExchange.from_dict(recorded)
    rounds = max_rounds or int(engine.config.settings.get("max_tool_rounds", DEFAULT_MAX_ROUNDS))
    steps: list[ToolStep] = []
    current = request
    round_cache = "off" if mode in ("use", "refresh") else mode
    spent = Usage(0, 0)
    for _ in range(rounds):
        response = engine.run(spec, current, cache=round_cache, **run_options)
        spent = Usage(spent.input_tokens + (response.usage.input_tokens or 0),
                      spent.output_tokens + (response.usage.output_tokens or 0))
        response.usage = spent  # the exchange's tokens, every round included
        if not response.tool_calls or not response.complete:
            break
        new = [call_tool(call, tools) for call in response.tool_calls]
        for step in new:
            if on_step is not None:
                on_step(step)
        steps += new
        current = replace(current, messages=current.messages + tuple(_round_messages(response, new)))
    exchange = ToolExchange(response, steps, stopped_early=bool(response.tool_calls))
    if mode in ("use", "refresh") and response.complete and not exchange.stopped_early:
        engine.cache().put_exchange(request, exchange.to_dict())
    return exchange
