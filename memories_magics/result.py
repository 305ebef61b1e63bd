"""LLMResult: what ``%%llm`` returns and ``-o VAR`` stores. Plain data: the renderers in
:mod:`memories_magics.display` are registered for it as IPython formatters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .code_blocks import extract_code
from .config import ModelSpec
from .schema import Checked, Schema
from .types import Request, Response, ToolStep


@dataclass
class LLMResult:
    """One model's answer with the request that produced it.

    ``str(result)`` is the answer's text; in a notebook it renders as the full MIME bundle.
    ``note`` says anything the user must know (e.g. which fallback answered and why).
    With ``schema`` (``--schema``), :attr:`value` is the validated object and :attr:`error`
    says why there is none.
    """

    response: Response
    spec: ModelSpec
    request: Request
    format: str = "markdown"
    note: str = ""
    schema: Schema | None = None

    @property
    def text(self) -> str:
        """The answer's text."""
        return self.response.text

    @property
    def tool_steps(self) -> tuple[ToolStep, ...]:
        """Tool calls made on the way to this answer (``--tools``), in order."""
        return self.response.tool_steps

    @property
    def tools_replayed(self) -> bool:
        """True when the tool exchange came from the cache and no function was run."""
        return self.response.cached and bool(self.response.tool_steps)

    @property
    def label(self) -> str:
        """How the model is named in output: its alias, else ``provider:model``."""
        return self.spec.label

    @property
    def cost_usd(self) -> float:
        """Estimated cost of the call that produced the answer (a cache hit costs nothing now)."""
        usage = self.response.usage
        return self.spec.cost(usage.input_tokens, usage.output_tokens)

    @property
    def error(self) -> str | None:
        """Why the answer is incomplete or does not match its schema (None when it is fine)."""
        return self.response.error

    @cached_property
    def checked(self) -> Checked | None:
        """The answer checked against :attr:`schema` (None without one)."""
        if self.schema is None:
            return None
        if not self.response.complete:
            return Checked(errors=(self.error or "the answer is incomplete",))
        return self.schema.check(self.text, self.response.finish_reason)

    @property
    def value(self) -> Any:
        """The answer as data: the validated object with ``--schema`` (None if it does not
        match), parsed JSON for ``-f json`` (None if invalid), code for ``-f code``, else
        the text."""
        if self.checked is not None:
            return self.checked.value
        if self.format == "json":
            code, _ = extract_code(self.text)
            try:
                return json.loads(code)
            except ValueError:
                return None
        if self.format == "code":
            return extract_code(self.text)[0]
        return self.text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"LLMResult({self.label!r}, {self.text[:60]!r}{'…' if len(self.text) > 60 else ''})"
