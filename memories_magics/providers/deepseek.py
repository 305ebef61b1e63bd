"""DeepSeek: the OpenAI wire format at its own endpoint, with its own key."""

from __future__ import annotations

from typing import Any

from ..types import Request
from .chat_format import schema_instruction, with_instruction
from .openai import OpenAIProvider


class DeepSeekProvider(OpenAIProvider):
    """``deepseek:<model>``; key ``DEEPSEEK_API_KEY``, endpoint ``DEEPSEEK_BASE_URL``."""

    name = "deepseek"
    key_env = "DEEPSEEK_API_KEY"
    base_url_env = "DEEPSEEK_BASE_URL"
    default_base_url = "https://api.deepseek.com"
    capabilities = frozenset({"streaming", "function_calling", "logprobs", "schema"})

    def _params(self, request: Request) -> dict[str, Any]:
        params = super()._params(request)
        if request.schema is not None:  # JSON mode, and the schema told in the system prompt
            params["response_format"] = {"type": "json_object"}
            params["messages"] = with_instruction(params["messages"],
                                                  schema_instruction(request.schema))
        return params
