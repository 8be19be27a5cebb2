"""Starting the server: the checks that keep it private, the URL with its token, uvicorn."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
import threading
import webbrowser

from mosaic_core import ConfigError

__all__ = ["check_listen", "is_loopback", "serve"]

TOKEN_ENV = "MOSAIC_UI_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"--host {host}: listening beyond this machine needs a token; drop --no-token "
            "(a random token is made) or give --token",
            field="--host",
            value=host,
        )
    if token is not None and len(token) < 16:
        raise ConfigError.bad_value("--token", "(hidden)", "at least 16 characters")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); "
            "choose another port, or --port 0 for any free one",
            field="--port",
            value=port,
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = False,
    token: str | None = None,
    no_token: bool = False,
    allow_hosts: list[str] | None = None,
) -> int:
    """Run the server until interrupted; returns the exit status."""
    import uvicorn

    from mosaic_ui.app import create_app

    if not no_token:
        token = token or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    else:
        token = None
    check_listen(host, token)
    sock = _bind(host, port)
    port = sock.getsockname()[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
    shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    app = create_app(token=token, host=host, port=port, allow_hosts=allow_hosts or [])
    print(f"mosaic ui: serving {app.state.ui.home} at", flush=True)
    print(f"    {url}", flush=True)
    print("(Ctrl-C stops it)", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    # Open event streams never end by themselves: give them 3 s when stopping.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=3)  # fmt: skip
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    print("mosaic ui: stopped", file=sys.stderr)
    return 0
