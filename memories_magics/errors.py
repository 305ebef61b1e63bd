"""One exception hierarchy. Every message is one line that says what to do next.

The magics show ``MemoriesError`` messages without a traceback; anything else is a bug.
"""

from __future__ import annotations


class MemoriesError(Exception):
    """Base class: a problem the user can fix, described in one line."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: just the one line."""
        return [f"{type(self).__name__}: {self}"]


class ConfigError(MemoriesError):
    """model_config.json (packaged or the user's) is invalid."""


class UnknownModelError(MemoriesError):
    """A model id or provider that is not known; the message lists close matches."""


class MissingKeyError(MemoriesError):
    """A hosted provider was used without its API key variable set."""


class MissingDependencyError(MemoriesError):
    """An optional package (e.g. llama-cpp-python) is not installed."""


class ProviderError(MemoriesError):
    """The provider answered with an error or could not be reached.

    ``kind`` says which: ``status`` (an HTTP error status), ``event`` (an error event inside a
    stream), ``timeout``, ``connect`` (no connection), ``dropped`` (the connection broke
    after the server answered), ``response`` (an answer we can't read), ``sdk`` (anything
    else). ``detail`` is the server's own message; ``provider`` the provider's name.
    """

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None, kind: str = "sdk", provider: str = "",
                 detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.kind = kind
        self.provider = provider
        self.detail = detail or message


class CacheMissError(MemoriesError):
    """Replay mode found no cached answer for a request."""


class CacheError(MemoriesError):
    """The cache directory is unusable (corrupt, foreign, unwritable)."""


class UsageError(MemoriesError):
    """Bad magic options or input (unknown option, empty cell, undefined name)."""


class ContextFullError(UsageError):
    """The prompt (with a thread's history) does not fit the model's context: ``tokens``
    counted or estimated, ``limit`` the model's context length (either may be unknown)."""

    def __init__(self, message: str, tokens: int | None = None,
                 limit: int | None = None) -> None:
        super().__init__(message)
        self.tokens = tokens
        self.limit = limit


class StreamCutError(ProviderError):
    """A stream ended before the model finished (the partial text was already delivered)."""
