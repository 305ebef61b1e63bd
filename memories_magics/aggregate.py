"""Combining several models' answers into one: consensus, voting, best_confidence.

- ``consensus``: for each answer, the mean similarity to every other answer, where similarity
  is difflib's ratio over the lowercased word sequences (0 = nothing shared, 1 = the same
  words in the same order). The answer with the highest mean wins; that mean is the
  agreement score.
- ``voting``: answers are normalised (lowercased, punctuation dropped, whitespace collapsed)
  and counted; the most frequent wins with score = votes / answers. A tie goes to the first
  tied model in the order given, and the explanation names the tie.
- ``best_confidence``: the mean token log-probability of each answer, where the provider
  returned log-probabilities (OpenAI, DeepSeek and Mistral are asked for them); the highest wins,
  score = exp(mean logprob), the geometric-mean token probability. If no answer has
  log-probabilities, consensus is used instead and the explanation says so.

Answers from failed models take no part.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from dataclasses import dataclass

from .vocabulary import AGGREGATION_METHODS
from .errors import UsageError

_PUNCTUATION = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class Candidate:
    """One model's answer as the aggregators see it."""

    label: str
    text: str
    logprobs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Aggregate:
    """The outcome: which candidate won (index into the candidates), how strongly, and why."""

    method: str
    winner: int | None
    score: float | None
    explanation: str
    text: str


def similarity(a: str, b: str) -> float:
    """difflib ratio over lowercased word sequences."""
    return difflib.SequenceMatcher(None, a.lower().split(), b.lower().split(),
                                   autojunk=False).ratio()


def normalise(text: str) -> str:
    """The form in which answers are counted as votes."""
    return " ".join(_PUNCTUATION.sub("", text.lower()).split())


def consensus(candidates: list[Candidate]) -> Aggregate:
    """The answer closest to all the others."""
    if len(candidates) == 1:
        return Aggregate("consensus", 0, 1.0, "only one answer", candidates[0].text)
    means = [sum(similarity(c.text, o.text) for j, o in enumerate(candidates) if j != i)
             / (len(candidates) - 1) for i, c in enumerate(candidates)]
    best = max(range(len(candidates)), key=lambda i: means[i])
    scores = ", ".join(f"{c.label} {m:.2f}" for c, m in zip(candidates, means))
    return Aggregate("consensus", best, means[best],
                     f"{candidates[best].label} agrees most with the others (mean word "
                     f"similarity: {scores})", candidates[best].text)


def voting(candidates: list[Candidate]) -> Aggregate:
    """The most frequent normalised answer."""
    votes = Counter(normalise(c.text) for c in candidates)
    top = max(votes.values())
    tied = [c for c in candidates if votes[normalise(c.text)] == top]
    # one entry per distinct answer, in the order given
    distinct = list(dict.fromkeys(normalise(c.text) for c in tied))
    winner = next(i for i, c in enumerate(candidates) if normalise(c.text) == distinct[0])
    explanation = f"{top} of {len(candidates)} answers agree"
    if len(distinct) > 1:
        names = ", ".join(c.label for c in tied)
        explanation = (f"tie at {top} vote(s) each between {names}; the first listed, "
                       f"{candidates[winner].label}, wins")
    return Aggregate("voting", winner, top / len(candidates), explanation,
                     candidates[winner].text)


def best_confidence(candidates: list[Candidate]) -> Aggregate:
    """The answer whose tokens the model was surest of (mean log-probability)."""
    scored = {i: sum(c.logprobs) / len(c.logprobs) for i, c in enumerate(candidates) if c.logprobs}
    if not scored:
        fallback = consensus(candidates)
        return Aggregate("best_confidence", fallback.winner, fallback.score,
                         "no model returned log-probabilities, so consensus decided: "
                         + fallback.explanation, fallback.text)
    best = max(scored, key=scored.__getitem__)
    missing = [c.label for i, c in enumerate(candidates) if i not in scored]
    note = f"; without log-probabilities: {', '.join(missing)}" if missing else ""
    return Aggregate("best_confidence", best, math.exp(scored[best]),
                     f"{candidates[best].label} has the highest mean token log-probability "
                     f"({scored[best]:.3f}){note}", candidates[best].text)


def aggregate(method: str, candidates: list[Candidate]) -> Aggregate | None:
    """Apply ``method``; None when no model answered."""
    functions = {"consensus": consensus, "voting": voting, "best_confidence": best_confidence}
    if method not in functions:
        raise UsageError(f"unknown aggregation {method!r}; use one of: "
                         f"{', '.join(AGGREGATION_METHODS)}")
    return functions[method](candidates) if candidates else None
