"""memories_magics: language models in Jupyter, reproducibly.

``%load_ext memories_magics`` registers the ``%%llm`` and ``%%compare`` magics. From Python,
``LoadModel`` and ``MultiModelInference`` (the seed API) run on the same engine and cache;
``embed`` and ``similar`` turn texts into vectors through it.
Nothing heavy is imported here: SDKs load on first use, so ``%load_ext`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .embedder import embed, similar
    from .frontends.api import LoadModel, MultiModelInference
    from .frontends.panel import panel

__all__ = ["LoadModel", "MultiModelInference", "__version__", "embed", "load_ipython_extension",
           "panel", "similar"]


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext memories_magics``."""
    from .frontends.magics import register

    register(ipython)


def __getattr__(name: str) -> Any:
    if name in ("LoadModel", "MultiModelInference"):
        from .frontends import api

        return getattr(api, name)
    if name in ("embed", "similar"):
        from . import embedder

        return getattr(embedder, name)
    if name == "panel":
        from .frontends.panel import panel

        return panel
    raise AttributeError(f"module 'memories_magics' has no attribute {name!r}")
