"""A small client for OpenAI-compatible ``/v1/chat/completions`` (vLLM, Ollama, llama.cpp, hosted).

Standard library only (``http.client`` over one kept-alive connection), so
every retry is ours to count. A request is retried with exponential backoff
(or the server's ``Retry-After``) on 408, 429, 5xx, a timeout, a dropped
connection or a body that is not JSON; :class:`ClientStats` counts each
retry by reason and adds up token usage. The API key is read once from the
environment variable the config names and only ever travels in the
``Authorization`` header: no message, log line or record contains it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mosaic_core import MosaicError

__all__ = ["ChatClient", "ChatReply", "ClientStats", "EndpointError", "redacted"]

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_WAIT = 30.0


class EndpointError(MosaicError):
    """The endpoint refused a request, or kept failing until the retries ran out.

    ``status`` is the last HTTP status (None for a timeout or a dropped
    connection); ``transient`` says whether retrying might have helped.
    """

    def __init__(self, message: str, *, status: int | None, transient: bool) -> None:
        self.status = status
        self.transient = transient
        super().__init__(message)


@dataclasses.dataclass
class ClientStats:
    """What the client did, for telemetry: requests, retries by reason, tokens, time."""

    requests: int = 0
    retries: int = 0
    retry_reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Wall time inside HTTP exchanges, waits between retries included.
    seconds: float = 0.0

    def count_retry(self, reason: str) -> None:
        self.retries += 1
        self.retry_reasons[reason] = self.retry_reasons.get(reason, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ChatReply:
    """One completion: its text, its tool calls, its usage and how long it took."""

    content: str | None
    tool_calls: tuple[dict[str, Any], ...]
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency: float
    attempts: int


def redacted(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


class ChatClient:
    """Posts chat completions to ``base_url`` (``.../v1``, as the OpenAI SDK takes it)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        stats: ClientStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MosaicError(f"base_url {base_url!r}: expected http(s)://host[:port][/v1]")
        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.stats = stats if stats is not None else ClientStats()
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        # A bare host gets /v1, as every OpenAI-compatible server mounts it there.
        self._path = (parts.path.rstrip("/") or "/v1") + "/chat/completions"
        self._key = api_key or None
        self._sleep = sleep
        self._log = log
        self._conn: http.client.HTTPConnection | None = None

    @property
    def url(self) -> str:
        port = f":{self._port}" if self._port else ""
        return f"{self._scheme}://{self._host}{port}{self._path}"

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        retry_errors: bool = True,
        **params: Any,
    ) -> ChatReply:
        """One completion. ``params`` go into the body (temperature, response_format ...).

        With ``retry_errors=False`` a 4xx or a 500 is raised at once (not
        transient): that is how a caller probes whether the server takes a
        request form. 429, 502-504, timeouts and dropped connections are
        retried either way.
        """
        body = json.dumps({"model": self.model, "messages": list(messages), **params}).encode()
        started = time.perf_counter()
        attempt = 0
        try:
            while True:
                attempt += 1
                self.stats.requests += 1
                reason, detail, wait, status = self._attempt(body, retry_errors)
                if reason is None:
                    assert isinstance(detail, dict)
                    return self._reply(detail, time.perf_counter() - started, attempt)
                if attempt > self.max_retries:
                    self.stats.failures += 1
                    raise EndpointError(
                        f"{self.url}: {detail} (gave up after {attempt} attempts)",
                        status=status,
                        transient=True,
                    )
                self.stats.count_retry(reason)
                delay = min(
                    _MAX_WAIT, wait if wait is not None else self.backoff * 2 ** (attempt - 1)
                )
                if self._log is not None:
                    self._log(f"{detail}; retry {attempt} of {self.max_retries} in {delay:.2f} s")
                self._sleep(delay)
        finally:
            self.stats.seconds += time.perf_counter() - started

    def _attempt(
        self, body: bytes, retry_errors: bool
    ) -> tuple[str | None, Any, float | None, int | None]:
        """``(None, payload, None, 200)`` on success, else ``(retry reason, message, wait,
        status)``; an error not worth retrying is raised."""
        try:
            status, headers, data = self._post(body)
        except TimeoutError:
            self._drop()
            return "timeout", f"no reply within {self.timeout:g} s", None, None
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            return "connection", f"connection failed ({type(exc).__name__}: {exc})", None, None
        text = redacted(data.decode("utf-8", "replace"), self._key)
        if status != 200:
            message = f"HTTP {status}: {_excerpt(text)}"
            transient = status in _RETRY_STATUSES and (retry_errors or status not in (408, 500))
            if not transient:
                self.stats.failures += 1
                raise EndpointError(f"{self.url}: {message}", status=status, transient=False)
            reason = "429" if status == 429 else "5xx" if status >= 500 else str(status)
            return reason, message, _retry_after(headers.get("Retry-After")), status
        try:
            payload = json.loads(text)
            if not isinstance(payload, dict) or not payload.get("choices"):
                raise ValueError("no choices")
        except ValueError:
            return (
                "malformed",
                f"a reply that is not a chat completion: {_excerpt(text)}",
                None,
                200,
            )
        return None, payload, None, 200

    def _post(self, body: bytes) -> tuple[int, http.client.HTTPMessage, bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        while True:
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed meanwhile: one fresh try.
                self._drop()
                if not reused:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self._drop()
            return response.status, response.headers, data

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _reply(self, payload: dict[str, Any], latency: float, attempts: int) -> ChatReply:
        choice = payload["choices"][0] if isinstance(payload["choices"], list) else {}
        message = choice.get("message") or {}
        usage = payload.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        self.stats.prompt_tokens += prompt
        self.stats.completion_tokens += completion
        calls = message.get("tool_calls") or ()
        return ChatReply(
            content=message.get("content") if isinstance(message.get("content"), str) else None,
            tool_calls=tuple(c for c in calls if isinstance(c, dict)),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=prompt,
            completion_tokens=completion,
            latency=latency,
            attempts=attempts,
        )

    def close(self) -> None:
        self._drop()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
