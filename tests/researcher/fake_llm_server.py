"""A local stand-in for LLM providers, speaking their real wire protocols over HTTP.

`FakeLLMServer` listens on 127.0.0.1 (an ephemeral port) and answers
  POST /v1/chat/completions   (OpenAI chat completions: choices, finish_reason, usage)
  POST /v1/messages           (Anthropic Messages: content blocks, stop_reason, usage)
with replies taken in order from a script, so tests drive the official `openai` and
`anthropic` clients end to end. Script items are reply texts or `Scripted` items that also set
status codes, headers (retry-after), delays (client timeouts) and usage. Requests for a model
not in `models` get the provider's 404 body; a wrong key (when `api_key` is set) gets 401.
Every request is recorded (path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    """One scripted answer: a reply text (status 200) or an error status with a message."""

    text: str = ""
    status: int = 200
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (to trigger client timeouts)
    tokens_in: int | None = None
    tokens_out: int | None = None
    truncated: bool = False  # finish_reason "length" / stop_reason "max_tokens"
    usage: bool = True  # False: omit usage (some local servers do)


def error(status: int, message: str = "", retry_after: str | None = None,
          retry_after_ms: str | None = None) -> Scripted:
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return Scripted(status=status, message=message or f"scripted error {status}", headers=headers)


_OPENAI_ERR = {400: "invalid_request_error", 401: "invalid_api_key", 404: "model_not_found",
               429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}
_ANTHROPIC_ERR = {400: "invalid_request_error", 401: "authentication_error",
                  404: "not_found_error", 429: "rate_limit_error", 500: "api_error",
                  529: "overloaded_error"}


class FakeLLMServer:
    def __init__(self, script: list[str | Scripted] | None = None,
                 models: tuple[str, ...] = ("fake-model", "claude-fake"),
                 api_key: str | None = None) -> None:
        self.script: list[Scripted] = []
        self.models = models
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.push(*(script or []))
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                server._handle(self, body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    # control -----------------------------------------------------------------------------

    def push(self, *items: str | Scripted) -> None:
        with self._lock:
            self.script += [Scripted(text=i) if isinstance(i, str) else i for i in items]

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # protocol ----------------------------------------------------------------------------

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            h.send_response(status)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    def _error_body(self, kind: str, status: int, message: str) -> dict[str, Any]:
        if kind == "anthropic":
            return {"type": "error", "error": {"type": _ANTHROPIC_ERR.get(status, "api_error"),
                                               "message": message}}
        return {"error": {"message": message, "type": _OPENAI_ERR.get(status, "server_error"),
                          "param": None, "code": _OPENAI_ERR.get(status)}}

    def _handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        path = h.path.split("?")[0]
        kind = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic"}.get(path)
        with self._lock:
            self.requests.append({"path": path, "headers": dict(h.headers.items()), "body": body})
        if kind is None:
            self._send(h, 404, {"error": {"message": f"no route {path}"}})
            return
        if self.api_key is not None:
            bearer = (h.headers.get("authorization") or "").removeprefix("Bearer ")
            got = (h.headers.get("x-api-key") or bearer) if kind == "anthropic" else bearer
            if got != self.api_key:
                self._send(h, 401, self._error_body(kind, 401, "invalid x-api-key"
                                                    if kind == "anthropic" else
                                                    "Incorrect API key provided"))
                return
        model = str(body.get("model", ""))
        if model not in self.models:
            self._send(h, 404, self._error_body(
                kind, 404, f"The model `{model}` does not exist or you do not have access to it."))
            return
        with self._lock:
            item = self.script.pop(0) if self.script else None
        if item is None:
            self._send(h, 400, self._error_body(kind, 400, "fake server: script exhausted"))
            return
        if item.delay:
            time.sleep(item.delay)
        if item.status != 200:
            self._send(h, item.status, self._error_body(kind, item.status, item.message),
                       item.headers)
            return
        chars = len(json.dumps(body.get("messages", []))) + len(str(body.get("system", "")))
        tin = item.tokens_in if item.tokens_in is not None else chars // 4
        tout = item.tokens_out if item.tokens_out is not None else max(1, len(item.text) // 4)
        n = len(self.requests)
        if kind == "openai":
            payload: dict[str, Any] = {
                "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": item.text},
                             "finish_reason": "length" if item.truncated else "stop",
                             "logprobs": None}],
            }
            if item.usage:
                payload["usage"] = {"prompt_tokens": tin, "completion_tokens": tout,
                                    "total_tokens": tin + tout}
        else:
            payload = {
                "id": f"msg_{n}", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": item.text}],
                "stop_reason": "max_tokens" if item.truncated else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": tin, "output_tokens": tout},
            }
        self._send(h, 200, payload, item.headers)
