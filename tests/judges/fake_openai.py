"""A FAKE OpenAI-compatible server for tests. It runs no model and answers from a script.

It listens on 127.0.0.1 (a free port chosen by the OS) and serves
``POST /v1/chat/completions`` with the JSON shape of the real API (id, object, created,
model, choices[0].message.content, finish_reason, usage), so the real ``openai`` SDK can
talk to it over real HTTP. Tests program it with:

- ``script``: a queue of :class:`Scripted` replies used first, in order (status, content or
  raw body, headers such as Retry-After, a delay to provoke client timeouts);
- ``responder``: a callable(request_json) -> content (or a whole ``Scripted``) used once
  the queue is empty;
- token logprobs in the OpenAI format (``choices[0].logprobs.content``) for a reply built
  with :func:`with_logprobs`;

and read back every request received (``requests``: path, headers, json) and the usage
reported with each completion (``usage``: model, prompt and completion tokens).

Use the ``fake_openai`` fixture from ``tests/judges/conftest.py``, or
``with FakeOpenAIServer() as server:`` anywhere else.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], "str | Scripted"]


@dataclass(frozen=True)
class Scripted:
    """One scripted reply. ``content`` builds a realistic completion body; ``body``
    replaces the whole body verbatim (for error payloads or garbage)."""

    status: int = 200
    content: str | None = None
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    finish_reason: str = "stop"
    logprobs: tuple[dict[str, Any], ...] | None = None


# A token as written, or (token, {alternative token: probability, ...}) at the one token
# whose alternatives matter; the chosen token's own probability is taken from that map.
Piece = str | tuple[str, Mapping[str, float]]


def _logprob_entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


def logprobs_content(pieces: Sequence[Piece]) -> tuple[dict[str, Any], ...]:
    """``choices[0].logprobs.content`` as the real API returns it: one entry per token,
    each with its ``top_logprobs`` alternatives, most likely first."""
    entries = []
    for piece in pieces:
        token, alternatives = (piece, {piece: 1.0}) if isinstance(piece, str) else piece
        ranked = sorted(alternatives.items(), key=lambda item: -item[1])
        top = [_logprob_entry(t, math.log(p)) for t, p in ranked]
        chosen = math.log(alternatives.get(token, 1.0))
        entries.append({**_logprob_entry(token, chosen), "top_logprobs": top})
    return tuple(entries)


def with_logprobs(*pieces: Piece) -> Scripted:
    """A completion whose content is the pieces' tokens joined, with their logprobs."""
    content = "".join(p if isinstance(p, str) else p[0] for p in pieces)
    return Scripted(content=content, logprobs=logprobs_content(pieces))


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    json: dict[str, Any] | None


def _echo_responder(request: dict[str, Any]) -> str:
    messages = request.get("messages") or [{}]
    return f"(fake) you said: {messages[-1].get('content', '')}"


def _count_tokens(text: str) -> int:
    # Whitespace words: crude, but deterministic and enough to check that usage flows.
    return len(text.split())


def error_body(
    message: str, *, kind: str = "invalid_request_error", code: str | None = None
) -> str:
    """An error payload shaped like the real API's."""
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


class FakeOpenAIServer:
    """FAKE OpenAI-compatible chat completions server (see module docstring)."""

    def __init__(self, *, model: str = "fake-model") -> None:
        self.model = model
        self.script: deque[Scripted] = deque()
        self.responder: Responder = _echo_responder
        self.requests: list[RecordedRequest] = []
        self.usage: list[tuple[str, int, int]] = []
        # Chat requests being answered right now, and the most there ever were at once.
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        # Set on stop so that replies sleeping to provoke timeouts wake up at once.
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- programming and inspecting ------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def enqueue(self, *replies: Scripted) -> None:
        with self._lock:
            self.script.extend(replies)

    def reply_with(self, *contents: str) -> None:
        """Shortcut: queue successful completions with these contents."""
        self.enqueue(*(Scripted(content=c) for c in contents))

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.json for r in self.requests if r.path.endswith("/chat/completions") and r.json]

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------

    def _next_reply(self, request: dict[str, Any]) -> Scripted:
        with self._lock:
            if self.script:
                return self.script.popleft()
        reply = self.responder(request)
        return reply if isinstance(reply, Scripted) else Scripted(content=reply)

    def _completion_body(self, request: dict[str, Any], reply: Scripted) -> str:
        content = reply.content or ""
        prompt = " ".join(str(m.get("content", "")) for m in request.get("messages", []))
        prompt_tokens, completion_tokens = _count_tokens(prompt), _count_tokens(content)
        with self._lock:
            self.usage.append((request.get("model", self.model), prompt_tokens, completion_tokens))
        return json.dumps(
            {
                "id": f"chatcmpl-fake-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", self.model),
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None
                        if reply.logprobs is None
                        else {"content": list(reply.logprobs), "refusal": None},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw) if raw else None
                except ValueError:
                    payload = None
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append(RecordedRequest("POST", self.path, headers, payload))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, error_body(f"no route {self.path}"), {})
                    return
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(payload or {})
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, payload: dict[str, Any]) -> None:
                reply = server._next_reply(payload)
                if reply.delay_s and server._stopping.wait(reply.delay_s):
                    return
                body = reply.body
                if body is None:
                    body = server._completion_body(payload, reply)
                self._send(reply.status, body, reply.headers)

            def _send(self, status: int, body: str, headers: Mapping[str, str]) -> None:
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep test output clean

        return Handler
