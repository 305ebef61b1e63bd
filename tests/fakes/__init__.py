"""Local fake LLM provider servers speaking the real wire formats (no network needed)."""

from .reply import DEFAULT_TEXT, Reply
from .server import FakeLLMServer, RecordedRequest

__all__ = ["DEFAULT_TEXT", "FakeLLMServer", "RecordedRequest", "Reply"]
