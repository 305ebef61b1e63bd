"""LLMResult: what ``%%llm`` returns and ``-o VAR`` stores."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .config import ModelSpec
from .display.render import result_bundle
from .display.safe import extract_code
from .types import Request, Response


@dataclass
class LLMResult:
    """One model's answer with the request that produced it.

    ``str(result)`` is the answer's text; in a notebook it renders as the full MIME bundle.
    ``note`` says anything the user must know (e.g. which fallback answered and why).
    """

    response: Response
    spec: ModelSpec
    request: Request
    format: str = "markdown"
    note: str = ""
    #: Tool calls made on the way to this answer (``--tools``), in order.
    tool_steps: list[Any] = field(default_factory=list)
    #: True when the tool exchange came from the cache and no function was run.
    tools_replayed: bool = False

    @property
    def text(self) -> str:
        """The answer's text."""
        return self.response.text

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
    def value(self) -> Any:
        """The answer as data: parsed JSON for ``-f json`` (None if invalid), code for
        ``-f code``, else the text."""
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

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return result_bundle(self)
