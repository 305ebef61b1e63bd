"""What a model can do, as every front end asks it: :class:`Capabilities`, the engine's
capability lookup and its one-line refusals (a model that can't answer prompts, call tools,
be held to a schema or see images), checked before any request is sent."""

from __future__ import annotations

from .config import EVERY_PROVIDER, ModelSpec
from .errors import UsageError


class Capabilities:
    """The capability lookup and checks of :class:`~memories_magics.engine.Engine`. A model
    that can't answer prompts is refused by :meth:`check_generates` first, whatever else
    the cell asks of it."""

    def supports(self, spec: ModelSpec, capability: str) -> bool:
        """Whether ``spec`` can do ``capability`` (see config.CAPABILITIES):
        model_config.json's per-model value, else its provider's default."""
        from .providers import provider_class

        override = spec.capability(capability)
        if override is not None:
            return override
        return capability in EVERY_PROVIDER or capability in \
            provider_class(spec.provider).capabilities

    def check_generates(self, spec: ModelSpec) -> None:
        """A one-line :class:`UsageError` when ``spec`` can't answer prompts (an embeddings
        model: ``supports_generation`` is false for it in model_config.json)."""
        if self.supports(spec, "generation"):
            return
        if self.supports(spec, "embeddings"):
            raise UsageError(f"{spec.label} is an embeddings model: use "
                             "memories_magics.embed(...) or %llm embed; for %%llm pick a chat "
                             "model such as gpt-4o-mini or smollm2")
        raise UsageError(f"{spec.label} can't answer prompts (supports_generation is false for "
                         "it in model_config.json); pick a chat model such as gpt-4o-mini or "
                         "smollm2")

    def _require(self, spec: ModelSpec, capability: str, cannot: str, instead: str) -> None:
        """A one-line :class:`UsageError` (``spec`` ``cannot``, use ``instead``) when ``spec``
        lacks ``capability``; an embeddings model is :meth:`check_generates`' line."""
        self.check_generates(spec)
        if not self.supports(spec, capability):
            raise UsageError(f"{spec.label} {cannot} (supports_{capability} is false for it in "
                             f"model_config.json); use {instead}")

    def check_tools(self, spec: ModelSpec) -> None:
        """A one-line :class:`UsageError` when ``spec`` can't call tools."""
        self._require(spec, "function_calling", "can't call tools",
                      "a model such as gpt-4o-mini or claude-haiku")

    def check_schema(self, spec: ModelSpec, tools: object = None) -> None:
        """A one-line :class:`UsageError` when ``spec`` can't be held to a schema (or tools
        are asked for too)."""
        self._require(spec, "schema", "can't be held to a schema",
                      "a model such as smollm2 or gpt-4o-mini")
        if tools:
            raise UsageError("--schema and --tools can't be used in one cell: ask with --tools "
                             "first, then extract with --schema from its answer")

    def check_vision(self, spec: ModelSpec) -> None:
        """A one-line :class:`UsageError` when ``spec`` can't see images."""
        local = ", or a local GGUF with a clip_model_path" if spec.provider == "local" else ""
        self._require(spec, "vision", "can't see images",
                      f"a vision model such as gpt-4o-mini or claude-haiku{local}")
