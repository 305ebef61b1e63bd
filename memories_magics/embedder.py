"""Texts to vectors: :func:`embed` and :func:`similar`, through the notebook's cache.

Each text is looked up in the cache (:mod:`.embed_cache`) by model, text and parameters, so
re-embedding a column asks only for the texts it has not seen; the rest go to the provider in
requests kept to its documented limits (:attr:`Provider.embed_limits`), each checked
(:func:`~.embedding.checked_vectors`) and recorded as it arrives (an interrupted run keeps
what was done). ``%llm usage`` counts the requests, the cached texts and the tokens.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .cache import check_mode
from .cache_folder import shown_path
from .config import ModelSpec
from .embed_cache import Vector, embed_request, embeddings_beside
from .embedding import INPUT_TYPES, batches, text_bytes
from .errors import CacheMissError, ProviderError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from .engine import Engine
    from .providers.base import Provider

#: The embedding model when none is named: global_settings.embed_model, else this one.
DEFAULT_EMBED_MODEL = "smollm2"
#: The largest text embedded (UTF-8 bytes): beyond any embedding model's context (embed-v4.0's
#: 128k tokens), and each text is stored in its record, which holds at most 8 MB.
MAX_TEXT_BYTES = 1_000_000


def texts_of(texts: Any, what: str = "texts") -> tuple[list[str], list[Any]]:
    """``texts`` (a list, tuple or pandas Series of strings) as a list of valid text and the
    labels to show them by (a Series' index, else positions); anything else is one line."""
    from .providers.call import valid_text

    if isinstance(texts, str):
        raise UsageError(f"{what} must be a list or pandas Series of strings, not one string; "
                         "wrap it: [text]")
    labels: list[Any]
    if hasattr(texts, "tolist") and hasattr(texts, "index") and getattr(texts, "ndim", 0) == 1:
        values, labels = list(texts.tolist()), list(texts.index)
    elif isinstance(texts, (list, tuple)):
        values, labels = list(texts), list(range(len(texts)))
    else:
        raise UsageError(f"{what} must be a list or pandas Series of strings, not "
                         f"{type(texts).__name__} (a DataFrame? pick a column: df['text'])")
    for label, value in zip(labels, values, strict=True):
        if not isinstance(value, str):
            raise UsageError(f"{what}[{label!r}] is {type(value).__name__}, not a string; "
                             "fill or drop it first (e.g. s.dropna().astype(str))")
        if not value:
            raise UsageError(f"{what}[{label!r}] is empty; an empty text has no embedding, "
                             "drop it first (e.g. s[s != ''])")
    valid = [valid_text(value) for value in values]
    for label, value in zip(labels, valid, strict=True):
        if len(value) > MAX_TEXT_BYTES // 4 and text_bytes(value) > MAX_TEXT_BYTES:
            raise UsageError(f"{what}[{label!r}] is {text_bytes(value):,} bytes, more than an "
                             f"embedding model reads ({MAX_TEXT_BYTES:,} at most); split it "
                             "into passages first")
    return valid, labels


def embedding_model(engine: Engine, model: str | None) -> ModelSpec:
    """The spec of ``model`` (default: global_settings.embed_model, else smollm2), which must
    be able to embed: else one line naming models that can."""
    return check_embeds(engine, engine.model(model or engine.config.settings.get("embed_model")
                                             or DEFAULT_EMBED_MODEL))


def check_embeds(engine: Engine, spec: ModelSpec) -> ModelSpec:
    """``spec`` if it can embed, else one line naming models that can."""
    if not engine.supports(spec, "embeddings"):
        able = [alias for alias, other in engine.config.models.items()
                if engine.supports(other, "embeddings")]
        raise UsageError(f"{spec.label} can't embed texts; use an embedding model such as "
                         f"{', '.join(able[:5]) or 'text-embedding-3-small'} "
                         "(smollm2 runs locally without a key)")
    return spec


def embed_texts(engine: Engine, spec: ModelSpec, texts: list[str], *,
                provider: Provider | None = None, input_type: str | None = None,
                cache: str | None = None) -> Vector:
    """The n × d float32 vectors of ``texts`` (checked, valid text) from ``spec``: cached
    ones from the cache, the others asked for in batches and recorded (cache mode ``use``
    reads and writes, ``refresh`` writes, ``off`` neither, ``replay`` only reads)."""
    from .providers.call import watched

    if not texts:
        raise UsageError("nothing to embed: the list is empty; give at least one text")
    if input_type is not None and input_type not in INPUT_TYPES:
        raise UsageError(f"input_type must be one of {', '.join(INPUT_TYPES)}, not "
                         f"{input_type!r}")
    mode = check_mode(cache or engine.cache_mode)
    provider = provider or engine.provider(spec.provider)
    params: dict[str, Any] = {"input_type": (input_type or "search_document")
                              if provider.embed_input_type else None}
    if spec.provider == "local":  # another file under the same name embeds differently
        from .providers.local_runtime import gguf_sha256

        params["gguf_sha256"] = gguf_sha256(spec)
    requests = [embed_request(spec.provider, spec.name, text, **params) for text in texts]
    by_text = dict(zip(texts, requests, strict=True))
    store = embeddings_beside(engine.cache()) if mode != "off" else None
    found: list[Vector | None] = (store.get(requests) if store and mode in ("use", "replay")
                                  else [None] * len(texts))
    missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
    _count(engine, spec, hits=len(texts) - sum(v is None for v in found))
    if missing and mode == "replay":
        raise CacheMissError(
            f"replay mode: {len(missing)} of {len(texts)} texts have no recorded embedding "
            f"from {spec.model_id} in {shown_path(engine.cache().directory)}; run once with "
            "cache mode use (%llm cache mode use) to record them")
    new: dict[str, Vector] = {}
    provenance = {"sdk": _sdk(provider), "memories_magics": __version__}
    for batch in batches(missing, provider.embed_limits):
        chunk = [missing[i] for i in batch]
        answer = watched(provider, partial(provider.embed, spec.name, chunk,
                                           params["input_type"]))
        _count(engine, spec, calls=1, tokens=answer.input_tokens or 0)
        new.update(zip(chunk, answer.vectors, strict=True))
        if store is not None and mode in ("use", "refresh"):
            stamp = {**provenance, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                time.gmtime())}
            store.put([by_text[t] for t in chunk], answer.vectors, stamp)
    vectors = [v if v is not None else new[t] for t, v in zip(texts, found, strict=True)]
    if len({v.shape[0] for v in vectors}) > 1:
        raise ProviderError(f"{spec.label}: the embeddings have several dimensions "
                            f"({', '.join(sorted({str(v.shape[0]) for v in vectors}))}); "
                            "re-record them with cache mode refresh", provider=spec.provider)
    return np.stack(vectors).astype(np.float32)


def _sdk(provider: Provider) -> str:
    from .providers.base import sdk_version

    return sdk_version(provider.sdk) if provider.sdk else provider.name


def _count(engine: Engine, spec: ModelSpec, *, calls: int = 0, hits: int = 0,
           tokens: int = 0) -> None:
    """Add to ``%llm usage``: requests, texts found in the cache, tokens embedded."""
    from .engine import ModelUsage

    with engine._usage_lock:
        totals = engine.usage.setdefault(spec.model_id, ModelUsage())
        totals.calls += calls
        totals.cache_hits += hits
        totals.input_tokens += tokens
        totals.cost_usd += spec.cost(tokens, 0)


def ranked(query_vector: Vector, vectors: Vector, texts: list[str], labels: list[Any],
           k: Any) -> pd.DataFrame:
    """The ``k`` texts closest to ``query_vector`` by cosine similarity: a DataFrame of
    text, score and rank (1 = closest), indexed by the texts' labels."""
    import pandas as pd

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise UsageError(f"k must be a whole number of at least 1, not {k!r}")
    norms = np.linalg.norm(vectors, axis=1) * float(np.linalg.norm(query_vector))
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(norms > 0, vectors @ query_vector / norms, 0.0)
    order = np.argsort(-scores, kind="stable")[:k]
    frame: pd.DataFrame = pd.DataFrame(
        {"text": [texts[i] for i in order], "score": [float(scores[i]) for i in order],
         "rank": list(range(1, len(order) + 1))}, index=pd.Index([labels[i] for i in order]))
    return frame


def embed(texts: Any, model: str | None = None, *, input_type: str | None = None,
          cache: str | None = None) -> Vector:
    """The embeddings of ``texts`` (a list or pandas Series of strings) as an n × d float32
    array, from ``model`` (default: the local smollm2, no key), cached in the notebook's
    cache. ``input_type`` is Cohere's (search_document, search_query, classification,
    clustering); ``cache`` a cache mode (default: the kernel's)."""
    from .engine import default_engine

    engine = default_engine()
    spec = embedding_model(engine, model)
    return embed_texts(engine, spec, texts_of(texts)[0], input_type=input_type, cache=cache)


def similar(query: str, texts: Any, k: int = 5, model: str | None = None, *,
            cache: str | None = None) -> pd.DataFrame:
    """The ``k`` of ``texts`` most similar to ``query`` by cosine similarity of their
    embeddings: a DataFrame of text, score and rank, indexed as ``texts`` is."""
    from .engine import default_engine

    if not isinstance(query, str) or not query:
        raise UsageError(f"the query must be a non-empty string, not {query!r:.60}")
    engine = default_engine()
    spec = embedding_model(engine, model)
    values, labels = texts_of(texts)
    vectors = embed_texts(engine, spec, values, input_type="search_document", cache=cache)
    (query_vector,) = embed_texts(engine, spec, texts_of([query], "query")[0],
                                  input_type="search_query", cache=cache)
    return ranked(query_vector, vectors, values, labels, k)
