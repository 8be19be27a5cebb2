"""What keeps the server private: Host and Origin checks, the token and its cookie.

- **Host**: a request whose ``Host`` is not a name of this server (loopback
  names, the address it listens on, ``--allow-host`` names) is refused, so a
  page on another site cannot reach it by rebinding its own DNS name to
  127.0.0.1. A server listening on every address accepts any Host: the token
  protects it there.
- **Origin**: a request that carries an ``Origin`` other than this server's
  is refused (cross-site reads and writes, WebSocket hijacking); a mutating
  request (POST, PUT, PATCH, DELETE) must carry this server's Origin.
- **Token**: ``/?token=T`` sets an HttpOnly, SameSite=Strict cookie and
  redirects to ``/`` (the token leaves the address bar); every ``/api/`` call
  needs that cookie or ``Authorization: Bearer T``, else 401. The page's own
  files hold no data and need neither.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

__all__ = ["Guard", "cookie_name"]

Scope = dict[str, Any]
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
]


def cookie_name(port: int) -> str:
    """Cookies are not kept apart by port: each server's cookie is named after its own."""
    return f"mosaic_ui_{port}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (_header(scope, b"cookie") or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


class Guard:
    """ASGI middleware: every HTTP request and WebSocket passes these checks first."""

    def __init__(
        self, app: Any, *, token: str | None, host: str, port: int, allow_hosts: Iterable[str] = ()
    ) -> None:
        self.app, self.token, self.port = app, token, port
        self.cookie = cookie_name(port)
        wildcard = host in ("0.0.0.0", "::", "[::]")
        names = {*LOOPBACK_NAMES, host, *allow_hosts} if not wildcard else set()
        self.hosts: set[str] | None = None if wildcard else {n.lower() for n in names}

    # -- checks -----------------------------------------------------------------

    def _host_ok(self, host: str | None) -> bool:
        if host is None:
            return False
        if self.hosts is None:
            return True
        name = host.lower()
        if name.startswith("["):
            name = name[: name.index("]") + 1] if "]" in name else name
        elif name.count(":") == 1:
            name = name.split(":")[0]
        return name in self.hosts

    def _origin_ok(self, scope: Scope, origin: str | None, host: str) -> bool:
        if origin is None:
            return True
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return origin.lower() == f"{scheme}://{host}".lower()

    def authorised(self, scope: Scope) -> bool:
        if self.token is None:
            return True
        given = _cookies(scope).get(self.cookie)
        bearer = _header(scope, b"authorization") or ""
        if bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    # -- ASGI -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        origin = _header(scope, b"origin")
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        if not self._host_ok(host):
            await self._deny(scope, send, 403, f"Host {host!r} is not this server's")
            return
        assert host is not None
        if not self._origin_ok(scope, origin, host):
            await self._deny(scope, send, 403, f"cross-origin request from {origin!r}")
            return
        if scope["type"] == "http" and method in MUTATING and origin is None:
            await self._deny(scope, send, 403, "a change needs this server's Origin header")
            return
        if scope["type"] == "http" and path == "/" and self.token is not None:
            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
            if given:
                await self._exchange(scope, send, given[0])
                return
        guarded = path.startswith("/api/") or path == "/api" or scope["type"] == "websocket"
        if guarded and not self.authorised(scope):
            await self._deny(scope, send, 401, "no valid token: open the URL `mosaic ui` printed")
            return
        await self.app(scope, receive, self._secure(send))

    def _secure(self, send: Any) -> Any:
        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        return wrapped

    async def _exchange(self, scope: Scope, send: Any, given: str) -> None:
        assert self.token is not None
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            await self._deny(scope, send, 401, "wrong token: open the URL `mosaic ui` printed")
            return
        cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send({
            "type": "http.response.start", "status": 303,
            "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()),
                        (b"cache-control", b"no-store"), (b"content-length", b"0"), *HEADERS],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    async def _deny(self, scope: Scope, send: Any, status: int, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + status, "reason": message})
            return
        body = json.dumps({"error": message}).encode()
        await send({
            "type": "http.response.start", "status": status,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()), *HEADERS],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})
