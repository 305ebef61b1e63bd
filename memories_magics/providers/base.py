"""What every provider shares: keys, base URLs, retries, and turning SDK errors into one line."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..config import Config, ModelSpec
from ..embedding import Embedded, EmbedLimits
from ..errors import MemoriesError, MissingKeyError, ProviderError
from ..secrets import Secret, redact, remember_url
from ..types import Chunk, ImageLimits, Request, Response
from . import watch


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
    #: The SDK's distribution name, whose version goes into each answer's provenance.
    sdk: str = ""
    #: The host the SDK calls when no base URL is set.
    default_host: str = ""
    #: What every model of this provider can do (see config.CAPABILITIES); model_config.json
    #: may override it per model with ``supports_<capability>``.
    capabilities: frozenset[str] = frozenset({"streaming"})
    #: What one image may be when sent (with ``vision``): the longest side we size it down to,
    #: the largest PNG, the most images per request. Each provider documents its own.
    image_limits: ImageLimits = ImageLimits(max_side=2048, max_bytes=20_000_000, max_images=20)
    #: Whether ``timeout_s`` bounds each whole call (see :mod:`.watch`); False for providers
    #: that compute the answer here rather than wait for a server.
    bounded_by_timeout: bool = True
    #: What one embeddings request may carry (with ``embeddings``); each provider documents
    #: its own. ``embed_input_type``: whether its embeddings take Cohere's ``input_type``.
    embed_limits: EmbedLimits = EmbedLimits(max_texts=96, max_bytes=100_000)
    embed_input_type: bool = False

    def __init__(self, config: Config, api_key: str | Secret | None = None) -> None:
        self._explicit_key = Secret.of(api_key)  # first: a traceback from here prints ***
        self.config = config
        self._client: Any = None
        self._client_for: tuple[Secret, str | None] | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} key={'set' if self.has_key() else 'missing'}>"

    # -- credentials and endpoints -------------------------------------------------------
    def has_key(self) -> bool:
        """Whether a key is available (always true for providers that need none)."""
        return self.key_env is None or bool(self._find_key())

    def _find_key(self) -> Secret | None:
        if self._explicit_key:
            return self._explicit_key
        for env in (self.key_env, *self.alt_key_envs):
            if env and os.environ.get(env):
                return Secret(os.environ[env])
        return None

    def api_key(self) -> Secret:
        """The key to use (``.reveal()`` it for the SDK), or a :class:`MissingKeyError` naming
        the variable to set."""
        key = self._find_key()
        if not key:
            raise MissingKeyError(
                f"{self.name}: no API key; set {self.key_env} (e.g. %env {self.key_env}=...) "
                "or use the keyless local model with %llm use local:smollm2")
        return key

    def base_url(self) -> str | None:
        """``$<PROVIDER>_BASE_URL`` or the provider's default endpoint."""
        url = os.environ.get(self.base_url_env or "") or self.default_base_url or None
        if url:  # a gateway's password or token in the URL is a secret too
            remember_url(url)
        return url

    def shown_base_url(self) -> str:
        """The endpoint for messages: without user, password or query."""
        url = self.base_url()
        if not url:
            return "the default endpoint"
        parts = urlsplit(url)
        host = (parts.hostname or "") + ("" if parts.port is None else f":{parts.port}")
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    def provenance(self, request: Request) -> dict[str, str]:
        """Where this provider's answer to ``request`` comes from: the SDK and its version
        and the endpoint's host (never its path, user, password or query)."""
        out = {"sdk": sdk_version(self.sdk)} if self.sdk else {}
        url = self.base_url()
        try:
            parts = urlsplit(url) if url else None
            host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "") \
                if parts else self.default_host
        except ValueError:  # a port that is not a number
            host = ""
        if host:
            out["host"] = host
        return out

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

    @classmethod
    def check_spec(cls, spec: ModelSpec) -> None:
        """A one-line error when ``spec`` can't be a model of this provider (checked when
        the model is named, before any call); the base accepts every spec."""

    @staticmethod
    def http_hooks() -> dict[str, list[Any]]:
        """The event hooks every SDK's HTTP client gets (whole-call deadline, HTML answers)."""
        return watch.event_hooks()

    # -- the interface -------------------------------------------------------------------
    def complete(self, request: Request) -> Response:
        """One blocking call; the Response's timing is filled in by the engine."""
        raise NotImplementedError

    def stream(self, request: Request) -> Iterator[Chunk]:
        """Yield chunks as they arrive; the last one carries the finish reason and usage."""
        raise NotImplementedError

    def embed(self, model: str, texts: list[str], input_type: str | None) -> Embedded:
        """One embeddings request for ``texts`` (within :attr:`embed_limits`), checked
        with :func:`~memories_magics.embedding.checked_vectors`."""
        raise NotImplementedError

    # -- errors --------------------------------------------------------------------------
    @contextmanager
    def sdk_errors(self) -> Iterator[None]:
        """Turn any SDK exception into a one-line :class:`ProviderError` (keys redacted),
        classified by the SDK's and the transport's exception classes."""
        try:
            yield
        except (MemoriesError, KeyboardInterrupt, GeneratorExit):
            raise
        except ImportError as exc:
            raise ProviderError(f"{self.name}: the SDK is not installed ({exc}); "
                                f"run: {self.package_hint}", provider=self.name) from None
        except Exception as exc:  # noqa: BLE001 - classified below, by class
            kind, status = self.classify(exc)
            detail = redact(" ".join(_message_of(exc).split()))
            raise ProviderError(self._describe(kind, status, detail, exc), status=status,
                                retry_after=_retry_after_of(exc), kind=kind,
                                provider=self.name, detail=detail) from None

    def classify(self, exc: Exception) -> tuple[str, int | None]:
        """``(kind, HTTP status)`` of an SDK exception (see :class:`ProviderError`); providers
        add their SDK's classes, this base knows the HTTP transports'."""
        return transport_kind(exc) or "sdk", None

    def retry_before_first_chunk(self, open_stream: Callable[[], Iterator[Chunk]]
                                 ) -> Iterator[Chunk]:
        """For SDKs that retry plain calls but not streams (Cohere's): retry 408, 409, 429
        and 5xx answers that come before anything streamed, with the same bound
        (``max_retries``) and Retry-After or exponential backoff (0.5 s, 1 s, ...), never waiting
        past the call's deadline."""
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
                wait = self._backoff(exc.retry_after, attempt)
                call = watch.current()
                if started or attempt == attempts or not retryable or (
                        call is not None and wait >= call.remaining()):
                    raise  # a wait past the deadline would only end in a timeout
                time.sleep(wait)

    def _backoff(self, retry_after: float | None, attempt: int) -> float:
        """Seconds to wait before a retry: the server's Retry-After when it is a sane number,
        else 0.5 s, 1 s, 2 s, ...; never past the call's deadline (``timeout_s``)."""
        call = watch.current()
        ceiling = call.remaining() if call is not None else float(self.setting("timeout_s", 60))
        if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
            return min(retry_after, ceiling)
        return min(0.5 * 2.0 ** attempt, ceiling)

    def failure(self, kind: str, detail: str = "") -> ProviderError:
        """A one-line :class:`ProviderError` of ``kind`` (see :class:`ProviderError`; ``html``
        for a web page where the API's answer should be) that the provider itself detected."""
        return ProviderError(self._describe(kind, None, redact(detail), None), kind=kind,
                             provider=self.name, detail=detail)

    def _describe(self, kind: str, status: int | None, detail: str,
                  exc: Exception | None) -> str:
        if kind == "status" and status is not None:
            hint = {401: f"check {self.key_env}", 403: f"check {self.key_env}",
                    404: "check the model name (see %llm models)",
                    429: "rate limited; wait and re-run"}.get(status, "")
            text = f"{self.name}: HTTP {status}: {detail}" + (f" ({hint})" if hint else "")
        elif kind == "event":
            text = f"{self.name}: the server sent an error: {detail}"
        elif kind == "timeout":
            text = (f"{self.name}: timed out after {self.setting('timeout_s', 60)} s; raise "
                    "global_settings.timeout_s in model_config.json or retry")
        elif kind == "connect":
            text = (f"{self.name}: could not connect to {self.shown_base_url()}; check the "
                    f"network or {self.base_url_env}")
        elif kind == "dropped":
            text = f"{self.name}: the connection dropped ({detail})"
        elif kind == "html":
            text = f"{self.name}: {detail}; check {self.base_url_env}"
        elif kind == "response":
            text = (f"{self.name}: the endpoint's answer is not an API response ({detail}); "
                    f"check {self.base_url_env}")
        else:
            text = f"{self.name}: {type(exc).__name__ if exc else 'error'}: {detail}"
        return redact(" ".join(text.split()))


@cache
def sdk_version(distribution: str) -> str:
    """``"openai 3.57.0"``: a distribution and its installed version."""
    try:
        return f"{distribution} {metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return f"{distribution} (version unknown)"


def transport_kind(exc: BaseException) -> str | None:
    """``timeout``, ``connect`` or ``dropped`` when ``exc`` (or what caused it) is an HTTP
    transport error of httpx or of the ``httpx2`` fork that openai 3 uses; else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for name in ("httpx", "httpx2"):
            module = sys.modules.get(name)  # only transports an SDK has already imported
            if module is None:
                continue
            if isinstance(current, module.TimeoutException):
                return "timeout"
            if isinstance(current, module.ConnectError):
                return "connect"
            if isinstance(current, module.TransportError):
                return "dropped"
        current = current.__cause__ or current.__context__
    return None


def stainless_kind(sdk: Any, exc: Exception) -> tuple[str, int | None] | None:
    """Classify the exceptions of the SDKs generated by Stainless (openai, anthropic), which
    share one hierarchy: APITimeoutError < APIConnectionError, APIStatusError < APIError."""
    if isinstance(exc, sdk.APITimeoutError):
        return "timeout", None
    if isinstance(exc, sdk.APIConnectionError):
        return transport_kind(exc) or "connect", None
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        return ("event", None) if 200 <= status < 300 else ("status", status)
    if isinstance(exc, sdk.APIResponseValidationError):
        return "response", None
    if isinstance(exc, sdk.APIError):  # an error event inside the stream
        return "event", None
    return None


def _retry_after_of(exc: Exception) -> float | None:
    response = getattr(exc, "response", None) or getattr(exc, "raw_response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "headers", None) or {}
    try:
        return float(headers.get("retry-after"))  # type: ignore[arg-type]  # None: TypeError
    except (TypeError, ValueError, AttributeError):
        return None


def _message_of(exc: Exception) -> str:
    """The provider's own message from the error body (``error.message``, ``message`` or
    ``detail``, as OpenAI, Anthropic, Cohere, Mistral and llama.cpp's server send it), else
    the exception's text; at most 300 characters."""
    body = getattr(exc, "body", None)
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            return str(body)[:300]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            for key in ("message", "detail"):
                if error.get(key):
                    return str(error[key])[:300]
        if isinstance(error, str):
            return error[:300]
        for key in ("message", "detail"):
            if body.get(key):
                return str(body[key])[:300]
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
