"""A scripted OpenAI-compatible chat server, standard library only.

It stands in for a remote service (vLLM, Ollama, a hosted API) where no
model runs: behind the conformance kit's smoke run (the worker's
``smoke_service``, so ``mosaic check llm`` passes wherever the worker is
installed) and in the worker's fast tests. It answers
``POST /v1/chat/completions`` with a legal action chosen by a policy, in
the form the request asks for (a tool call, a JSON object or plain text),
and it misbehaves on cue. Each entry of ``faults`` is used by
one request, in order:

``500``, ``429``, ``503``, ``400``   that HTTP status (429 with ``Retry-After: 0``)
``("slow", seconds)``             answer after a delay
``"malformed"``                   a 200 whose body is not JSON
``"drop"``                        close the connection without an answer
``"echo_auth"``                   a 400 quoting the request's Authorization header
``("text", content)``             this content, whatever was asked
``("tool", arguments)``           a tool call with these arguments

``refuse`` names request forms it rejects the way llama.cpp's server
rejects ``json_schema`` (HTTP 500). Every request is kept (headers and body)
for the tests to inspect. The real model lives in the tests' real tier
(``test_real_model.py``).
"""

from __future__ import annotations

import collections
import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Policy = Callable[[Sequence[str], dict[str, Any]], str]


def first_action(actions: Sequence[str], body: dict[str, Any]) -> str:
    return actions[0]


def legal_actions(body: dict[str, Any]) -> list[str]:
    """The legal actions a request offers: its schema's enum, else its 'Legal actions:' line."""
    schema = None
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = response_format["json_schema"]["schema"]
    elif response_format.get("type") == "json_object":
        schema = response_format.get("schema")
    elif body.get("tools"):
        schema = body["tools"][0]["function"]["parameters"]
    if schema:
        return list(schema["properties"]["action"]["enum"])
    text = body["messages"][-1]["content"]
    line = re.findall(r"^Legal actions: (.*)$", text, flags=re.MULTILINE)[-1]
    return [a.strip() for a in line.split(",")]


class ScriptedServer:
    """``with ScriptedServer() as server: ... server.url`` (``http://127.0.0.1:PORT/v1``)."""

    def __init__(
        self,
        *,
        policy: Policy = first_action,
        faults: Iterable[Any] = (),
        refuse: Iterable[str] = (),
        delay: float = 0.0,
        reasoning: str = "I think this moves me closer.",
    ) -> None:
        self.policy = policy
        self.faults: collections.deque[Any] = collections.deque(faults)
        self.refuse = set(refuse)
        self.delay = delay
        self.reasoning = reasoning
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                server._handle(self)

        self.httpd = _Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- answering --------------------------------------------------------------------

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        body = json.loads(raw)
        with self.lock:
            self.requests.append(
                {"path": handler.path, "headers": dict(handler.headers), "body": body}
            )
            fault = self.faults.popleft() if self.faults else None
        if handler.path != "/v1/chat/completions":
            return self._send(handler, 404, {"error": {"message": f"no route {handler.path}"}})
        if self.delay:
            time.sleep(self.delay)
        form = _form_of(body)
        if fault is None and form in self.refuse:
            return self._send(handler, 500, {"error": {"message": f"unsupported {form}"}})
        if isinstance(fault, tuple) and fault[0] == "slow":
            time.sleep(fault[1])
            fault = None
        if fault in ("500", "503", "400"):
            return self._send(handler, int(fault), {"error": {"message": "scripted failure"}})
        if fault == "echo_auth":  # a careless service quoting the request back
            auth = handler.headers.get("Authorization", "")
            return self._send(handler, 400, {"error": {"message": f"bad request with {auth}"}})
        if fault == "429":
            return self._send(
                handler, 429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"}
            )
        if fault == "malformed":
            return self._send_raw(handler, 200, b"{this is not json")
        if fault == "drop":
            handler.close_connection = True
            handler.wfile.flush()
            handler.connection.close()
            return None
        message = self._message(body, form, fault)
        usage = {
            "prompt_tokens": sum(len(str(m.get("content"))) for m in body["messages"]) // 4,
            "completion_tokens": 7,
        }
        return self._send(handler, 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {**usage, "total_tokens": usage["prompt_tokens"] + 7},
        })  # fmt: skip

    def _message(self, body: dict[str, Any], form: str, fault: Any) -> dict[str, Any]:
        if isinstance(fault, tuple) and fault[0] == "text":
            return {"role": "assistant", "content": fault[1]}
        if isinstance(fault, tuple) and fault[0] == "tool":
            return _tool_message(fault[1])
        action = self.policy(legal_actions(body), body)
        wants_reasoning = "reasoning" in json.dumps(
            body.get("response_format") or body.get("tools") or {}
        )
        answer = (
            {"reasoning": self.reasoning, "action": action}
            if wants_reasoning
            else {"action": action}
        )
        if form == "tool":
            return _tool_message(json.dumps(answer))
        if form in ("json_schema", "json_object"):
            return {"role": "assistant", "content": json.dumps(answer)}
        return {"role": "assistant", "content": f"{self.reasoning}\nAction: {action}"}

    def _send(
        self,
        handler: http.server.BaseHTTPRequestHandler,
        status: int,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send_raw(handler, status, json.dumps(payload).encode(), headers)

    def _send_raw(
        self,
        handler: http.server.BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)


class _Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the script


def _form_of(body: dict[str, Any]) -> str:
    if body.get("tools"):
        return "tool"
    kind = (body.get("response_format") or {}).get("type")
    return kind if kind in ("json_schema", "json_object") else "text"


def _tool_message(arguments: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "act", "arguments": arguments},
            }
        ],
    }
