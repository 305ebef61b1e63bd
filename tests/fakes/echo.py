"""A misbehaving provider server: it answers every request with the request's own headers and
URL, credentials included (as a debugging proxy or a careless gateway might)."""

from __future__ import annotations

import threading

from .reply import Reply
from .server import FakeLLMServer, RecordedRequest


class EchoServer(FakeLLMServer):
    """``FakeLLMServer`` whose answer text is the request it received, in every wire format."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._current = threading.local()  # each request is served by one handler thread

    def _record(self, request: RecordedRequest) -> None:
        super()._record(request)
        self._current.request = request

    def _next_reply(self) -> Reply:
        request: RecordedRequest = self._current.request
        headers = " ".join(f"{name}: {value}" for name, value in sorted(request.headers.items()))
        return Reply(text=f"You sent {request.method} {request.path}?{request.query} "
                          f"with {headers}")
