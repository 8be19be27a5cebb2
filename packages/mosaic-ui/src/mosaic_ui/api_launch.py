"""Workers and launching: installed workers (broken ones with their error), each config's
JSON Schema for the form, and starting runs as ``mosaic run --detach`` does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from mosaic_core import ConfigError
from mosaic_core.runs import launch_runs, parse_sweeps, start_detached
from mosaic_ui.http import ApiError, endpoint, json_response, ui_state, with_body

__all__ = ["routes", "without_secret_defaults"]

MAX_RUNS = 1000


def without_secret_defaults(schema: Any) -> Any:
    """The schema with no default or example on a write-only (secret) field: a secret
    goes from the browser to the worker, never back."""
    if isinstance(schema, list):
        return [without_secret_defaults(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: without_secret_defaults(v) for k, v in schema.items()}
    if out.get("writeOnly"):
        for key in ("default", "examples", "const", "enum"):
            out.pop(key, None)
    return out


@endpoint
def list_workers(request: Request) -> dict[str, Any]:
    ui = ui_state(request)
    found = ui.discovery(fresh=request.query_params.get("fresh") == "1")
    workers = []
    for worker in sorted(found.workers.values(), key=lambda w: w.worker_type):
        item = worker.to_dict()
        item.pop("config_schema", None)
        workers.append(item)
    broken = [b.to_dict() for b in found.broken]
    envs = [{"name": e["name"], "workers": [w["worker_type"] for w in e["workers"]],
             "python_version": e["python_version"]} for e in ui.store().envs()]  # fmt: skip
    return {"workers": workers, "broken": broken, "envs": envs}


@endpoint
def get_schema(request: Request) -> dict[str, Any]:
    name = request.path_params["worker"]
    worker = ui_state(request).discovery().get(name)
    return {"worker_type": name, "runnable": worker.spec is not None,
            "headline_metric": worker.spec.headline_metric if worker.spec else None,
            "schema": without_secret_defaults(worker.config_schema())}  # fmt: skip


def _seeds(value: Any) -> list[int]:
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            return [int(p) for p in parts]
        except ValueError:
            pass
    elif isinstance(value, list) and all(type(v) is int for v in value):
        return list(value)
    raise ConfigError(
        f"--seeds {value!r}: expected comma-separated integers such as 1,2,3",
        field="--seeds", value=value,
    )  # fmt: skip


def _sweeps(value: Any) -> dict[str, list[Any]]:
    """``["lr=1e-3,3e-4", ...]`` as ``mosaic run --sweep`` reads it, or ``{"lr": [...]}``."""
    if value in (None, "", [], {}):
        return {}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return parse_sweeps([v for v in value if v.strip()])
    if isinstance(value, dict) and all(isinstance(v, list) and v for v in value.values()):
        return {str(k): list(v) for k, v in value.items()}
    raise ConfigError(f"--sweep {value!r}: expected KEY=V1,V2,... lines", field="--sweep")


@endpoint
@with_body
def post_launch(request: Request) -> Any:
    """Start runs: ``{"worker", "config", "seeds", "sweep", "group", "env"}``. Every config
    is checked first; a bad one is a 422 naming its field, and nothing starts."""
    ui = ui_state(request)
    body = request.state.body
    unknown = set(body) - {"worker", "config", "seeds", "sweep", "group", "env", "timeout"}
    if unknown:
        raise ApiError(422, f"unknown key {sorted(unknown)[0]!r} in the launch request",
                       sorted(unknown)[0])  # fmt: skip
    worker = body.get("worker")
    if not isinstance(worker, str) or not worker:
        raise ApiError(422, "name the worker to run", "worker")
    config = body.get("config") or {}
    if not isinstance(config, dict):
        raise ApiError(422, "config: expected an object of config fields", "config")
    seeds, sweeps = _seeds(body.get("seeds")), _sweeps(body.get("sweep"))
    count = max(1, len(seeds)) * max(1, _product(sweeps))
    if count > MAX_RUNS:
        raise ApiError(422, f"that makes {count} runs; at most {MAX_RUNS} at once", "--sweep")
    timeout = body.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError.bad_value("--timeout", timeout, "a number of seconds > 0")
    store = ui.store()
    prepared, group = launch_runs(
        store, worker, config, seeds=seeds, sweeps=sweeps, group=body.get("group") or None,
        env=body.get("env") or None, timeout=timeout,
    )  # fmt: skip
    started = start_detached(store, prepared)
    ui.poke()
    return json_response({"group": group, "runs": started}, status=201)


def _product(sweeps: dict[str, list[Any]]) -> int:
    total = 1
    for values in sweeps.values():
        total *= len(values)
    return total


routes = [
    Route("/api/workers", list_workers, methods=["GET"]),
    Route("/api/workers/{worker}/schema", get_schema, methods=["GET"]),
    Route("/api/launch", post_launch, methods=["POST"]),
]
