"""The ASGI application: the JSON API, live updates, the page and its files."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from mosaic_ui import api_eval, api_families, api_launch, api_play, api_runs
from mosaic_ui.__about__ import __version__
from mosaic_ui.http import endpoint, json_response, ui_state
from mosaic_ui.live import Hub, stream
from mosaic_ui.openapi import document
from mosaic_ui.play import PlayManager
from mosaic_ui.security import Guard
from mosaic_ui.state import UIState
from mosaic_ui.tail import follow

__all__ = ["STATIC", "create_app"]

STATIC = pathlib.Path(__file__).parent / "static"


@endpoint
def session(request: Request) -> dict[str, Any]:
    ui = ui_state(request)
    return {"version": __version__, "home": str(ui.home), "runs": len(ui.index)}


async def openapi(request: Request) -> Response:
    return json_response(document())


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


def create_app(
    *,
    home: str | pathlib.Path | None = None,
    token: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_hosts: Iterable[str] = (),
    plugins: Sequence[Any] = (),
) -> Starlette:
    """The server for ``home`` (default ``$MOSAIC_HOME``). ``token`` None means none is
    needed (loopback only: :func:`mosaic_ui.serve.check_listen`); ``plugins`` adds worker
    plugin modules to discovery (for embedding and tests)."""
    ui = UIState(home, plugins)
    hub = Hub(ui)
    play = PlayManager()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub.start()
        asyncio.get_running_loop().run_in_executor(None, ui.discovery)  # warm for the first page
        yield
        await play.close()
        await hub.stop()

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Route("/api/session", session, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/stream", stream, methods=["GET"]),
        Route("/api/runs/{run_id}/stream", follow, methods=["GET"]),
        *api_runs.routes,
        *api_launch.routes,
        *api_eval.routes,
        *api_families.routes,
        *api_play.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(Guard, token=token, host=host, port=port, allow_hosts=list(allow_hosts)),
        Middleware(GZipMiddleware, minimum_size=1024),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.ui = ui
    app.state.hub = hub
    app.state.play = play
    return app
