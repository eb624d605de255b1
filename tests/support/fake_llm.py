"""A local OpenAI-compatible chat-completions server that answers from a script.

Tests start it on 127.0.0.1 (ephemeral port), give it the answers in order, point the real
`openai` client at `server.base_url`, and read back the requests it received. A script
step is a `Reply`: completion text, an HTTP status, raw bytes (garbage), or a delay.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass
class Reply:
    content: str | None = None  # the assistant's message
    status: int = 200
    raw: bytes | None = None  # sent as is instead of a completion
    delay_s: float = 0.0  # wait before answering (a slow endpoint)


def completion(content: str, model: str = "fake-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class FakeLLM:
    """The server: `replies` are consumed one per request; `requests` holds the bodies."""

    def __init__(self, replies: list[Reply | str]) -> None:
        self.replies = [r if isinstance(r, Reply) else Reply(content=r) for r in replies]
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes any handler that is "being slow"
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if not self.replies:
                return Reply(status=500, raw=b'{"error": {"message": "script exhausted"}}')
            return self.replies.pop(0)

    def wait(self, seconds: float) -> None:
        self._closing.wait(seconds)

    def user_messages(self, index: int) -> list[str]:
        """The user-role contents of request `index`."""
        return [m["content"] for m in self.requests[index]["messages"] if m["role"] == "user"]


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # stdlib name
            return  # keep test output clean

        def do_POST(self) -> None:  # stdlib name
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != COMPLETIONS_PATH:
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            reply = fake.next_reply(body)
            if reply.delay_s:
                fake.wait(reply.delay_s)
            if reply.raw is not None:
                self._send(reply.status, reply.raw)
                return
            payload = completion(reply.content or "", body.get("model", "fake-model"))
            self._send(reply.status, json.dumps(payload).encode())

        def _send(self, status: int, data: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to answer

    return Handler


@contextmanager
def fake_llm(replies: list[Reply | str]) -> Iterator[FakeLLM]:
    server = FakeLLM(replies).start()
    try:
        yield server
    finally:
        server.close()
