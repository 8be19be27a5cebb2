"""``mosaic ui``, added to the ``mosaic`` command through its commands hook.

Only argparse here: the server's libraries are imported when the command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from mosaic_core import hookimpl

__all__ = ["mosaic_register_commands"]

DEFAULT_PORT = 8765


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port number 0-65535 (0: any free), got {text!r}"
        )
    return value


def _run(args: argparse.Namespace) -> int:
    from mosaic_ui.serve import serve

    return serve(
        host=args.host,
        port=args.port,
        open_browser=args.open,
        token=args.token,
        no_token=args.no_token,
        allow_hosts=args.allow_host,
    )


@hookimpl
def mosaic_register_commands(register: Callable[..., argparse.ArgumentParser]) -> None:
    parser = register(
        "ui",
        help="the web front end: launch, watch, compare and cancel runs in a browser",
        description="Serve MOSAIC's web front end for $MOSAIC_HOME. It listens on 127.0.0.1 "
        "and prints a URL with a one-time token; open it (or pass --open).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default "
        "%(default)s; anything else is reachable from other machines)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="port (default %(default)s; 0 picks a free one)",
    )
    parser.add_argument("--open", action="store_true", help="open the URL in a browser")
    parser.add_argument(
        "--token",
        default=None,
        help="the access token (default: $MOSAIC_UI_TOKEN, else a random one)",
    )
    parser.add_argument(
        "--no-token", action="store_true", help="no token (only with a loopback --host)"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests whose Host is NAME (a proxy's name); repeat",
    )
    parser.set_defaults(func=_run)
