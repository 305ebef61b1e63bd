"""DeepSeek: the OpenAI wire format at its own endpoint, with its own key."""

from __future__ import annotations

from .openai import OpenAIProvider


class DeepSeekProvider(OpenAIProvider):
    """``deepseek:<model>``; key ``DEEPSEEK_API_KEY``, endpoint ``DEEPSEEK_BASE_URL``."""

    name = "deepseek"
    key_env = "DEEPSEEK_API_KEY"
    base_url_env = "DEEPSEEK_BASE_URL"
    default_base_url = "https://api.deepseek.com"
    capabilities = frozenset({"streaming", "function_calling", "logprobs", "schema"})
