"""A local HTTP server speaking the real wire formats of the LLM providers, for tests.

    with FakeLLMServer() as srv:
        srv.script(Reply(text="Hi there"), Reply(status=500))
        client = openai.OpenAI(api_key="k", base_url=srv.url + "/v1", max_retries=0)
        ...
        srv.requests[-1].body["model"]

The server routes by path (see ROUTES), records every request, and answers each one with
the next scripted `Reply` (FIFO), or with `srv.default` once the script is used up.
The per-provider rendering lives in one module per wire format.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

from . import anthropic_wire, cohere_wire, embeddings_wire, image_parts, openai_wire, tool_blocks
from .reply import Exchange, Frame, Reply

# Exact paths first; otherwise the longest suffix that matches, so a prefix such as
# srv.url + "/deepseek" (-> /deepseek/chat/completions) still routes.
ROUTES: dict[str, ModuleType | type] = {
    "/v1/chat/completions": openai_wire,
    "/v1/embeddings": embeddings_wire.OpenAI,
    "/v2/embed": embeddings_wire.Cohere,
    "/chat/completions": openai_wire,
    "/v1/messages": anthropic_wire,
    "/v2/chat": cohere_wire,
}


def route(path: str) -> ModuleType | type | None:
    if path in ROUTES:
        return ROUTES[path]
    for suffix in sorted(ROUTES, key=len, reverse=True):
        if path.endswith(suffix):
            return ROUTES[suffix]
    return None


@dataclass
class RecordedRequest:
    method: str
    path: str  # without query string
    headers: dict  # lower-cased keys
    body: dict | None  # parsed JSON (None when empty or not JSON)
    query: str = ""
    reply: Reply | None = field(default=None, repr=False)  # the Reply used to answer it


class FakeLLMServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.default: Reply = Reply()
        self.requests: list[RecordedRequest] = []
        self._queue: collections.deque[Reply] = collections.deque()
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeLLMServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            kwargs={"poll_interval": 0.01},
                                            name="FakeLLMServer", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_all_connections()
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ scripting
    def script(self, *replies: Reply) -> FakeLLMServer:
        with self._lock:
            self._queue.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # many parallel clients must not hit the listen backlog
    fake: FakeLLMServer

    def __init__(self, *args, **kwargs) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            (self._connections.add if alive else self._connections.discard)(conn)

    def close_all_connections(self) -> None:
        """Shut idle keep-alive connections so their handler threads end with the server."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address) -> None:  # quiet: clients hang up mid-stream
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    # -------------------------------------------------------------- request
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        self.reply: Reply | None = None
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path, _, query = self.path.split("#", 1)[0].partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        recorded = RecordedRequest(self.command, path, headers, body, query)
        fake = self.server.fake
        fake._record(recorded)

        wire = route(path)
        if wire is None:
            self._send_json(404, {"error": {"message": f"no fake route for {self.command} {path}",
                                            "type": "invalid_request_error",
                                            "code": "not_found"}}, {})
            return

        reply = self.reply = fake._next_reply()
        request_body = body if isinstance(body, dict) else {}
        mistral = "mistral" in headers.get("user-agent", "").lower()
        refused = image_parts.problem(wire.PROVIDER, request_body, mistral) or \
            tool_blocks.problem(wire.PROVIDER, request_body, mistral)
        if refused:  # the API's 400 for a malformed image part or tool history
            reply = self.reply = Reply(status=400, error_message=refused)
        x = Exchange(body=request_body, headers=headers, reply=reply,
                     model=reply.model_for(body), created=int(time.time()))
        refused = getattr(wire, "refuse", lambda _: None)(x)
        if refused:  # the API's 400 for a malformed request (embeddings)
            reply = x.reply = self.reply = Reply(status=400, error_message=refused)
        recorded.reply = reply
        if reply.delay:
            time.sleep(reply.delay)
        extra = dict(wire.response_headers(x))
        if reply.retry_after is not None:
            seconds = reply.retry_after
            whole = float(seconds).is_integer()
            extra["Retry-After"] = str(int(seconds)) if whole else str(seconds)
            if math.isfinite(seconds):
                extra["retry-after-ms"] = str(int(seconds * 1000))

        if reply.html is not None:
            self._send_body(reply.status, reply.html.encode("utf-8"), "text/html; charset=utf-8",
                            extra)
        elif reply.status != 200:
            self._send_json(reply.status, wire.error_body(x), extra)
        elif x.body.get("stream") is True:
            self._send_stream(wire, x, extra)
        else:
            self._send_json(200, wire.completion(x), extra)

    # ------------------------------------------------------------- response
    def _send_json(self, status: int, payload: dict, headers: dict) -> None:
        self._send_body(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_body(self, status: int, data: bytes, content_type: str, headers: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        reply: Reply | None = getattr(self, "reply", None)
        pause = reply.body_byte_delay if reply is not None else 0.0
        if not pause:
            self._write(data)
            return
        gives_up = time.monotonic() + reply.misbehave_for
        for i in range(len(data)):  # a slowly trickling body
            if time.monotonic() > gives_up or not self._write(data[i:i + 1]):
                self._drop()
                return
            time.sleep(pause)

    def _send_stream(self, wire: ModuleType, x: Exchange, headers: dict) -> None:
        reply = x.reply
        frames = list(wire.stream(x))
        cut = _truncation_point(frames, reply.truncate_after)

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

        if reply.keepalive_every:  # the preamble, then keep-alive comments and nothing else
            self._write(b"%x\r\n%s\r\n" % (len(frames[0].data), frames[0].data))
            gives_up = time.monotonic() + reply.misbehave_for
            comment = b": keep-alive\n\n"
            while time.monotonic() < gives_up and self._write(
                    b"%x\r\n%s\r\n" % (len(comment), comment)):
                time.sleep(reply.keepalive_every)
            self._drop()
            return
        sent_content = 0
        for frame in frames[:cut]:
            if frame.content:
                pause = reply.first_chunk_delay if sent_content == 0 else reply.chunk_delay
                if pause:
                    time.sleep(pause)
                sent_content += 1
            if not self._write(b"%x\r\n%s\r\n" % (len(frame.data), frame.data)):
                return
        if cut < len(frames) and reply.truncate_mode != "eof":
            self._drop()  # dropped connection: the chunked body never ends
            return
        self._write(b"0\r\n\r\n")

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except OSError:  # the client went away
            self.close_connection = True
            return False

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _truncation_point(frames: list[Frame], truncate_after: int | None) -> int:
    """How many frames to send: all of them, or up to the `truncate_after`-th content frame.

    Frames before the first content frame (message_start, role chunk...) always go out; what
    follows the last content frame sent (stop events, usage, [DONE]) never does.
    """
    if truncate_after is None:
        return len(frames)
    content_positions = [i for i, f in enumerate(frames) if f.content]
    if truncate_after < len(content_positions):
        return content_positions[truncate_after]
    if content_positions:
        return content_positions[-1] + 1
    return 1
