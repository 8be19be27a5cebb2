"""The runs API: the table, one run (metrics, logs, events, files), cancel, delete, compare."""

from __future__ import annotations

import mimetypes
import os
import pathlib
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from mosaic_core.query import (
    compare_runs,
    group_curves,
    group_statistics,
    parse_filter,
    run_details,
    select_runs,
)
from mosaic_core.runs import cancel_run, remove_run
from mosaic_ui.http import ApiError, endpoint, query_int, ui_state
from mosaic_ui.series import new_rows

__all__ = ["routes"]

#: Files a browser may show in the page; anything else is downloaded.
INLINE = frozenset({".png", ".gif", ".jpg", ".jpeg", ".webp", ".mp4", ".webm", ".txt", ".log",
                    ".json", ".jsonl", ".csv"})  # fmt: skip
TEXT = frozenset({".txt", ".log", ".json", ".jsonl", ".csv"})
MAX_FILES = 500
LOG_CHUNK = 64 << 10


def _run(request: Request) -> dict[str, Any]:
    """The run named in the path, by id or unambiguous prefix (RunNotFound: 404)."""
    run: dict[str, Any] = ui_state(request).store().get(request.path_params["run_id"])
    return run


@endpoint
def list_runs(request: Request) -> dict[str, Any]:
    ui = ui_state(request)
    ui.refresh(wait=not len(ui.index))  # the watcher keeps it fresh; wait only the first time
    q = request.query_params
    filters = [parse_filter(text) for text in q.getlist("filter")]
    limit = query_int(request, "limit", 500, 1, 100_000)
    offset = query_int(request, "offset", 0, 0, 10**9) or 0
    rows, total = ui.index.table(
        ui.store(), worker=q.get("worker") or None, status=q.get("status") or None,
        group=q.get("group") or None, filters=filters, search=q.get("q") or None,
        sort=q.get("sort") or None, metric=q.get("metric") or None, stat=q.get("stat") or "tail",
        offset=offset, limit=limit,
    )  # fmt: skip
    return {"runs": [table_row(r) for r in rows], "total": total, "offset": offset, "limit": limit}


def table_row(row: dict[str, Any]) -> dict[str, Any]:
    """A table row: the run without its config (the run page has it)."""
    keep = ("run_id", "worker_type", "status", "reason", "algorithm", "env_id", "seed", "group",
            "step", "total_steps", "metric", "created_at", "started_at", "ended_at", "anomalies",
            "events")  # fmt: skip
    return {k: row.get(k) for k in keep}


@endpoint
def list_groups(request: Request) -> dict[str, Any]:
    return {"groups": ui_state(request).store().groups()}


def _files(run_dir: pathlib.Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for root, dirs, names in os.walk(run_dir):
        dirs.sort()
        for name in sorted(names):
            path = pathlib.Path(root) / name
            if path.is_symlink() or name.startswith("."):
                continue
            out.append({"path": path.relative_to(run_dir).as_posix(), "size": path.stat().st_size})
            if len(out) >= MAX_FILES:
                return out
    return out


@endpoint
def get_run(request: Request) -> dict[str, Any]:
    store = ui_state(request).store()
    run = run_details(store, _run(request)["run_id"])
    run["files"] = _files(pathlib.Path(run["run_dir"]))
    run.pop("pid_start", None)
    run.pop("supervisor_start", None)
    return run


@endpoint
def get_metrics(request: Request) -> dict[str, Any]:
    """Curves of the keys asked for: LTTB-thinned to ``points``, or, with ``after``
    (a ``last_row`` from an earlier answer), only the rows written since."""
    ui = ui_state(request)
    store = ui.store()
    run = _run(request)  # read first: whatever is indexed after it, the stream brings
    run_id = run["run_id"]
    keys = request.query_params.getlist("key")
    known = None
    if not keys:  # every key: a scan of the run's metric rows, so only when asked
        known = keys = store.metric_keys([run_id])[run_id]
    points = query_int(request, "points", 2000, 3, 100_000)
    after = query_int(request, "after", None, 0, 2**62)
    out: dict[str, Any] = {}
    for key in keys:
        if after is not None:
            out[key] = new_rows(store, run_id, key, after)
        else:
            view = ui.series.view(store, run_id, key, points)
            out[key] = view if view["count"] else None
    return {"run_id": run_id, "keys": known, "series": out,
            "follow": {"offset": run["ingested_bytes"], "seq": run["next_seq"]}}  # fmt: skip


@endpoint
def get_events(request: Request) -> dict[str, Any]:
    store = ui_state(request).store()
    run_id = _run(request)["run_id"]
    limit = query_int(request, "limit", 200, 1, 10_000) or 200
    events = store.events(run_id)
    return {"total": len(events), "events": events[-limit:], "anomalies": store.anomalies(run_id)}


@endpoint
def get_logs(request: Request) -> dict[str, Any]:
    """``stdout.log`` or ``stderr.log`` from byte ``offset`` (default: its last 64 KiB)."""
    store = ui_state(request).store()
    run_id = _run(request)["run_id"]
    name = request.query_params.get("name", "stdout")
    if name not in ("stdout", "stderr", "supervisor"):
        raise ApiError(422, f"name={name!r}: expected stdout, stderr or supervisor", "name")
    path = store.run_dir(run_id) / f"{name}.log"
    size = path.stat().st_size if path.exists() else 0
    offset = query_int(request, "offset", None, 0, 2**62)
    start = max(0, size - LOG_CHUNK) if offset is None else min(offset, size)
    data = b""
    if size > start:
        with path.open("rb") as handle:
            handle.seek(start)
            data = handle.read(min(size - start, 4 * LOG_CHUNK))
    return {"name": name, "offset": start, "next": start + len(data), "size": size,
            "text": data.decode("utf-8", errors="replace")}  # fmt: skip


@endpoint
def get_file(request: Request) -> Response:
    """A file of the run directory; anything that resolves outside it is 404."""
    store = ui_state(request).store()
    run_dir = store.run_dir(_run(request)["run_id"]).resolve()
    relative = request.path_params["path"]
    target = (run_dir / relative).resolve()
    if (
        not target.is_relative_to(run_dir)
        or target == run_dir
        or not target.is_file()
        or any(part.startswith(".") for part in pathlib.PurePosixPath(relative).parts)
    ):
        raise ApiError(404, f"no file {relative!r} in run {run_dir.name}")
    suffix = target.suffix.lower()
    kind = "text/plain; charset=utf-8" if suffix in TEXT else None
    kind = kind or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    disposition = "inline" if suffix in INLINE else "attachment"
    return FileResponse(target, media_type=kind, content_disposition_type=disposition,
                        filename=target.name)  # fmt: skip


@endpoint
def post_cancel(request: Request) -> dict[str, Any]:
    store = ui_state(request).store()
    run = cancel_run(store, _run(request)["run_id"], wait=False)
    ui_state(request).poke()
    return {"run_id": run["run_id"], "status": run["status"], "cancel_requested": True}


@endpoint
def delete_run(request: Request) -> dict[str, Any]:
    ui = ui_state(request)
    run_id = remove_run(ui.store(), _run(request)["run_id"])
    ui.series.drop(run_id)
    ui.poke()
    return {"removed": run_id}


@endpoint
def get_compare(request: Request) -> dict[str, Any]:
    """Runs (``run=``, repeat) and/or a ``group``: config diff and final metrics, curves
    (``key=``, repeat) with seeds as a mean and 95% band, and IQM with its CI."""
    store = ui_state(request).store()
    q = request.query_params
    rows = select_runs(store, q.getlist("run"), group=q.get("group") or None)
    ids = [r["run_id"] for r in rows]
    compared = compare_runs(store, ids, q.getlist("key") or None)
    keys = q.getlist("key") or list(compared["metrics"])[:1]
    curves = group_curves(
        store, rows, keys, group_by=q.get("group_by") or "seed",
        points=query_int(request, "points", 200, 2, 5000) or 200,
        smooth=query_int(request, "smooth", None, 1, 10_000),
    )  # fmt: skip
    stats = group_statistics(store, rows, group=q.get("group") or None,
                             metric=q.get("metric") or None, reps=2000)  # fmt: skip
    return {"compare": compared, "keys": keys, "curves": curves, "statistics": stats}


routes = [
    Route("/api/runs", list_runs, methods=["GET"]),
    Route("/api/groups", list_groups, methods=["GET"]),
    Route("/api/compare", get_compare, methods=["GET"]),
    Route("/api/runs/{run_id}", get_run, methods=["GET"]),
    Route("/api/runs/{run_id}", delete_run, methods=["DELETE"]),
    Route("/api/runs/{run_id}/metrics", get_metrics, methods=["GET"]),
    Route("/api/runs/{run_id}/events", get_events, methods=["GET"]),
    Route("/api/runs/{run_id}/logs", get_logs, methods=["GET"]),
    Route("/api/runs/{run_id}/files/{path:path}", get_file, methods=["GET"]),
    Route("/api/runs/{run_id}/cancel", post_cancel, methods=["POST"]),
]
