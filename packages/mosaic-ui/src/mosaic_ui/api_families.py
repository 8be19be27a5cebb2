"""Environment families for the operators page: tasks, a task's seats, its preview, who fits.

Answers come from mosaic-core's host layer (``mosaic_core.families``, the
same code as ``mosaic envs``); making an environment is slow, so each answer
runs in a worker thread and a task's description is cached per settings.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mosaic_core import ConfigError
from mosaic_ui.http import ApiError, endpoint, query_int, ui_state

__all__ = ["describe", "routes"]

_cache: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def _settings(request: Request) -> dict[str, Any]:
    text = request.query_params.get("settings")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ApiError(422, f"settings={text!r}: expected a JSON object", "settings")
    return value


def describe(task_id: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task's agents, spaces, key map and settings (cached: it makes the environment)."""
    from mosaic_core.families import describe_task

    key = json.dumps([task_id, settings or {}], sort_keys=True)
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = describe_task(task_id, settings=settings or None)
        with _lock:
            _cache[key] = found
    return found


@endpoint
def list_families(request: Request) -> dict[str, Any]:
    from mosaic_core.plugins import env_families

    found = env_families()
    families = [f.to_dict() for f in sorted(found.families.values(), key=lambda f: f.name)]
    broken = [{"name": str(getattr(b, "name", b)), "error": str(getattr(b, "error", ""))}
              for b in found.broken]  # fmt: skip
    return {"families": families, "broken": broken}


@endpoint
def get_task(request: Request) -> dict[str, Any]:
    return describe(request.path_params["task"], _settings(request))


@endpoint
def get_preview(request: Request) -> Response:
    from mosaic_core.families import png_bytes, preview

    seed = query_int(request, "seed", None, -(2**31), 2**31 - 1)
    shown = preview(request.path_params["task"], seed=seed, settings=_settings(request) or None)
    if shown.text is not None:
        return Response(shown.text, media_type="text/plain; charset=utf-8")
    return Response(png_bytes(shown.rgb), media_type="image/png",
                    headers={"cache-control": "no-store"})  # fmt: skip


@endpoint
def get_candidates(request: Request) -> dict[str, Any]:
    """Completed runs of the store as operators of this task's seats: ``fits`` true when the
    spaces they recorded fit every seat, false with the reason when not (or when their worker
    has no operator), null when they recorded none (older runs, some workers)."""
    from mosaic_core import OperatorContext
    from mosaic_core.operators.trained import check_seat, trained_on
    from mosaic_core.plugins import env_families

    task_id = request.path_params["task"]
    task = describe(task_id)
    family, env_task = env_families().task(task_id)
    ui = ui_state(request)
    store = ui.store()
    workers = {w.worker_type: w for w in _workers(ui)}
    arena = _arena(family, env_task)
    try:
        runs = [
            r for r in store.list_runs(status="completed", limit=200) if r["worker_type"] != "eval"
        ]
        out = []
        for run in runs:
            spec = f"{run['worker_type']}:{run['run_id']}"
            reason: str | None = None
            fits: bool | None = True
            worker = workers.get(run["worker_type"])
            run_dir = str(store.run_dir(run["run_id"]))
            # A worker not installed beside the server may be in a `mosaic env`, where the
            # seat's operator then runs; its spaces are checked from the run all the same.
            python = None if worker is not None else _python_of(spec, store)
            if worker is None and python is None:
                reason, fits = (f"worker {run['worker_type']!r} is installed neither here nor "
                                "in a `mosaic env`"), False  # fmt: skip
            elif worker is not None and getattr(worker.spec, "operator_factory", None) is None:
                reason, fits = f"worker {run['worker_type']!r} offers no operator", False
            elif trained_on(run_dir) is None:
                reason, fits = "the run recorded no spaces, so whether it fits is not known", None
            else:
                for agent in arena.possible_agents or (None,):
                    context = OperatorContext(
                        action_space=arena.action_space(agent),
                        observation_space=arena.observation_space(agent),
                        agent=agent, env_id=task_id,
                    )  # fmt: skip
                    try:
                        check_seat(spec, run_dir, {}, context)
                    except ConfigError as exc:
                        reason, fits = str(exc), False
                        break
            out.append({"spec": spec, "run_id": run["run_id"], "worker": run["worker_type"],
                        "algorithm": run.get("algorithm"), "env_id": run.get("env_id"),
                        "fits": fits, "reason": reason, "python": python})  # fmt: skip
    finally:
        arena.close()
    return {"task": task["id"], "runs": out}


def _python_of(spec: str, store: Any) -> str | None:
    from mosaic_core.operators import parse_operator_spec

    try:
        return parse_operator_spec(spec, store).python
    except ConfigError:
        return None


def _workers(ui: Any) -> list[Any]:
    return list(ui.discovery().workers.values())


def _arena(family: Any, task: Any) -> Any:
    from mosaic_core.operators import make_arena

    return make_arena(family.make(task, render_mode=None, settings={}), task.id)


routes = [
    Route("/api/families", list_families, methods=["GET"]),
    Route("/api/families/tasks/{task}", get_task, methods=["GET"]),
    Route("/api/families/tasks/{task}/preview", get_preview, methods=["GET"]),
    Route("/api/families/tasks/{task}/candidates", get_candidates, methods=["GET"]),
]
