"""The shape of model_config.json, checked with pydantic: a file of the wrong shape is one
line naming the file, the key and what it should be (:func:`check`).

Every key is optional here because the user's file is merged over the packaged one key by
key (a user may change one parameter of a model); keys we don't know are allowed, so a newer
file still loads.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from .config import VISION_HANDLERS
from .errors import ConfigError


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ModelParams(_Open):
    """A model's ``config``: its context and sampling defaults, ``supports_<capability>``
    (``supports_generation: false``: an embeddings-only model, refused by ``%%llm``)."""

    max_length: PositiveInt | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    supports_generation: StrictBool | None = None
    supports_streaming: StrictBool | None = None
    supports_function_calling: StrictBool | None = None
    supports_logprobs: StrictBool | None = None
    supports_vision: StrictBool | None = None
    supports_schema: StrictBool | None = None
    supports_embeddings: StrictBool | None = None


class Pricing(_Open):
    """USD per million tokens."""

    input: NonNegativeFloat = 0.0
    output: NonNegativeFloat = 0.0


class ModelEntry(_Open):
    """One entry of ``models``."""

    provider: str | None = None
    name: str | None = None
    type: str | None = None
    description: str = ""
    gguf: str | None = None
    clip_model_path: str | None = None
    vision_handler: str | None = None
    chat: StrictBool = True
    config: ModelParams = ModelParams()
    pricing: Pricing = Pricing()

    @field_validator("vision_handler")
    @classmethod
    def _known_handler(cls, name: str | None) -> str | None:
        if name is not None and name not in VISION_HANDLERS:
            raise ValueError(f"{name!r} is not a handler family we know; use one of "
                             f"{', '.join(VISION_HANDLERS)}")
        return name

    @model_validator(mode="after")
    def _vision(self) -> ModelEntry:
        """A projector needs its handler family and a local chat model, and the other way."""
        if (self.clip_model_path is None) != (self.vision_handler is None):
            raise ValueError("clip_model_path and vision_handler go together: give the mmproj "
                             f".gguf and its handler family (one of {', '.join(VISION_HANDLERS)})")
        if self.clip_model_path is not None and (self.provider not in (None, "local")
                                                 or not self.chat):
            raise ValueError("clip_model_path is for local chat models only")
        return self


class Settings(_Open):
    """``global_settings``."""

    default_model: str | None = None
    embed_model: str | None = None
    max_tokens: PositiveInt | None = None
    timeout_s: PositiveFloat = 60
    max_retries: NonNegativeInt = 2
    cache_mode: str = "use"
    max_tool_rounds: PositiveInt = 4


class ConfigFile(_Open):
    """A whole model_config.json."""

    models: dict[str, ModelEntry] = {}
    fallbacks: dict[str, list[str]] = {}
    global_settings: Settings = Settings()


def check(data: dict[str, Any], origin: str) -> None:
    """A :class:`ConfigError` naming ``origin``, the first wrong key and what it should be,
    when ``data`` is not a model_config.json."""
    try:
        ConfigFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "the top level"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        got = first.get("input")
        shown = type(got).__name__ if isinstance(got, (dict, list)) else repr(got)[:60]
        if first["type"] == "value_error":  # our own validators' sentences
            said = f": {first['msg'].removeprefix('Value error, ')}"
        else:
            should = re.sub(r" or instance of \w+", "", first["msg"].split(",")[0])
            said = f" {should.replace('Input should', 'should')}, not {shown}"
        raise ConfigError(f"{origin}: {key}{said}{more}; fix the file or unset "
                          "MEMORIES_MAGICS_CONFIG") from None
