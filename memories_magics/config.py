"""model_config.json: the packaged defaults, merged with the user's file, resolved to ModelSpecs.

The user's file is ``$MEMORIES_MAGICS_CONFIG`` or, when that is unset,
``~/.config/memories_magics/model_config.json`` (if it exists). It has the packaged file's
shape and is merged over it key by key, so a user can add a model, change one parameter or
declare fallbacks without repeating the rest.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError, UnknownModelError

USER_CONFIG_ENV = "MEMORIES_MAGICS_CONFIG"
DEFAULT_MODEL_ENV = "MEMORIES_MAGICS_DEFAULT_MODEL"
DEFAULT_USER_CONFIG = Path("~/.config/memories_magics/model_config.json")
BUILTIN_PROVIDERS = ("openai", "anthropic", "cohere", "mistral", "deepseek", "local")
#: What a provider or model may be able to do (``supports_<name>`` in model_config.json).
CAPABILITIES = ("generation", "streaming", "function_calling", "logprobs", "vision", "schema",
                "embeddings")
#: What every provider's models can do unless model_config.json says otherwise: answering
#: prompts is the provider interface itself; ``"supports_generation": false`` marks an
#: embeddings-only model.
EVERY_PROVIDER = frozenset({"generation"})
#: A local model's ``vision_handler`` (the names of llama-cpp-python's server ``chat_format``)
#: and the class of ``llama_cpp.llama_chat_format`` that reads its images.
VISION_HANDLERS = {
    "llava-1-5": "Llava15ChatHandler", "llava-1-6": "Llava16ChatHandler",
    "obsidian": "ObsidianChatHandler", "moondream": "MoondreamChatHandler",
    "nanollava": "NanoLlavaChatHandler", "llama-3-vision-alpha": "Llama3VisionAlphaChatHandler",
    "minicpm-v-2.6": "MiniCPMv26ChatHandler", "qwen2.5-vl": "Qwen25VLChatHandler",
    "gemma4": "Gemma4ChatHandler", "mtmd": "MTMDChatHandler",
}


@dataclass(frozen=True)
class ModelSpec:
    """A model as the user addresses it (``alias``) and as its provider knows it (``name``)."""

    provider: str
    name: str
    alias: str | None = None
    type: str = "api"
    description: str = ""
    gguf: str | None = None
    #: A local model's multimodal projector (given as ``gguf`` is) and the chat handler
    #: family that reads its images (a key of :data:`VISION_HANDLERS`).
    clip_model_path: str | None = None
    vision_handler: str | None = None
    chat: bool = True
    max_length: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    #: Per-model capability overrides from model_config.json (``supports_<name>`` keys);
    #: a capability not listed here is the provider's default (see Engine.supports).
    capabilities: tuple[tuple[str, bool], ...] = ()
    price_in: float = 0.0
    price_out: float = 0.0
    fallbacks: tuple[str, ...] = field(default=())

    @property
    def model_id(self) -> str:
        """``provider:name``, the unambiguous id."""
        return f"{self.provider}:{self.name}"

    @property
    def label(self) -> str:
        """How output names the model: its alias, else its id."""
        return self.alias or self.model_id

    def capability(self, name: str) -> bool | None:
        """This model's own value for a capability, or None to use its provider's default."""
        return dict(self.capabilities).get(name)

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        """Estimated USD cost from the per-million-token prices in model_config.json."""
        return ((input_tokens or 0) * self.price_in + (output_tokens or 0) * self.price_out) / 1e6


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{origin}, line {exc.lineno} column {exc.colno}: {exc.msg}; "
                          "fix the JSON or unset " + USER_CONFIG_ENV) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a JSON object with a \"models\" key")
    from .config_schema import check  # pydantic, imported when a config is first read

    check(data, origin)
    return data


def _read(path: Path) -> str:
    """The text of the user's file; bytes that aren't UTF-8 are one line."""
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                          f"offset {exc.start}); save it as UTF-8 or unset "
                          f"{USER_CONFIG_ENV}") from None


def user_config_path() -> Path | None:
    """The user's config file, if one is configured or present at the default path."""
    explicit = os.environ.get(USER_CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{USER_CONFIG_ENV} points to {path}, which is not a file; "
                              "fix the path or unset the variable")
        return path
    default = DEFAULT_USER_CONFIG.expanduser()
    return default if default.is_file() else None


class Config:
    """The merged configuration with model lookup by alias or ``provider:model`` id."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.settings: dict[str, Any] = data.get("global_settings", {})
        fallbacks = data.get("fallbacks", {})
        self.models: dict[str, ModelSpec] = {
            alias: self._spec(alias, entry, fallbacks.get(alias, ()))
            for alias, entry in data.get("models", {}).items()
        }

    @classmethod
    def load(cls) -> Config:
        """Packaged model_config.json merged with the user's file (see module docstring)."""
        packaged = resources.files("memories_magics").joinpath("model_config.json")
        data = _parse(packaged.read_text("utf-8"), "packaged model_config.json")
        path = user_config_path()
        if path is not None:
            data = _deep_merge(data, _parse(_read(path), str(path)))
        return cls(data)

    @staticmethod
    def _spec(alias: str, entry: Any, fallbacks: Any) -> ModelSpec:
        if not isinstance(entry, dict) or "provider" not in entry:
            raise ConfigError(f"model_config.json: model {alias!r} needs at least a \"provider\" "
                              "(and usually a \"name\")")
        params = entry.get("config", {})
        pricing = entry.get("pricing", {})
        capabilities = {key.removeprefix("supports_"): bool(value)
                        for key, value in params.items()
                        if key.startswith("supports_") and value is not None}
        if entry.get("clip_model_path"):  # a projector sees, unless the file says it doesn't
            capabilities.setdefault("vision", True)
        return ModelSpec(
            provider=entry["provider"], name=entry.get("name", alias), alias=alias,
            type=entry.get("type", "local" if entry["provider"] == "local" else "api"),
            description=entry.get("description", ""), gguf=entry.get("gguf"),
            clip_model_path=entry.get("clip_model_path"),
            vision_handler=entry.get("vision_handler"),
            chat=entry.get("chat", True), max_length=params.get("max_length"),
            temperature=params.get("temperature"), top_p=params.get("top_p"),
            capabilities=tuple(capabilities.items()),
            price_in=float(pricing.get("input", 0.0)), price_out=float(pricing.get("output", 0.0)),
            fallbacks=tuple(fallbacks),
        )

    def known_ids(self) -> list[str]:
        """Every alias and ``provider:name`` id, for listings and suggestions."""
        return sorted({*self.models, *(spec.model_id for spec in self.models.values())})

    def default_model(self) -> str:
        """``$MEMORIES_MAGICS_DEFAULT_MODEL``, else global_settings.default_model, else smollm2."""
        return os.environ.get(DEFAULT_MODEL_ENV) or self.settings.get("default_model", "smollm2")

    def resolve(self, model_id: str, providers: tuple[str, ...] = BUILTIN_PROVIDERS) -> ModelSpec:
        """Find a model by alias, by ``provider:alias`` or ``provider:name``, or build one for
        any ``provider:model`` of a known provider (``local:/path/file.gguf`` included)."""
        model_id = model_id.strip()
        if model_id in self.models:
            return self.models[model_id]
        provider, sep, name = model_id.partition(":")
        if sep:
            for spec in self.models.values():
                if spec.provider == provider and name in (spec.name, spec.alias):
                    return spec
            if provider == "local" and not _looks_like_path(name):
                raise _unknown(model_id, self.known_ids())  # a typo of an alias, not a file
            if provider in providers and name:
                if provider == "local":
                    return ModelSpec(provider="local", name=name, type="local", gguf=name,
                                     description="GGUF file")
                return ModelSpec(provider=provider, name=name)
            if provider not in providers:
                raise UnknownModelError(
                    f"unknown provider {provider!r} in {model_id!r}; known providers: "
                    f"{', '.join(providers)}")
        raise _unknown(model_id, self.known_ids())


def _looks_like_path(name: str) -> bool:
    """Whether ``local:<name>`` names a file (``/m/x.gguf``, ``x.gguf``, ``~/x``), not an alias."""
    return name.endswith(".gguf") or "/" in name or os.sep in name or name.startswith("~")


def _unknown(model_id: str, known: list[str]) -> UnknownModelError:
    """The one error for a model nobody knows, with the close matches (magic and API alike)."""
    close = difflib.get_close_matches(model_id, known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return UnknownModelError(
        f"unknown model {model_id!r}; {hint}use provider:model (e.g. openai:gpt-4o-mini), "
        "local:/path/model.gguf, or see %llm models")
