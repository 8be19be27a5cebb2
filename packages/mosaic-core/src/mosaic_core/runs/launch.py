"""Turning ``mosaic run`` arguments into prepared runs: config checked, secrets kept off disk.

A run is prepared before it starts: its config is validated against the
worker's config class (a bad config exits 2 and creates nothing), a ULID
run id is made, ``config.json`` is written with secrets redacted, and
``launch.json`` records the exact command. Secret values travel to the
worker only through its environment (``MOSAIC_CONFIG_SECRETS``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from mosaic_core import _procs as procs
from mosaic_core._config import (
    check_run_id,
    extract_worker_config,
    read_config_document,
    secret_fields,
)
from mosaic_core._context import DEFAULT_STOP_GRACE
from mosaic_core._errors import ConfigError
from mosaic_core._fields import check_json
from mosaic_core._secrets import REDACTED, apply_secrets, redact
from mosaic_core._spec import WorkerSpec
from mosaic_core._ulid import new_ulid
from mosaic_core.runs.launchers import DEFAULT_HEARTBEAT_TIMEOUT, LOCAL, LaunchSpec
from mosaic_core.runs.store import RunStore

__all__ = ["REDACTED", "Prepared", "apply_secrets", "prepare_runs", "read_config_file", "redact"]


def read_config_file(path: str) -> dict[str, Any]:
    """The worker config in a JSON file, direct or nested."""
    return extract_worker_config(read_config_document(path), path)


class Prepared:
    """A run ready to start: its launch spec and the secrets for its environment."""

    def __init__(self, launch: LaunchSpec, secrets: list[list[Any]]) -> None:
        self.launch = launch
        self.secrets_json = json.dumps(secrets) if secrets else None

    @property
    def run_id(self) -> str:
        return self.launch.run_id


def prepare_runs(
    store: RunStore,
    worker_type: str,
    spec: WorkerSpec | None,
    document: Mapping[str, Any],
    *,
    seeds: Sequence[int] = (),
    python: str | None = None,
    console_module: str | None = None,
    env_name: str | None = None,
    timeout: float | None = None,
    heartbeat_timeout: float | None = DEFAULT_HEARTBEAT_TIMEOUT,
    gpus: str = "",
    venv: str | None = None,
    kill_grace: float = DEFAULT_STOP_GRACE,
    launcher: str = LOCAL,
    launcher_options: Mapping[str, Any] | None = None,
    retries: int = 0,
) -> list[Prepared]:
    """Validate every run's config first, then create them all; a bad one creates none.

    ``spec`` may be None when the worker lives only in another environment:
    then the worker itself validates its fields and a bad config fails the
    run with exit status 2, but what no worker can take (an integer beyond
    64 bits, text that is not valid Unicode, nesting too deep) is refused
    here, before any run exists. If making a later run fails, the earlier
    ones are removed again.
    """
    base = dict(document)
    given_id = base.pop("run_id", None)
    if given_id is not None:
        check_run_id(given_id)
    for given_seed in seeds:
        check_json(given_seed, "--seeds")
    configs = []
    chosen: list[int | None] = list(seeds) or [base.get("seed")]
    for seed in chosen:
        run_id = given_id or new_ulid()
        if given_id and len(seeds) > 1:
            run_id = check_run_id(f"{given_id}-seed{seed}")
        config = {**base, "run_id": run_id}
        if seed is not None:
            config["seed"] = seed
        check_json(config)
        if spec is not None:
            config = spec.config_class.from_dict(config).to_dict()
            _check_checkpointing(spec, config)
        configs.append(config)
    module = console_module or (spec.console_module if spec else None)
    interpreter = python or sys.executable
    command = [interpreter, "-m", module or "mosaic_core.worker_main"]
    if not module:
        command += ["--worker", worker_type]
    prepared: list[Prepared] = []
    made: list[str] = []
    try:
        for config in configs:
            redacted, secrets = redact(
                config, secret_fields(spec.config_class) if spec is not None else ()
            )
            run_id = config["run_id"]
            run_dir = store.create_run(
                run_id, worker_type, redacted, env_name=env_name, python=interpreter
            )
            made.append(run_id)
            # Until a supervisor starts it, the run belongs to the process that made it.
            store.update(
                run_id, supervisor_pid=os.getpid(), supervisor_start=procs.start_time(os.getpid())
            )
            launch = LaunchSpec(
                run_id=run_id,
                worker_type=worker_type,
                command=(*command, "--config", str(run_dir / "config.json")),
                timeout=timeout,
                heartbeat_timeout=heartbeat_timeout,
                gpus=gpus,
                venv=venv,
                kill_grace=kill_grace,
                launcher=launcher,
                launcher_options=dict(launcher_options or {}),
                retries=retries,
            )
            launch.save(run_dir / "launch.json")
            prepared.append(Prepared(launch, secrets))
    except BaseException:
        for run_id in made:  # "one bad seed, no run": nothing half-made stays
            with contextlib.suppress(Exception):
                store.delete(run_id)
        raise
    return prepared


def _check_checkpointing(spec: WorkerSpec, document: Mapping[str, Any]) -> None:
    """``checkpoint_every`` is for a worker that saves checkpoints; refuse it for another."""
    every = document.get("checkpoint_every")
    if every is not None and not spec.capabilities.supports_checkpointing:
        raise ConfigError.bad_value(
            "checkpoint_every",
            every,
            f"null: worker {spec.worker_type!r} keeps no checkpoints (its capabilities say "
            "supports_checkpointing=False)",
        )
