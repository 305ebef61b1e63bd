"""The provider registry.

Built-in providers register here by import path, so no SDK is imported until a provider is
used. Third-party packages add providers through the ``memories_magics.providers`` entry-point
group; each entry point names a :class:`~memories_magics.providers.base.Provider` subclass::

    [project.entry-points."memories_magics.providers"]
    myprovider = "my_package.provider:MyProvider"
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING

from ..errors import UnknownModelError

if TYPE_CHECKING:
    from .base import Provider

ENTRY_POINT_GROUP = "memories_magics.providers"

_BUILTINS: dict[str, str] = {
    "openai": "memories_magics.providers.openai:OpenAIProvider",
    "deepseek": "memories_magics.providers.deepseek:DeepSeekProvider",
    "anthropic": "memories_magics.providers.anthropic:AnthropicProvider",
    "cohere": "memories_magics.providers.cohere:CohereProvider",
    "mistral": "memories_magics.providers.mistral:MistralProvider",
    "local": "memories_magics.providers.local:LocalProvider",
}
_registered: dict[str, type[Provider] | str] = dict(_BUILTINS)
_lock = threading.Lock()
_entry_points_loaded = False


def register_provider(name: str, provider: type[Provider] | str) -> None:
    """Register a Provider subclass (or its ``module:Class`` path) under ``name``."""
    with _lock:
        _registered[name] = provider


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        _registered.setdefault(entry.name, entry.value)


def provider_names() -> tuple[str, ...]:
    """Every registered provider name, built-ins first."""
    _load_entry_points()
    return tuple(_registered)


def provider_class(name: str) -> type[Provider]:
    """The Provider class for ``name``, importing its module on first use."""
    if name not in _registered:
        _load_entry_points()
    target = _registered.get(name)
    if target is None:
        raise UnknownModelError(f"unknown provider {name!r}; known providers: "
                                f"{', '.join(provider_names())}")
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
        _registered[name] = target
    return target
