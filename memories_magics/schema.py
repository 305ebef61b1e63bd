"""Structured output (``--schema``): what an answer must be, checked once it is complete.

A :class:`Schema` is made from what the notebook names: a pydantic model class, ``list[Model]``
or a JSON-schema dict. Its :attr:`~Schema.json_schema` travels in the
:class:`~memories_magics.types.Request` (so it is part of the cache key) and each provider
turns it into its strongest native constraint (``providers/*.py``; llama.cpp's grammar for
local models). The complete answer is validated by pydantic (a model class) or jsonschema (a
dict); :meth:`Schema.check` gives the value or every reason it fails.

The wire schema's root is always an object, as OpenAI's and Anthropic's structured outputs
require: a list (or any other non-object schema) is asked for as ``{"items": [...]}`` and
unwrapped again.

:func:`schema_rounds` re-asks with the validation errors (``--retries N``), a source for
:meth:`~memories_magics.engine.Engine.answer` as :func:`~memories_magics.tools.tool_rounds`
is; :func:`schema_columns` and :func:`value_row` turn a schema's fields into table columns
(``--over``).
"""

from __future__ import annotations

import copy
import json
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from .errors import UsageError
from .types import Chunk, Request, Response

#: The property a non-object schema is wrapped in on the wire.
WRAP_KEY = "items"
#: At most this many validation errors are listed (the rest are counted).
MAX_ERRORS = 8
#: Each validation error is cut to this many characters (they quote model text).
MAX_ERROR_CHARS = 200


@dataclass(frozen=True)
class Retry:
    """``--retries``: the answer did not validate (``problem``); asking again (``attempt``)."""

    problem: str
    attempt: int


@dataclass(frozen=True)
class Checked:
    """An answer checked against a schema: its ``value``, or the ``errors`` (one per line)."""

    value: Any = None
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the answer matched."""
        return not self.errors


@dataclass(frozen=True, eq=False)
class Schema:
    """What an answer must match. ``name`` is how the notebook wrote it (``City``,
    ``list[City]``), ``json_schema`` what the request carries, ``wrapped`` whether the value
    is the wire object's ``items``, ``adapter`` the pydantic validator (None: jsonschema)."""

    name: str
    json_schema: dict[str, Any]
    wrapped: bool = False
    adapter: Any = None

    def check(self, text: str, finish_reason: str | None = "stop") -> Checked:
        """The validated value of an answer's JSON text (a pydantic object for a model class,
        a list for ``list[Model]``, plain JSON for a dict schema), or why it is not one."""
        raw = _json_text(text)
        cut = (" (the answer stopped at --max-tokens before it was complete; raise "
               "--max-tokens)") if finish_reason == "length" else ""
        if not raw:
            return Checked(errors=(f"the answer is empty, not JSON{cut}",))
        if self.adapter is not None:
            return self._check_pydantic(raw, cut)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return Checked(errors=(f"the answer is not JSON ({_short(str(exc))}){cut}",))
        from jsonschema.validators import validator_for

        validator = validator_for(self.json_schema)(self.json_schema)
        found = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
        if found:
            return Checked(errors=_listed([(self._where(e.path), e.message) for e in found]))
        return Checked(value=data[WRAP_KEY] if self.wrapped else data)

    def _check_pydantic(self, raw: str, cut: str) -> Checked:
        import pydantic

        try:
            value = self.adapter.validate_json(raw)
        except pydantic.ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                reason = _short(exc.errors()[0]["msg"])
                return Checked(errors=(f"the answer is not JSON ({reason}){cut}",))
            return Checked(errors=_listed([(self._where(e["loc"]), e["msg"])
                                           for e in exc.errors()]))
        return Checked(value=getattr(value, WRAP_KEY) if self.wrapped else value)

    def _where(self, path: Any) -> str:
        parts = [str(p) for p in path]
        if self.wrapped and parts[:1] == [WRAP_KEY]:
            parts = parts[1:]
        return ".".join(parts) or "(the whole answer)"

    def problem(self, text: str, finish_reason: str | None = "stop") -> str | None:
        """Why ``text`` does not match, in one line (None when it does)."""
        return self._explained(self.check(text, finish_reason))

    def judge(self, response: Response) -> None:
        """Check ``response`` once: its ``value`` if it matches, else its ``error``."""
        checked = self.check(response.text, response.finish_reason)
        response.value, response.error = checked.value, self._explained(checked)

    def _explained(self, checked: Checked) -> str | None:
        if checked.ok:
            return None
        return f"the answer does not match the schema {self.name}: {'; '.join(checked.errors)}"


def _json_text(text: str) -> str:
    """The JSON of an answer: the text, or the content of the code fence it came in."""
    stripped = text.strip()
    if stripped.startswith("```"):
        from .code_blocks import extract_code

        return extract_code(stripped)[0]
    return stripped


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


def _listed(errors: list[tuple[str, str]]) -> tuple[str, ...]:
    lines = [f"{where}: {_short(message)}" for where, message in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        lines.append(f"… and {len(errors) - MAX_ERRORS} more")
    return tuple(lines)


def resolve_schema(expression: str, namespace: dict[str, Any]) -> Schema:
    """The Schema that ``--schema EXPRESSION`` names in the notebook (``City``,
    ``list[City]``, ``schemas["person"]``), or a one-line error saying what it needs."""
    from .interpolate import evaluate

    where = f"--schema {expression}"
    return make_schema(evaluate(expression, namespace, where, " (a pydantic model class or a "
                                "JSON-schema dict)"), expression)


def make_schema(target: Any, name: str | None = None) -> Schema:
    """A Schema from a pydantic model class, ``list[Model]`` or a JSON-schema dict."""
    import pydantic

    label = name or getattr(target, "__name__", None) or str(target)
    where = f"--schema {label}"
    if isinstance(target, Schema):
        return target
    if isinstance(target, dict):
        return _dict_schema(target, label, where)
    item = _list_item(target)
    model = item if item is not None else target
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        kind = "list" if item is not None else type(target).__name__
        raise UsageError(f"{where}: a {kind}, not a pydantic model class (class City(BaseModel)"
                         f": ...), a list of one (list[City]) or a JSON-schema dict")
    if item is not None:
        items: Any = list[model]  # type: ignore[valid-type]
        model = pydantic.create_model(f"{model.__name__}List", items=(items, ...))  # WRAP_KEY
    try:
        json_schema = model.model_json_schema()
    except pydantic.PydanticUserError as exc:
        raise UsageError(f"{where}: pydantic can't describe it as JSON ({_short(str(exc))})"
                         ) from None
    return Schema(label, json_schema, wrapped=item is not None,
                  adapter=pydantic.TypeAdapter(model))


def _list_item(target: Any) -> Any:
    """``X`` for ``list[X]`` (or ``typing.List[X]``), else None."""
    if typing.get_origin(target) is list:
        args = typing.get_args(target)
        return args[0] if len(args) == 1 else None
    return None


def _dict_schema(schema: dict[str, Any], label: str, where: str) -> Schema:
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        json.dumps(schema, allow_nan=False)
        validator_for(schema).check_schema(schema)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: a JSON schema must be plain JSON ({_short(str(exc))})"
                         ) from None
    except SchemaError as exc:
        raise UsageError(f"{where}: not a valid JSON schema ({_short(exc.message)})") from None
    if schema.get("type") == "object":
        return Schema(label, copy.deepcopy(schema))
    return Schema(label, wrap(schema), wrapped=True)


def wrap(schema: dict[str, Any]) -> dict[str, Any]:
    """A non-object schema as the object ``{"items": <schema>}``, its definitions (and
    ``$schema``) kept at the root where their references point."""
    inner = copy.deepcopy(schema)
    root: dict[str, Any] = {key: inner.pop(key) for key in ("$schema", "$defs", "definitions")
                            if key in inner}
    title = str(inner.get("title") or "answer")
    root.update({"title": f"{title}List" if inner.get("type") == "array" else title,
                 "type": "object", "properties": {WRAP_KEY: inner},
                 "required": [WRAP_KEY], "additionalProperties": False})
    return root


def wire_name(schema: dict[str, Any]) -> str:
    """A name for the schema where a provider wants one (OpenAI: letters, digits, ``_`` and
    ``-``, at most 64): its title, else ``answer``."""
    title = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_"
                    for c in str(schema.get("title") or ""))
    return title.strip("_")[:64] or "answer"


def schema_rounds(ask: Callable[[Request], Iterator[Chunk]], request: Request, schema: Schema,
                  retries: int) -> Iterator[Chunk | Retry]:
    """Ask; while a complete answer fails validation and retries remain, send it back with
    its errors and ask again (a :class:`Retry` between rounds). The engine validates the last
    round's answer and caches the whole exchange under the first request."""
    current = request
    for attempt in range(retries + 1):
        chunks: list[Chunk] = []
        for chunk in ask(current):
            chunks.append(chunk)
            yield chunk
        if attempt == retries:  # the last round: the engine checks the answer (once)
            return
        said = Response.from_chunks(chunks, current, latency_s=None, first_token_s=None)
        problem = schema.problem(said.text, said.finish_reason)
        if said.finish_reason is None or problem is None:
            return
        yield Retry(problem, attempt + 1)
        current = replace(current, messages=(
            *current.messages, {"role": "assistant", "content": said.text},
            {"role": "user", "content": f"That is not valid: {problem}. Answer again with only "
                                        "the JSON, matching the schema."}))


def schema_columns(schema: Schema) -> list[str]:
    """The columns a value of ``schema`` fills in a table (``--over``): the object's
    properties in order, or ``["items"]`` for a list (one column holding the list)."""
    if schema.wrapped:
        return [WRAP_KEY]
    return [str(name) for name in schema.json_schema.get("properties") or {}]


def value_row(schema: Schema, value: Any) -> dict[str, Any]:
    """One table row from a validated value: each of :func:`schema_columns` as plain JSON
    data (a nested object a dict, a list of objects a list of dicts; None where the value has
    nothing, or when there is no value)."""
    columns = schema_columns(schema)
    data = plain(value)
    if schema.wrapped:
        return {WRAP_KEY: data}
    if not isinstance(data, dict):
        return dict.fromkeys(columns)
    return {column: data.get(column) for column in columns}


def plain(value: Any) -> Any:
    """A validated value as plain Python data (pydantic objects dumped; JSON as is)."""
    import pydantic

    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A value's leaves by path (``name``, ``address.city``, ``[0].name``): how a comparison
    lines values up field by field."""
    data = plain(value)
    out: dict[str, Any] = {}
    if isinstance(data, dict) and data:
        for key, item in data.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and data:
        for index, item in enumerate(data):
            out.update(flatten(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "(value)"] = data
    return out


@dataclass(frozen=True)
class FieldRow:
    """One field across models: each model's value as compact JSON (None: no valid value or
    no such field) and how many of the models with a value agree on the commonest one."""

    path: str
    values: tuple[str | None, ...]
    agree: int
    of: int

    @property
    def agreement(self) -> str:
        """``3/3``, ``2/3``; ``-`` when no model has the field."""
        return f"{self.agree}/{self.of}" if self.of else "-"


def field_rows(values: list[Any]) -> list[FieldRow]:
    """The fields of several models' values (None for a model without a valid value), in the
    order they first appear, with their agreement."""
    flat = [None if v is None else flatten(v) for v in values]
    paths: list[str] = []
    for leaves in flat:
        paths += [p for p in leaves or {} if p not in paths]
    valid = sum(leaves is not None for leaves in flat)
    rows = []
    for path in paths:
        shown = tuple(None if leaves is None or path not in leaves else
                      json.dumps(leaves[path], ensure_ascii=False, sort_keys=True)
                      for leaves in flat)
        present = [s for s in shown if s is not None]
        agree = max((present.count(s) for s in present), default=0)
        rows.append(FieldRow(path, shown, agree, valid))
    return rows


def canonical_value(value: Any) -> str:
    """A value as canonical JSON: what the aggregation methods compare for ``--schema``."""
    return json.dumps(plain(value), ensure_ascii=False, sort_keys=True)
