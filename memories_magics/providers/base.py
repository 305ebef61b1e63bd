"""What every provider shares: keys, base URLs, retries, and turning SDK errors into one line."""

from __future__ import annotations

import os
import threading
import time
from urllib.parse import urlsplit, urlunsplit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..config import Config
from ..errors import MemoriesError, MissingKeyError, ProviderError
from ..types import Chunk, Request, Response

#: Every key value this process has seen, so that no message can carry one (see :func:`redact`).
_KNOWN_SECRETS: set[str] = set()


def redact(text: str) -> str:
    """Replace every API key this process knows of with ``***``."""
    for secret in _KNOWN_SECRETS:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class Provider:
    """Base class for providers: subclasses set the class attributes and implement
    :meth:`_make_client`, :meth:`complete` and :meth:`stream`.

    ``api_key`` given here wins over the environment variable ``key_env``; the base URL comes
    from ``base_url_env`` (e.g. ``OPENAI_BASE_URL``) or ``default_base_url``. Both are read
    on every call, so ``%env OPENAI_BASE_URL=...`` takes effect at once. ``config`` supplies
    the global settings (timeout_s, max_retries).
    """

    name: str = ""
    key_env: str | None = None
    alt_key_envs: tuple[str, ...] = ()
    base_url_env: str | None = None
    default_base_url: str | None = None
    #: One-line ``pip install`` hint for the SDK.
    package_hint: str = ""
    #: Whether the provider returns token log-probabilities when asked (best_confidence).
    supports_logprobs: bool = False

    def __init__(self, config: Config, api_key: str | None = None) -> None:
        self.config = config
        self._explicit_key = api_key
        if api_key:
            _KNOWN_SECRETS.add(api_key)
        self._client: Any = None
        self._client_for: tuple[str, str | None] | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} key={'set' if self.has_key() else 'missing'}>"

    # -- credentials and endpoints -------------------------------------------------------
    def has_key(self) -> bool:
        """Whether a key is available (always true for providers that need none)."""
        return self.key_env is None or bool(self._find_key())

    def _find_key(self) -> str | None:
        if self._explicit_key:
            return self._explicit_key
        for env in (self.key_env, *self.alt_key_envs):
            if env and os.environ.get(env):
                return os.environ[env]
        return None

    def api_key(self) -> str:
        """The key to use, or a :class:`MissingKeyError` naming the variable to set."""
        key = self._find_key()
        if not key:
            raise MissingKeyError(
                f"{self.name}: no API key; set {self.key_env} (e.g. %env {self.key_env}=...) "
                "or use the keyless local model with %llm use local:smollm2")
        _KNOWN_SECRETS.add(key)
        return key

    def base_url(self) -> str | None:
        """``$<PROVIDER>_BASE_URL`` or the provider's default endpoint."""
        url = os.environ.get(self.base_url_env or "") or self.default_base_url or None
        if url:  # a gateway's password or token in the URL is a secret too
            parts = urlsplit(url)
            _KNOWN_SECRETS.update(s for s in (parts.password, parts.username, parts.query) if s)
        return url

    def shown_base_url(self) -> str:
        """The endpoint for messages: without user, password or query."""
        url = self.base_url()
        if not url:
            return "the default endpoint"
        parts = urlsplit(url)
        host = (parts.hostname or "") + ("" if parts.port is None else f":{parts.port}")
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    def setting(self, name: str, default: Any) -> Any:
        """A global setting from model_config.json (``timeout_s``, ``max_retries``)."""
        return self.config.settings.get(name, default)

    def client(self) -> Any:
        """The SDK client, built on first use (so importing the SDK costs nothing until then)
        and rebuilt when the key or base URL changes."""
        with self._client_lock:
            wanted = (self.api_key(), self.base_url())
            if self._client is None or self._client_for != wanted:
                self._client = self._make_client()
                self._client_for = wanted
            return self._client

    def _make_client(self) -> Any:
        raise NotImplementedError

    # -- the interface -------------------------------------------------------------------
    def complete(self, request: Request) -> Response:
        """One blocking call; the Response's timing is filled in by the engine."""
        raise NotImplementedError

    def stream(self, request: Request) -> Iterator[Chunk]:
        """Yield chunks as they arrive; the last one carries the finish reason and usage."""
        raise NotImplementedError

    # -- errors --------------------------------------------------------------------------
    @contextmanager
    def sdk_errors(self) -> Iterator[None]:
        """Turn any SDK exception into a one-line :class:`ProviderError` (keys redacted)."""
        try:
            yield
        except (MemoriesError, KeyboardInterrupt, GeneratorExit):
            raise
        except ImportError as exc:
            raise ProviderError(f"{self.name}: the SDK is not installed ({exc}); "
                                f"run: {self.package_hint}") from None
        except Exception as exc:  # noqa: BLE001 - every SDK has its own hierarchy
            raise ProviderError(self._describe(exc), status=_status_of(exc),
                                retry_after=_retry_after_of(exc)) from None

    def retry_before_first_chunk(self, open_stream: Callable[[], Iterator[Chunk]]
                                 ) -> Iterator[Chunk]:
        """For SDKs that retry plain calls but not streams (Cohere's): retry 408, 409, 429
        and 5xx answers that come before anything streamed, with the same bound
        (``max_retries``) and Retry-After or exponential backoff (0.5 s, 1 s, ...)."""
        attempts = int(self.setting("max_retries", 2))
        for attempt in range(attempts + 1):
            started = False
            try:
                for chunk in open_stream():
                    started = True
                    yield chunk
                return
            except ProviderError as exc:
                retryable = exc.status is not None and (exc.status >= 500 or
                                                        exc.status in (408, 409, 429))
                if started or attempt == attempts or not retryable:
                    raise
                time.sleep(exc.retry_after if exc.retry_after is not None else 0.5 * 2 ** attempt)

    def _describe(self, exc: Exception) -> str:
        status = _status_of(exc)
        message = _message_of(exc)
        if status is not None:
            hint = {401: f"check {self.key_env}", 403: f"check {self.key_env}",
                    404: "check the model name (see %llm models)",
                    429: "rate limited; wait and re-run"}.get(status, "")
            text = f"{self.name}: HTTP {status}: {message}" + (f" ({hint})" if hint else "")
        elif "timeout" in type(exc).__name__.lower():
            text = (f"{self.name}: timed out after {self.setting('timeout_s', 60)} s; raise "
                    "global_settings.timeout_s in model_config.json or retry")
        elif "connect" in type(exc).__name__.lower() or "connect" in message.lower():
            text = (f"{self.name}: could not connect to {self.shown_base_url()}; check the network or "
                    f"{self.base_url_env}")
        else:
            text = f"{self.name}: {type(exc).__name__}: {message}"
        return redact(" ".join(text.split()))


def _status_of(exc: Exception) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "raw_response", None) or getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def _retry_after_of(exc: Exception) -> float | None:
    response = getattr(exc, "response", None) or getattr(exc, "raw_response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "headers", None) or {}
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


def _message_of(exc: Exception) -> str:
    """The provider's own message from the error body, else the exception text."""
    body = getattr(exc, "body", None)
    if isinstance(body, str):
        try:
            import json

            body = json.loads(body)
        except ValueError:
            return body[:300]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("message"):
            return str(body["message"])
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
