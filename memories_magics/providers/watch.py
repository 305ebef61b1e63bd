"""Watching each call's HTTP exchanges: the whole call's deadline, and answers that are a web
page instead of the API's.

The SDKs' ``timeout`` bounds each network operation, not the call: a server that sends a
keep-alive comment every few seconds, trickles tokens or trickles a body never trips it. No
kept library bounds a whole httpx exchange, so this module does, with httpx's public event
hooks (:func:`event_hooks`, given to every SDK's HTTP client): the request hook shortens the
request's timeouts to the time left, the response hook notes an HTML answer and wraps the
body so that, at the deadline, one watchdog thread shuts the connection's socket down (which
wakes a read blocked in any thread) and the read ends with :class:`DeadlinePassed`. That is a
``BaseException``, so the SDKs' retry loops (``except Exception``) let it through at once.

A :class:`CallWatch` is made per call and made current (``with watch:``) on the
thread that runs the SDK; HTTP traffic outside a watched call passes untouched.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

_local = threading.local()


class DeadlinePassed(BaseException):
    """The call's deadline passed during an HTTP exchange (raised through the SDK)."""


class CallWatch:
    """One call's deadline (``seconds`` after its first request is sent: importing an SDK
    and building its client don't count) and what its HTTP answers looked like."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = math.inf
        self.html_status: int | None = None  # the status of an answer that was a web page
        self._responses: list[Any] = []
        self._lock = threading.Lock()
        self._finished = False
        self._previous: list[CallWatch | None] = []

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self.deadline

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative; all of them before it starts)."""
        return min(self.seconds, max(0.0, self.deadline - time.monotonic()))

    def start(self) -> None:
        """The first request is going out: the clock starts (once)."""
        if self.deadline == math.inf:
            self.deadline = time.monotonic() + self.seconds

    def __enter__(self) -> CallWatch:
        """``with watch:`` makes this the current thread's watched call while the SDK runs."""
        self._previous.append(getattr(_local, "watch", None))
        _local.watch = self
        return self

    def __exit__(self, *exc: object) -> None:
        _local.watch = self._previous.pop()

    def finish(self) -> None:
        """The call is over: its connections are no longer ours to cut."""
        with self._lock:
            self._finished = True
            self._responses.clear()

    def _watch(self, response: Any) -> None:
        with self._lock:
            if not self._finished:
                self._responses.append(response)
        _watchdog.add(self)

    def _expire(self) -> None:
        """The deadline passed: shut down the sockets of this call's open answers."""
        with self._lock:
            open_ones = [] if self._finished else [r for r in self._responses if not r.is_closed]
        for response in open_ones:
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)


def current() -> CallWatch | None:
    """The watched call running on this thread, if any."""
    return getattr(_local, "watch", None)


class _Watchdog:
    """One daemon thread that expires calls at their deadlines (a heap, not a thread each)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, CallWatch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, watch: CallWatch) -> None:
        with self._wake:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="memories-deadlines",
                                                daemon=True)
                self._thread.start()
            if self._heap[0][2] is watch:  # it is due first: the thread must wait less
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                due: list[CallWatch] = []
                while self._heap and self._heap[0][0] <= time.monotonic():
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(wait)
                    continue
            for watch in due:
                watch._expire()


_watchdog = _Watchdog()


def _on_request(request: Any) -> None:
    watch = current()
    if watch is None:
        return
    watch.start()
    left = watch.remaining()
    if left <= 0:
        raise DeadlinePassed
    timeouts = dict(request.extensions.get("timeout") or {})
    request.extensions["timeout"] = {name: left if value is None else min(value, left)
                                     for name, value in
                                     {"connect": None, "read": None, "write": None,
                                      "pool": None, **timeouts}.items()}


def _on_response(response: Any) -> None:
    watch = current()
    if watch is None:
        return
    if "text/html" in response.headers.get("content-type", "").lower():
        watch.html_status = response.status_code
    response.stream = _bounded_stream(response.stream, watch, type(response).__module__)
    watch._watch(response)


_stream_classes: dict[str, type] = {}


def _bounded_stream(inner: Any, watch: CallWatch, module_name: str) -> Any:
    """``inner`` (the answer's byte stream) ending in :class:`DeadlinePassed` once the
    deadline has passed; a subclass of the transport's own ``SyncByteStream``, which httpx
    (and its fork httpx2) require."""
    package = module_name.partition(".")[0]
    if package not in _stream_classes:
        base = sys.modules[package].SyncByteStream

        class Bounded(base):  # type: ignore[misc, valid-type]
            def __init__(self, inner: Any, watch: CallWatch) -> None:
                self.inner, self.watch = inner, watch

            def __iter__(self) -> Iterator[bytes]:
                try:
                    for piece in self.inner:
                        if self.watch.expired:
                            raise DeadlinePassed
                        yield piece
                except Exception:
                    if self.watch.expired:
                        raise DeadlinePassed from None
                    raise

            def close(self) -> None:
                self.inner.close()

        _stream_classes[package] = Bounded
    return _stream_classes[package](inner, watch)


def event_hooks() -> dict[str, list[Any]]:
    """The hooks to give an SDK's httpx (or httpx2) client: ``event_hooks=event_hooks()``."""
    return {"request": [_on_request], "response": [_on_response]}
