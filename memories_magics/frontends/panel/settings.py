"""What the panel's controls say, as data: the models, the prompt and every option's value,
written as the equivalent ``%%llm`` / ``%%compare`` cell or built into the request that cell
would send. Both come from the options' one declaration (:mod:`memories_magics.options`), so a
new option in vocabulary.json needs nothing here."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...config import ModelSpec
from ...engine import Engine
from ...errors import UsageError
from ...options import OPTIONS, option_words
from ...types import Request
from ..run_live import request_for


@dataclass(frozen=True)
class Settings:
    """A snapshot of the panel's choices. ``values`` maps option names to checked values
    (None: unset, the model's or the notebook's default)."""

    models: tuple[str, ...]
    prompt: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def compare(self) -> bool:
        """Several models: a ``%%compare``."""
        return len(self.models) > 1

    @property
    def magic(self) -> str:
        """``"compare"`` or ``"llm"``: the cell these settings make."""
        return "compare" if self.compare else "llm"

    def value(self, name: str) -> Any:
        """Option ``name``'s value, else its declared default."""
        value = self.values.get(name)
        return OPTIONS[name].default if value is None else value

    def options(self) -> dict[str, Any]:
        """The values of the options this magic takes (as its parsed arguments would be)."""
        return {name: self.value(name) for name, option in OPTIONS.items()
                if self.magic in option.magics}

    def cell(self) -> str:
        """The equivalent ``%%llm`` / ``%%compare`` cell (only non-default options); the
        prompt is written as typed, so ``{expr}`` is interpolated by the cell as here."""
        if not self.models:
            raise UsageError("choose a model in the picker first")
        words = [f"%%{self.magic}", *map(shlex.quote, self.models),
                 *option_words(self.magic, self.options())]
        return " ".join(words) + "\n" + self.prompt.strip()

    def request(self, engine: Engine, spec: ModelSpec, prompt: str) -> Request:
        """The request the cell sends to ``spec`` (same cache key)."""
        return request_for(engine, spec, prompt, self.options())
