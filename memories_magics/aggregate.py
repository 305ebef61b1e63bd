"""Combining several models' answers into one: consensus, voting, best_confidence.

- ``consensus``: for each answer, the mean similarity to every other answer, where similarity
  is rapidfuzz's normalised Indel similarity over the lowercased word sequences (2 × the
  longest common subsequence of words / the total number of words: 0 = nothing shared, 1 =
  the same words in the same order; bit-parallel, so two 100 KB answers take milliseconds).
  The answer with the highest mean wins; that mean is the agreement score.
- ``voting``: answers are normalised (lowercased, punctuation dropped, whitespace collapsed)
  and counted; the most frequent wins with score = votes / answers.
- ``best_confidence``: the mean token log-probability of each answer, where the provider
  returned log-probabilities (OpenAI, DeepSeek and Mistral are asked for them); the highest wins,
  score = exp(mean logprob), the geometric-mean token probability. If no answer has
  log-probabilities, consensus is used instead and the explanation says so.

When the best score is shared (two answers are always equally close to each other), there is
no winner: ``winner`` is None, the explanation names the tie and the text is empty. Answers
from failed models take no part.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from rapidfuzz.distance import Indel

from .errors import UsageError
from .vocabulary import AGGREGATION_METHODS

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


#: Scores closer than this are equal (a tie).
TIE_TOLERANCE = 1e-9


def similarity(a: str, b: str) -> float:
    """Normalised Indel similarity (rapidfuzz) of the lowercased word sequences."""
    return float(Indel.normalized_similarity(a.lower().split(), b.lower().split()))


def _pick(method: str, candidates: list[Candidate], scores: dict[int, float], score: float,
          won: str, detail: str) -> Aggregate:
    """The candidate with the best of ``scores``, explained by ``won`` (``{winner}`` is its
    label), or no winner when several share the best (explained by ``detail``)."""
    best = max(scores, key=scores.__getitem__)
    tied = [i for i in scores if scores[best] - scores[i] <= TIE_TOLERANCE]
    if len(tied) > 1:
        names = ", ".join(candidates[i].label for i in tied)
        return Aggregate(method, None, score, f"tie between {names}, so no winner ({detail})",
                         "")
    return Aggregate(method, best, score, won.format(winner=candidates[best].label),
                     candidates[best].text)


def normalise(text: str) -> str:
    """The form in which answers are counted as votes."""
    return " ".join(_PUNCTUATION.sub("", text.lower()).split())


def consensus(candidates: list[Candidate]) -> Aggregate:
    """The answer closest to all the others."""
    if len(candidates) == 1:
        return Aggregate("consensus", 0, 1.0, "only one answer", candidates[0].text)
    count = len(candidates)
    pairs = {(i, j): similarity(candidates[i].text, candidates[j].text)
             for i in range(count) for j in range(i + 1, count)}  # each pair once
    means = {i: sum(v for pair, v in pairs.items() if i in pair) / (count - 1)
             for i in range(count)}
    detail = "mean word similarity: " + ", ".join(f"{c.label} {means[i]:.2f}"
                                                  for i, c in enumerate(candidates))
    return _pick("consensus", candidates, means, max(means.values()),
                 "{winner} agrees most with the others (" + detail + ")", detail)


def voting(candidates: list[Candidate]) -> Aggregate:
    """The most frequent normalised answer."""
    forms = [normalise(c.text) for c in candidates]
    votes = Counter(forms)
    first = {form: forms.index(form) for form in votes}  # each distinct answer's first model
    top = max(votes.values())
    agree = f"{top} of {len(candidates)} answers agree"
    return _pick("voting", candidates, {i: float(votes[f]) for f, i in first.items()},
                 top / len(candidates), agree, agree)


def best_confidence(candidates: list[Candidate]) -> Aggregate:
    """The answer whose tokens the model was surest of (mean log-probability)."""
    scored = {i: sum(c.logprobs) / len(c.logprobs) for i, c in enumerate(candidates) if c.logprobs}
    if not scored:
        fallback = consensus(candidates)
        return Aggregate("best_confidence", fallback.winner, fallback.score,
                         "no model returned log-probabilities, so consensus decided: "
                         + fallback.explanation, fallback.text)
    top = max(scored.values())
    missing = [c.label for i, c in enumerate(candidates) if i not in scored]
    note = f"; without log-probabilities: {', '.join(missing)}" if missing else ""
    detail = f"mean token log-probability {top:.3f}{note}"
    return _pick("best_confidence", candidates, scored, math.exp(top),
                 f"{{winner}} has the highest mean token log-probability ({top:.3f}){note}",
                 detail)


def aggregate(method: str, candidates: list[Candidate]) -> Aggregate | None:
    """Apply ``method``; None when no model answered."""
    functions = {"consensus": consensus, "voting": voting, "best_confidence": best_confidence}
    if method not in functions:
        raise UsageError(f"unknown aggregation {method!r}; use one of: "
                         f"{', '.join(AGGREGATION_METHODS)}")
    return functions[method](candidates) if candidates else None
