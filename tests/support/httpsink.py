"""A real HTTP server on 127.0.0.1 (port 0) for tests: records every request, answers from a script.

with HttpSink() as sink:
    sink.respond(429, b"slow down")         # the next answer (a queue); then the default
    sink.default = (200, b"{}", {})          # or sink.handler = lambda request: (200, b"...", {})
    ... sink.url ... sink.requests[0].json()
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Answer = tuple[int, bytes, dict[str, str]]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


class HttpSink:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.queue: deque[Answer] = deque()
        self.default: Answer = (200, b"{}", {"Content-Type": "application/json"})
        self.handler: Callable[[Request], Answer] | None = None
        self.delay = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        self.queue.append((status, body, headers or {}))

    def answer(self, request: Request) -> Answer:
        if self.queue:
            return self.queue.popleft()
        if self.handler is not None:
            return self.handler(request)
        return self.default

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, self.path, dict(self.headers), self.rfile.read(length))
                sink.requests.append(request)
                if sink.delay:
                    time.sleep(sink.delay)
                status, body, headers = sink.answer(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> HttpSink:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def chat_completion(content: str) -> Answer:
    """An OpenAI chat-completions answer."""
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }
    return 200, json.dumps(body).encode(), {"Content-Type": "application/json"}
