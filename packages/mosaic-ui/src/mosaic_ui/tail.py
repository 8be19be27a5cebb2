"""A live run's metrics straight from its ``events.jsonl``, as Server-Sent Events.

The run store indexes a run's telemetry as its supervisor reads it, and under
a flood of other runs that index can lag. A run page does not wait for it: it
draws what the store holds, then follows the file itself from the byte offset
the store had indexed (the page gets it with the curve), parsed by the host's
:class:`~mosaic_core.runs.TelemetryReader`. Each SSE message carries its
offset as its id, so a reconnecting browser resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mosaic_core.runs import ACTIVE_STATUSES, TelemetryEvent, TelemetryReader
from mosaic_ui.http import ApiError, query_int, ui_state

__all__ = ["follow"]

POLL = 0.05
CHUNK = 1 << 20
KEEPALIVE = 15.0


def _frame(event: str, data: dict[str, Any], offset: int | None = None) -> bytes:
    head = f"id: {offset}\n" if offset is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _read(path: str, offset: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(CHUNK)
    except FileNotFoundError:
        return b""


async def follow(request: Request) -> Response:
    """``GET /api/runs/{run_id}/stream?offset=B&seq=N``: ``metrics`` events
    (``{"points": [{"step", "timestamp", "values"}], "offset"}``) as the worker
    writes them, then ``end`` once the run has ended and the file is read."""
    ui = ui_state(request)
    try:
        run = await asyncio.to_thread(lambda: ui.store().get(request.path_params["run_id"]))
        offset = query_int(request, "offset", None, 0, 2**62)
        seq = query_int(request, "seq", None, 0, 2**62)
    except ApiError as exc:
        return Response(json.dumps({"error": str(exc), "field": exc.field}), exc.status,
                        media_type="application/json")  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - RunNotFound and friends, as the JSON endpoints do
        return Response(json.dumps({"error": str(exc), "field": None}), 404,
                        media_type="application/json")  # fmt: skip
    resume = request.headers.get("last-event-id", "")
    if resume.isdigit():
        offset, seq = int(resume), None
    run_id = run["run_id"]
    path = str(ui.store().run_dir(run_id) / "events.jsonl")
    if offset is None:
        offset, seq = run["ingested_bytes"], run["next_seq"]
    reader = TelemetryReader(expected_run_id=run_id)
    reader.next_seq = seq if seq is not None else 0

    async def events() -> AsyncIterator[bytes]:
        position = offset
        quiet = 0.0
        yield _frame("hello", {"run_id": run_id, "offset": position}, position)
        while True:
            size = os.path.getsize(path) if os.path.exists(path) else 0
            if size > position:
                data = await asyncio.to_thread(_read, path, position)
                position += len(data)
                points = [
                    {"step": item.payload.get("step"), "timestamp": item.timestamp,
                     "values": item.payload.get("values") or {}}
                    for item in reader.feed(data)
                    if isinstance(item, TelemetryEvent) and item.event == "metrics"
                ]  # fmt: skip
                quiet = 0.0
                if points:
                    yield _frame("metrics", {"points": points, "offset": position}, position)
                continue
            row = ui.index.rows([run_id])
            if row and row[0]["status"] not in ACTIVE_STATUSES:
                yield _frame("end", {"status": row[0]["status"], "offset": position}, position)
                return
            await asyncio.sleep(POLL)
            quiet += POLL
            if quiet >= KEEPALIVE:
                quiet = 0.0
                yield b": keepalive\n\n"

    headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
