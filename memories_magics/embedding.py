"""What an embeddings call is and what it must give back: the shared vocabulary of the
providers' ``embed`` and :mod:`.embedder`.

Every answer is checked here before it reaches a caller or the cache: one vector per text,
all of one dimension, numbers only, all finite. A server that breaks any of these is one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .errors import ProviderError

#: Cohere's ``input_type`` values: what a text is for. Other providers embed a text one way.
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")


class EmbedLimits(NamedTuple):
    """What one embeddings request may carry: at most ``max_texts`` texts and ``max_bytes``
    of UTF-8 text in all (a byte-level tokenizer makes at most one token per byte, so a byte
    budget is a token budget that needs no tokenizer)."""

    max_texts: int
    max_bytes: int


@dataclass(frozen=True)
class Embedded:
    """One request's answer: its vectors (n × d, float32) and the tokens it used."""

    vectors: np.ndarray[Any, np.dtype[np.float32]]
    input_tokens: int | None = None


def checked_vectors(raw: Any, count: int, who: str) -> np.ndarray[Any, np.dtype[np.float32]]:
    """``raw`` (the vectors a server sent for ``count`` texts) as an n × d float32 array, or
    a one-line :class:`ProviderError` saying what is wrong with it."""
    def bad(why: str) -> ProviderError:
        return ProviderError(f"{who}: the embeddings answer {why}; check the endpoint "
                             "(or its base URL) and retry", kind="response", provider=who)

    try:
        array = np.asarray(raw)
    except ValueError:  # ragged: vectors of several lengths
        raise bad("has vectors of different lengths") from None
    sent = len(raw) if isinstance(raw, (list, tuple)) else None
    if sent is not None and sent != count:
        raise bad(f"has {sent} vectors for {count} texts")
    if array.ndim != 2 or array.shape[0] != count:
        raise bad("is not a list of vectors")
    if array.shape[1] == 0:
        raise bad("has empty vectors")
    if array.dtype.kind not in "iuf":
        raise bad("holds values that are not numbers")
    with np.errstate(over="ignore"):  # too large for float32: inf, refused below
        vectors = array.astype(np.float32)
    if not np.isfinite(vectors).all():
        raise bad("holds NaN or infinite values (or numbers too large for float32)")
    return vectors


def text_bytes(text: str) -> int:
    """The UTF-8 size of ``text``, what :class:`EmbedLimits` counts."""
    return len(text.encode("utf-8"))


def batches(texts: list[str], limits: EmbedLimits) -> list[list[int]]:
    """Positions of ``texts`` in requests that keep to ``limits`` (a text larger than the
    byte budget goes alone: the server says whether it fits)."""
    out: list[list[int]] = []
    size = 0
    for position, text in enumerate(texts):
        length = text_bytes(text)
        if not out or len(out[-1]) >= limits.max_texts or size + length > limits.max_bytes:
            out.append([])
            size = 0
        out[-1].append(position)
        size += length
    return out
