"""Small helpers every endpoint uses: JSON in and out, errors as the CLI words them."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mosaic_core import ConfigError, MosaicError, PluginError
from mosaic_core.runs import RunNotFound, RunStateError

__all__ = ["ApiError", "body_json", "endpoint", "json_response", "query_int", "ui_state"]


class ApiError(Exception):
    """An error with its HTTP status, answered as ``{"error": ..., "field": ...}``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


def json_response(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, separators=(",", ":"), default=str, allow_nan=False)
    return Response(body, status, media_type="application/json",
                    headers={"cache-control": "no-store"})  # fmt: skip


def _error(status: int, message: str, field: str | None = None) -> Response:
    return JSONResponse({"error": message, "field": field}, status,
                        headers={"cache-control": "no-store"})  # fmt: skip


def _answer(exc: BaseException) -> Response:
    """A user error as the CLI says it (the same text, no traceback) with its status."""
    if isinstance(exc, ApiError):
        return _error(exc.status, str(exc), exc.field)
    if isinstance(exc, RunNotFound):
        return _error(404, str(exc))
    if isinstance(exc, RunStateError):
        return _error(409, str(exc))
    if isinstance(exc, ConfigError):
        return _error(422, str(exc), exc.field)
    if isinstance(exc, PluginError):
        return _error(422, str(exc), "worker")
    if isinstance(exc, MosaicError):
        return _error(400, str(exc))
    raise exc


def endpoint(
    func: Callable[[Request], Any],
) -> Callable[[Request], Awaitable[Response]]:
    """A blocking handler (it reads SQLite and files) run in a worker thread, its
    MOSAIC errors answered as JSON."""

    def timed(request: Request) -> Response:
        started = time.perf_counter()
        result = func(request)
        response = result if isinstance(result, Response) else json_response(result)
        # The handler's own time, JSON included (browsers show it; benchmarks read it).
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1e3:.1f}"
        return response

    @functools.wraps(func)
    async def handler(request: Request) -> Response:
        try:
            if getattr(func, "wants_body", False):
                request.state.body = await body_json(request)
            response: Response = await run_in_threadpool(timed, request)
        except (MosaicError, ApiError) as exc:
            return _answer(exc)
        return response

    return handler


def with_body(func: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Mark a handler as taking a JSON object body (``request.state.body``)."""
    func.wants_body = True  # type: ignore[attr-defined]
    return func


async def body_json(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ApiError(415, "expected a JSON body (Content-Type: application/json)")
    raw = await request.body()
    if len(raw) > 1 << 20:
        raise ApiError(413, "the body is over 1 MiB")
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"expected a JSON object, got {type(data).__name__}")
    return data


def query_int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    """An integer query parameter within ``[low, high]``, or a 422 naming it."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(422, f"{name}={text!r}: expected a whole number from {low} to {high}", name)
    return value


def ui_state(request: Request) -> Any:
    return request.app.state.ui
