"""Live updates: one task watches the store and tells every open page what changed (SSE).

The task asks SQLite whether anything was written (``PRAGMA data_version``)
ten times a second; when something was, the run index reads again the runs
that changed and each subscriber gets ``{"runs": [rows], "deleted": [ids]}``.
Every few seconds it also settles runs whose supervisor died, as the
``mosaic`` commands do. A page that cannot keep up is told to ``resync``
instead of holding the task back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from mosaic_core.runs import reconcile
from mosaic_ui.api_runs import table_row

__all__ = ["Hub", "stream"]

KEEPALIVE = 15.0
RECONCILE_EVERY = 5.0


class Hub:
    """The watcher task and its subscribers (one queue per open page)."""

    def __init__(self, ui: Any, interval: float = 0.1) -> None:
        self.ui, self.interval = ui, interval
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    def start(self) -> None:
        if self._task is None:
            loop = asyncio.get_running_loop()
            self.ui.listeners.append(
                lambda changed, deleted: loop.call_soon_threadsafe(self._changed, changed, deleted)
            )
            self._task = loop.create_task(self._run())

    def _changed(self, changed: list[str], deleted: list[str]) -> None:
        """Tell every page what changed, whichever request or task noticed it."""
        rows = [table_row(r) for r in self.ui.index.rows(changed)]
        self.publish({"runs": rows, "deleted": deleted, "at": time.time()})

    async def stop(self) -> None:
        self.ui.listeners.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        self.subscribers.add(queue)
        self.start()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.subscribers.discard(queue)

    def publish(self, message: dict[str, Any]) -> None:
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"resync": True})

    async def _run(self) -> None:
        last_reconcile = 0.0
        while True:
            try:
                if time.monotonic() - last_reconcile > RECONCILE_EVERY:
                    last_reconcile = time.monotonic()
                    await asyncio.to_thread(lambda: reconcile(self.ui.store()))
                await asyncio.to_thread(self.ui.refresh)  # its listener publishes
                self.ticks += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bad moment must not end live updates
                self.publish({"warning": f"{type(exc).__name__}: {exc}"})
                await asyncio.sleep(1.0)
            await asyncio.sleep(self.interval)


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def stream(request: Request) -> StreamingResponse:
    """``GET /api/stream``: Server-Sent Events ``hello`` then ``runs`` as runs change."""
    hub: Hub = request.app.state.hub
    queue = hub.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield _frame("hello", {"home": str(hub.ui.home)})
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except asyncio.TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                yield _frame("runs", message)
        finally:
            hub.unsubscribe(queue)

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
