"""Each item of the security list, against a real server: loopback by default, the token
and its cookie, Host and Origin checks, paths, and secrets."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import urllib.parse

import pytest
from conftest import TOKEN, Server
from mosaic_ui.openapi import document
from mosaic_ui.serve import check_listen

from mosaic_core import ConfigError


def _raw(server: Server, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """A request with exactly these headers (http.client sets Host only if not given)."""
    parts = urllib.parse.urlsplit(server.base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    head = dict(headers or {})
    conn.putrequest(method, path, skip_host="Host" in head, skip_accept_encoding=True)
    for key, value in head.items():
        conn.putheader(key, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def _every_api_call() -> list[tuple[str, str]]:
    """Each documented operation, its path parameters filled in."""
    calls = []
    for path, ops in document()["paths"].items():
        concrete = path.replace("{run_id}", "01ABC").replace("{path}", "config.json")
        concrete = concrete.replace("{worker}", "bandit").replace("{job}", "0123456789abcdef")
        calls += [(method.upper(), concrete) for method in ops]
    return calls


def test_it_listens_on_loopback_only_by_default(server: Server) -> None:
    host = urllib.parse.urlsplit(server.url)
    assert host.hostname == "127.0.0.1"
    assert _raw(server, "GET", "/")[0] == 200
    other = socket.socket()
    other.settimeout(5)
    try:  # another loopback address of this machine: not listened on
        with pytest.raises(OSError):
            other.connect(("127.0.0.2", host.port))
    finally:
        other.close()


def test_every_api_call_without_the_token_is_401(server: Server) -> None:
    origin = {"Origin": server.base}
    for method, path in _every_api_call():
        status, _, body = _raw(server, method, path, origin)
        assert status == 401, (method, path, body)
        wrong = {**origin, "Authorization": "Bearer not-the-token-at-all"}
        assert _raw(server, method, path, wrong)[0] == 401, (method, path)
        cookie = {**origin, "Cookie": f"mosaic_ui_1={TOKEN}"}  # another server's cookie name
        assert _raw(server, method, path, cookie)[0] == 401, (method, path)


def test_the_token_in_the_url_becomes_an_httponly_strict_cookie(server: Server) -> None:
    status, headers, _ = _raw(server, "GET", f"/?token={TOKEN}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    port = urllib.parse.urlsplit(server.base).port
    assert cookie.startswith(f"mosaic_ui_{port}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    assert _raw(server, "GET", "/api/runs", jar)[0] == 200
    status, _, body = _raw(server, "GET", "/?token=wrong-token-123456")
    assert status == 401 and b"wrong token" in body
    assert _raw(server, "GET", "/api/runs?token=" + TOKEN)[0] == 401  # only the page takes it


def test_a_wildcard_host_refuses_to_start_without_a_token(home: pathlib.Path) -> None:
    env = dict(os.environ, MOSAIC_HOME=str(home))
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from mosaic_core.cli import main; sys.exit(main())",
         "ui", "--host", "0.0.0.0", "--no-token", "--port", "0"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mosaic: error: --host 0.0.0.0: listening beyond this machine needs a token; drop "
        "--no-token (a random token is made) or give --token"
    )
    assert done.stdout == ""
    check_listen("0.0.0.0", "a-long-enough-token")  # with a token it may
    check_listen("127.0.0.1", None)  # loopback without a token may too
    with pytest.raises(ConfigError, match="at least 16 characters"):
        check_listen("127.0.0.1", "short")


def test_a_rebound_host_name_is_refused(server: Server) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    port = urllib.parse.urlsplit(server.base).port
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io", ""):
        status, _, body = _raw(server, "GET", "/api/runs", {**auth, "Host": host})
        assert status == 403 and b"is not this server" in body, host
        assert _raw(server, "GET", "/", {"Host": host})[0] == 403, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert _raw(server, "GET", "/api/runs", {**auth, "Host": host})[0] == 200, host


def test_allow_host_admits_a_proxy_name(home: pathlib.Path) -> None:
    proxied = Server(home, "--allow-host", "mosaic.internal")
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert _raw(proxied, "GET", "/api/runs", {**auth, "Host": "mosaic.internal"})[0] == 200
        assert _raw(proxied, "GET", "/api/runs", {**auth, "Host": "other.internal"})[0] == 403
    finally:
        proxied.stop()


def test_cross_origin_requests_and_changes_without_origin_are_refused(server: Server) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    body = json.dumps({"worker": "bandit", "config": {"total_steps": 100}}).encode()
    for origin in (
        "http://attacker.example",
        "null",
        server.base.replace("127.0.0.1", "localhost"),
    ):
        status, _, text = _raw(server, "GET", "/api/runs", {**auth, "Origin": origin})
        assert status == 403 and b"cross-origin" in text, origin
        status, _, _ = _raw(server, "POST", "/api/launch", {**auth, "Origin": origin}, body)
        assert status == 403, origin
    status, _, text = _raw(server, "POST", "/api/launch", auth, body)
    assert status == 403 and b"Origin" in text
    for method, path in _every_api_call():
        if method in ("POST", "DELETE"):
            assert _raw(server, method, path, auth, b"{}")[0] == 403, (method, path)
    assert server.get("/api/runs")[1]["total"] == 0  # nothing was started
    status, _, _ = _raw(server, "POST", "/api/launch", {**auth, "Origin": server.base}, body)
    assert status == 201


def test_paths_outside_the_run_directory_are_404(server: Server) -> None:
    status, data = server.request("POST", "/api/launch", {"worker": "bandit",
                                  "config": {"total_steps": 100}})  # fmt: skip
    run_id = data["runs"][0]["run_id"]
    server.wait_for(run_id, ("completed",))
    secret = server.home.parent / "outside.txt"
    secret.write_text("outside MOSAIC_HOME")
    (server.home / "runs" / run_id / "link.txt").symlink_to(secret)
    (server.home / "runs" / run_id / ".hidden").write_text("dot file")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    attempts = [
        f"/api/runs/{run_id}/files/../../mosaic.db",
        f"/api/runs/{run_id}/files/..%2F..%2Fmosaic.db",
        f"/api/runs/{run_id}/files/%2e%2e/%2e%2e/mosaic.db",
        f"/api/runs/{run_id}/files/link.txt",
        f"/api/runs/{run_id}/files/.hidden",
        f"/api/runs/{run_id}/files/{secret}",
        f"/api/runs/{run_id}/files//etc/passwd",
        f"/api/runs/{run_id}/files/",
        "/api/runs/..%2F..%2Fetc/files/passwd",
        "/api/runs/%2e%2e/events",
        "/api/runs/..",
        "/api/runs/%2E%2E%2F/logs?name=stdout",
    ]
    for path in attempts:
        status, _, body = _raw(server, "GET", path, auth)
        assert status == 404, (path, status, body)
        assert b"outside MOSAIC_HOME" not in body and b"SQLite" not in body
    assert _raw(server, "GET", f"/api/runs/{run_id}/files/config.json", auth)[0] == 200


def test_secrets_never_appear_in_any_response(home: pathlib.Path, plugins: pathlib.Path) -> None:
    server = Server(home, pythonpath=plugins)
    secret = "sk-very-secret-value-42"
    try:
        status, data = server.request("POST", "/api/launch", {
            "worker": "secretive", "config": {"api_key": secret}})  # fmt: skip
        assert status == 201 and secret not in json.dumps(data)
        run_id = data["runs"][0]["run_id"]
        run = server.wait_for(run_id, ("completed", "failed"))
        assert run["status"] == "completed", run["reason"]
        assert run["summary"]["key_length"] == len(secret)  # the worker had it
        assert run["config"]["api_key"] == "***"
        bodies = [json.dumps(run)]
        for path in (
            "/api/runs",
            f"/api/runs/{run_id}/events",
            f"/api/runs/{run_id}/metrics",
            "/api/workers",
            "/api/workers/secretive/schema",
            f"/api/compare?run={run_id}",
            f"/api/runs/{run_id}/logs?name=supervisor",
            f"/api/runs/{run_id}/logs",
        ):
            status, answer = server.get(path)
            assert status == 200, path
            bodies.append(json.dumps(answer))
        for item in run["files"]:
            status, answer = server.get(f"/api/runs/{run_id}/files/{item['path']}")
            bodies.append(answer.decode(errors="replace") if isinstance(answer, bytes)
                          else json.dumps(answer))  # fmt: skip
        leaks = [b for b in bodies if secret in b]
        assert not leaks
        status, error = server.request("POST", "/api/launch", {
            "worker": "secretive", "config": {"api_key": 12345678}})  # fmt: skip
        assert status == 422 and "12345678" not in json.dumps(error)
    finally:
        server.stop()


def test_answers_carry_headers_that_keep_the_page_to_itself(server: Server) -> None:
    for path in ("/", "/static/js/app.js"):
        status, headers, _ = _raw(server, "GET", path)
        assert status == 200, path
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    status, headers, _ = _raw(server, "GET", "/api/runs", {"Authorization": f"Bearer {TOKEN}"})
    assert headers["cache-control"] == "no-store"
