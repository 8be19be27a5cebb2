"""Evaluations: ``mosaic eval`` started in the background, its table read when it ends.

The operators are checked here first, as ``mosaic eval`` checks them (a bad
spec is a 422 naming it, and nothing starts); then the command itself runs
in its own process and records the evaluation as a run (worker type
``eval``). From the browser an operator is a built-in (``random``), a run in
this store (``WORKER:RUN_ID`` or ``RUN_ID``) or an LLM endpoint
(``llm:MODEL@URL``): never a path, which could load files from anywhere.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import time
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from mosaic_core import ConfigError
from mosaic_core.operators import parse_operator_spec
from mosaic_ui.http import ApiError, endpoint, json_response, ui_state, with_body

__all__ = ["routes"]

_JOB = re.compile(r"[0-9a-f]{16}\Z")
_MAIN = "import sys; from mosaic_core.cli import main; sys.exit(main())"
_PROCS: dict[str, subprocess.Popen[bytes]] = {}


def _jobs_dir(request: Request) -> pathlib.Path:
    path = pathlib.Path(ui_state(request).home) / "ui" / "evals"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_operator(text: Any, store: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError.bad_value("--operator", text, "an operator spec such as 'random'")
    spec = parse_operator_spec(text, store)
    if spec.name == "human":
        raise ConfigError.bad_value(
            "--operator",
            text,
            "random, WORKER:RUN_ID, RUN_ID or llm:MODEL@URL (a human plays on the operators page)",
        )
    if spec.checkpoint is not None and spec.run_id is None:
        runs = pathlib.Path(store.runs_dir).resolve()
        if not pathlib.Path(spec.checkpoint).resolve().is_relative_to(runs):
            raise ConfigError.bad_value("--operator", text, "a run of this store, not a path")
    return text.strip()


@endpoint
@with_body
def post_eval(request: Request) -> Any:
    """``{"env", "operators": [...], "episodes", "seed"}`` -> 202 with the job's id."""
    ui = ui_state(request)
    body = request.state.body
    env = body.get("env")
    if not isinstance(env, str) or not env.strip() or env.startswith("-"):
        raise ConfigError.bad_value("--env", env, "a Gymnasium id or module:factory")
    operators = body.get("operators")
    if not isinstance(operators, list) or not operators:
        raise ConfigError("--operator: name at least one operator", field="--operator")
    store = ui.store()
    specs = [_check_operator(text, store) for text in operators]
    episodes, seed = body.get("episodes", 10), body.get("seed", 0)
    if type(episodes) is not int or not 1 <= episodes <= 10_000:
        raise ConfigError.bad_value("--episodes", episodes, "an integer from 1 to 10000")
    if type(seed) is not int:
        raise ConfigError.bad_value("--seed", seed, "an integer")
    job = os.urandom(8).hex()
    folder = _jobs_dir(request) / job
    folder.mkdir()
    command = [sys.executable, "-c", _MAIN, "eval", "--env", env.strip(),
               "--episodes", str(episodes), "--seed", str(seed), "--json"]  # fmt: skip
    for spec in specs:
        command += ["--operator", spec]
    meta = {"job": job, "env": env.strip(), "operators": specs, "episodes": episodes,
            "seed": seed, "created_at": time.time()}  # fmt: skip
    (folder / "job.json").write_text(json.dumps(meta), encoding="utf-8")
    environ = dict(os.environ, MOSAIC_HOME=str(ui.home))
    with open(folder / "out.json", "wb") as out, open(folder / "err.log", "wb") as err:
        _PROCS[job] = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=err, env=environ, start_new_session=True)  # fmt: skip
    return json_response({**meta, "status": "running"}, status=202)


def _job(folder: pathlib.Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    proc = _PROCS.get(meta["job"])
    running = proc is not None and proc.poll() is None
    out = (folder / "out.json").read_text(encoding="utf-8", errors="replace")
    err = (folder / "err.log").read_text(encoding="utf-8", errors="replace")
    report = None
    if not running and out.strip():
        try:
            report = json.loads(out)
        except ValueError:
            report = None
    if running:
        status = "running"
    elif report is not None:
        status = "completed" if not any(o.get("error") for o in report["operators"]) else "failed"
    else:
        status = "failed" if proc is not None or err.strip() else "unknown"
    return {**meta, "status": status, "report": report,
            "error": err.strip().splitlines()[-1] if status == "failed" and err.strip() else None,
            "stderr": err[-4000:]}  # fmt: skip


@endpoint
def list_evals(request: Request) -> dict[str, Any]:
    folders = sorted(_jobs_dir(request).iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    jobs = [_job(f) for f in folders[:100] if _JOB.match(f.name) and (f / "job.json").exists()]
    return {"evals": jobs}


@endpoint
def get_eval(request: Request) -> dict[str, Any]:
    job = request.path_params["job"]
    folder = _jobs_dir(request) / job
    if not _JOB.match(job) or not (folder / "job.json").exists():
        raise ApiError(404, f"no evaluation {job!r}")
    return _job(folder)


routes = [
    Route("/api/evals", list_evals, methods=["GET"]),
    Route("/api/evals", post_eval, methods=["POST"]),
    Route("/api/evals/{job}", get_eval, methods=["GET"]),
]
