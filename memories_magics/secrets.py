"""Keeping secrets out of everything we show, store or log.

A key held by our objects is a :class:`Secret`, which prints as ``***`` (so a verbose
traceback's locals don't show it). Every API key and base-URL credential the providers use is
remembered (:func:`remember`,
:func:`remember_url`); :func:`redact` replaces them, and credentials in URLs and auth headers
(``user:key@``, ``?api_key=``, ``Authorization: Basic …``), with ``***``. Importing this module
also redacts every log record of the SDKs and their HTTP clients (httpx, httpx2, httpcore, …),
whichever of their loggers it comes from, before any handler formats it.
"""

from __future__ import annotations

import base64
import bisect
import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

from .errors import UsageError

MASK = "***"
#: Values shorter than this are not treated as secrets (they would mask ordinary words).
MIN_SECRET_LENGTH = 6
#: The top-level loggers of the SDKs and HTTP stacks our providers run on.
SDK_LOGGERS = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "h11", "h2", "urllib3",
                         "openai", "anthropic", "cohere", "mistralai", "fern"})

_known: set[str] = set()
_remembered: set[str] = set()  # the values given to remember (each key is read per call)
_urls: set[str] = set()  # the URLs given to remember_url
_lock = threading.Lock()
_SECRET_PARAMS = (r"(?:api[_-]?key|key|token|access[_-]?token|auth|password|passwd|secret|sig"
                  r"|signature|code)")
_CREDENTIALS = re.compile(
    r"(?P<keep>[a-z][a-z0-9+.-]*://)[^/\s@?#'\"<>]+@"  # scheme://user:password@
    rf"|(?P<param>[?&;]{_SECRET_PARAMS}=)[^&#\s'\"<>]+"  # ?api_key=...
    r"|(?P<header>\b(?:authorization|proxy-authorization|x-api-key|api-key)\b['\"]?\s*[:=]"
    r"\s*['\"]?(?:(?:basic|bearer|token)\s+)?)[^\s'\",}]+",  # Authorization: Basic ...
    re.IGNORECASE)


class Secret:
    """A key that prints as ``***`` (repr, str, tracebacks' locals); :meth:`reveal` gives it to
    the SDK that needs it. Equal when the keys are equal."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember(value)

    @classmethod
    def of(cls, value: object) -> Secret | None:
        """``value`` held as a Secret (None and "" stay None); anything but text is a one-line
        :class:`UsageError` that does not echo it."""
        if value is None or value == "" or isinstance(value, Secret):
            return value or None  # type: ignore[return-value]
        if not isinstance(value, str):
            raise UsageError(f"api_key must be a string, not {type(value).__name__} (e.g. "
                             "api_key=os.environ['OPENAI_API_KEY'], or a key read with "
                             "Path(...).read_text().strip())")
        return cls(value)

    def reveal(self) -> str:
        """The key itself, for the SDK client (never for display)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")


def remember(*values: str | None) -> None:
    """Treat ``values`` (and their URL- and base64-encoded forms) as secrets from now on."""
    forms = set()
    for value in values:
        if value and len(value) >= MIN_SECRET_LENGTH and value not in _remembered:
            forms |= {value, quote(value, safe=""), quote_plus(value),
                      base64.b64encode(value.encode()).decode()}
    with _lock:
        _remembered.update(v for v in values if v)
        if not forms <= _known:
            _known.update(forms)
            global _table
            _table = None


def remember_url(url: str | None) -> None:
    """Remember the credentials in a base URL: user, password, their Basic-auth header value,
    the query and the values of parameters named like keys (``api_key``, ``token``, ``sig``…)."""
    if not url or url in _urls:  # every call reads the base URL
        return
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a netloc NFKC changes: its message quotes the netloc
        userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        remember(userinfo, user, password, unquote(user), unquote(password))
        raise  # not marked seen: tried again by the next call
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    remember(user, password, parts.username, parts.password, parts.query,
             *(value for name, value in parse_qsl(parts.query)
               if re.fullmatch(_SECRET_PARAMS, name, re.IGNORECASE)))
    if user or password:
        remember(f"{user}:{password}")  # what httpx sends as Basic auth, base64-encoded
    _urls.add(url)  # only once its credentials are known


class _Table:
    """What masking needs of the known secrets, built once each time the set grows: one
    pattern of them all (longest first, so a key's prefix can't win) and, by last
    character, every proper beginning of one (longest first), for :class:`StreamMask`."""

    def __init__(self, known: set[str]) -> None:
        ordered = sorted(known, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered)))
        self.shortest = len(ordered[-1])
        starts: dict[str, set[tuple[int, str]]] = {}
        for secret in ordered:
            for end in range(1, len(secret)):
                starts.setdefault(secret[end - 1], set()).add((end, secret))
        # By last character: the lengths of the beginnings ending in it (ascending), and
        # the secrets they begin.
        self.starts = {last: ([end for end, _ in found], [secret for _, secret in found])
                       for last, found in ((c, sorted(f)) for c, f in starts.items())}

    def held_back(self, text: str) -> int:
        """The length of the longest end of ``text`` that is a proper beginning of a known
        secret (0 when none is)."""
        found = self.starts.get(text[-1:])
        if found is None:
            return 0
        ends, secrets = found
        for i in range(bisect.bisect_right(ends, len(text)) - 1, -1, -1):  # longest first
            if text.endswith(secrets[i][:ends[i]]):
                return ends[i]
        return 0


_table: _Table | None = None


def _known_table() -> _Table | None:
    global _table
    table = _table  # read once: remember() may reset it meanwhile
    if table is not None or not _known:  # as it is, nearly always: no lock
        return table
    with _lock:
        if _table is None and _known:
            _table = _Table(_known)
        return _table


def _mask_credentials(match: re.Match[str]) -> str:
    return (match.group("keep") or match.group("param") or match.group("header")) + MASK + (
        "@" if match.group("keep") else "")


def mask_known(text: str) -> str:
    """``text`` with every known secret replaced by ``***`` (for answers: a server may echo
    the key; other text that looks like a credential is the model's to show)."""
    table = _known_table()
    return text if table is None else table.pattern.sub(MASK, text)


class StreamMask:
    """Masks known secrets in a stream of text pieces, a secret split across pieces included:
    the tail of what has arrived that could be the start of a secret is held back until the
    next piece shows whether it is (:meth:`feed`), and given back by :meth:`flush`.

    Hand-written because no kept library masks a fixed set of strings in a stream; with no
    secret known (the keyless local model) it passes pieces through untouched."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        """The text of ``piece`` that can be shown now, its secrets masked."""
        table = _known_table()
        if table is None:
            return self._held + piece if self._held else piece
        text = self._held + piece
        cut = len(text) - table.held_back(text)  # from here on, it may begin a secret
        if len(text) < table.shortest:  # a token: too short to hold a secret whole
            self._held = text[cut:]
            return text[:cut]
        shown, done = [], 0
        for match in table.pattern.finditer(text):
            if match.end() > cut:  # it may go on into a longer secret: hold it back too
                cut = min(cut, match.start())
                break
            shown += [text[done:match.start()], MASK]
            done = match.end()
        shown.append(text[done:cut])
        self._held = text[cut:]
        return "".join(shown)

    def flush(self) -> str:
        """What is still held back; a held tail long enough to be part of a key shows as
        ``***`` (the stream ended inside what looks like a secret)."""
        held, self._held = self._held, ""
        return MASK if len(held) >= MIN_SECRET_LENGTH else held


def redact(text: str) -> str:
    """``text`` with every known secret and any URL or header credentials replaced by ``***``
    (for messages and logs)."""
    return _CREDENTIALS.sub(_mask_credentials, mask_known(text))


_previous_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Log records as usual; those of the SDK loggers with their message (arguments merged)
    and traceback redacted."""
    record = _previous_factory(*args, **kwargs)
    if record.name.partition(".")[0] in SDK_LOGGERS:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
    return record


if logging.getLogRecordFactory() is not _redacting_factory:
    logging.setLogRecordFactory(_redacting_factory)
