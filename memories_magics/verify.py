"""Drift detection: ask a notebook's recorded prompts again, live, and compare with the record.

``%llm cache verify [--sample N]`` re-sends each recorded request exactly as recorded (cache
off, nothing written), then reports ``N same, M changed``: per changed answer a word diff
(``[-old-]{+new+}``, as ``git diff --word-diff`` writes it) and the provenance fields that
moved (the served snapshot behind a ``-latest`` alias, the SDK, the GGUF). A provider that
can't be asked (no key, no runtime) is one line, and the other records are still verified.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .diff import diff_ops
from .errors import MemoriesError, MissingDependencyError, MissingKeyError
from .types import Request

if TYPE_CHECKING:
    from .cache import ResponseCache
    from .engine import Engine

#: Provenance fields that differ on every recording, so their moving says nothing.
VOLATILE = frozenset({"recorded_at", "converted_from"})


@dataclass
class Check:
    """One recorded answer asked again: ``same``, ``changed`` or ``failed`` (with ``error``)."""

    model_id: str
    prompt: str
    status: str
    diff: str = ""
    moved: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    error: str = ""


def word_diff(before: str, after: str) -> str:
    """``before`` → ``after`` as one text with ``[-removed-]`` and ``{+added+}`` marks."""
    marks = {"equal": "{}", "delete": "[-{}-]", "insert": "{{+{}+}}"}
    return "".join(marks[op].format(text) for op, text in diff_ops(before, after))


def verify(engine: Engine, cache: ResponseCache, sample: int | None = None) -> list[Check]:
    """Re-ask ``sample`` recorded answers (all by default), chosen at random."""
    records = cache.records()
    if sample is not None and sample < len(records):
        records = random.sample(records, sample)
    unavailable: dict[str, str] = {}
    checks = []
    for record in records:
        checks.append(_check(engine, record, unavailable))
    return checks


def _check(engine: Engine, record: dict[str, Any], unavailable: dict[str, str]) -> Check:
    try:
        request = Request.from_record(record["request"])
    except ValueError as exc:
        return Check("?", "", "failed", error=f"unreadable record ({exc})")
    model_id = f"{request.provider}:{request.model}"
    check = Check(model_id, request.prompt, "failed")
    if request.provider in unavailable:
        check.error = unavailable[request.provider]
        return check
    try:
        spec = engine.model(model_id)
        fresh = engine.run(spec, request, cache="off")
    except (MissingKeyError, MissingDependencyError) as exc:
        unavailable[request.provider] = check.error = str(exc)
        return check
    except MemoriesError as exc:
        check.error = str(exc)
        return check
    if not fresh.complete or fresh.error:
        check.error = fresh.error or "the answer did not finish"
        return check
    recorded = record.get("provenance")
    before: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    after = dict(fresh.provenance)
    if request.provider == "local":  # the file now behind the name, not the recorded digest
        from .providers.local_runtime import chat_sha256

        after["gguf_sha256"] = chat_sha256(spec) or "not found"
    check.moved = {name: (before[name], after.get(name)) for name in sorted(before)
                   if name not in VOLATILE and before[name] != after.get(name)}
    same = fresh.text == record.get("text") and fresh.finish_reason == record.get("finish_reason")
    check.status = "same" if same else "changed"
    if not same:
        check.diff = word_diff(str(record.get("text")), fresh.text)
    return check


def report(checks: list[Check], where: str) -> str:
    """What ``%llm cache verify`` prints: the tally, then each change and each failure."""
    tally = {status: sum(c.status == status for c in checks)
             for status in ("same", "changed", "failed")}
    lines = [f"{tally['same']} same, {tally['changed']} changed"
             + (f", {tally['failed']} not verified" if tally["failed"] else "")
             + f" (of {len(checks)} recorded answers in {where}, asked again live)"]
    for check in checks:
        prompt = check.prompt if len(check.prompt) <= 60 else check.prompt[:59] + "…"
        if check.status == "changed":
            lines.append(f"changed: {check.model_id} {prompt!r}")
            lines.append("  " + check.diff.replace("\n", "\n  "))
        if check.moved:
            lines.append(f"  provenance moved ({check.model_id} {prompt!r}): " + "; ".join(
                f"{name} {old} → {new}" for name, (old, new) in check.moved.items()))
    errors: dict[str, str] = {}
    for check in checks:
        if check.status == "failed":
            errors.setdefault(check.model_id.split(":")[0], check.error)
    lines += [f"not verified: {provider}: {error}" for provider, error in errors.items()]
    return "\n".join(lines)
