"""The panel's history: this session's runs, re-opened from the cache without calling a
provider (a run that was never cached, stopped or with the cache off, is shown as it was)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...engine import Engine
from ...result import LLMResult
from .settings import Settings

#: The history menu's value that means "no run chosen".
NO_RUN = -1
_PROMPT_PREVIEW = 40


@dataclass
class HistoryEntry:
    """One run of a panel: its settings, the interpolated prompt and what it showed."""

    when: datetime
    settings: Settings
    prompt: str
    result: Any

    @property
    def label(self) -> str:
        """``12:03:04 · smollm2, gemma · The tide comes in…`` (what the history menu shows)."""
        preview = " ".join(self.prompt.split())
        if len(preview) > _PROMPT_PREVIEW:
            preview = preview[:_PROMPT_PREVIEW - 1] + "…"
        return f"{self.when:%H:%M:%S} · {', '.join(self.settings.models)} · {preview}"


class History:
    """A panel's runs, oldest first."""

    def __init__(self) -> None:
        self.entries: list[HistoryEntry] = []

    def add(self, settings: Settings, prompt: str, result: Any) -> None:
        """Remember a run that showed ``result``."""
        self.entries.append(HistoryEntry(datetime.now(), settings, prompt, result))

    def menu(self) -> list[tuple[str, int]]:
        """The history menu's ``(label, index)`` options."""
        if not self.entries:
            return [("no runs yet", NO_RUN)]
        return [("earlier runs…", NO_RUN), *((e.label, i) for i, e in enumerate(self.entries))]

    def reopen(self, engine: Engine, index: int) -> tuple[Any, bool]:
        """Run ``index``'s result rebuilt from the cache, and whether any of it was missing
        there (then that part is the result as it was shown)."""
        entry = self.entries[index]
        cache = engine.cache()
        settings = entry.settings
        if not settings.compare:
            old = entry.result
            hit = cache.get(old.request)
            if hit is None:
                return old, True
            return LLMResult(hit, old.spec, old.request, old.format, old.note), False
        from ...compare import ModelOutcome, summarise

        outcomes = []
        for was in entry.result.outcomes:
            outcome = ModelOutcome(was.spec, was.request)
            hit = cache.get(was.request)
            if hit is not None:
                outcome.result = LLMResult(hit, was.spec, was.request, settings.value("format"))
            else:
                outcome.result, outcome.error = was.result, was.error
            outcomes.append(outcome)
        result = summarise(entry.prompt, outcomes, settings.value("aggregate"),
                           settings.value("diff"))
        missed = any(o.result is not None and not o.result.response.cached for o in outcomes)
        return result, missed
