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
import pathlib
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from mosaic_core import _procs as procs
from mosaic_core._config import (
    check_run_id,
    extract_worker_config,
    read_config_document,
    secret_fields,
)
from mosaic_core._errors import ConfigError
from mosaic_core._fields import check_json
from mosaic_core._procs import DEFAULT_STOP_GRACE
from mosaic_core._secrets import REDACTED, apply_secrets, redact
from mosaic_core._spec import WorkerSpec
from mosaic_core._ulid import new_ulid
from mosaic_core.runs.launchers import DEFAULT_HEARTBEAT_TIMEOUT, LOCAL, LaunchSpec
from mosaic_core.runs.store import RunStore, write_json
from mosaic_core.runs.sweep import check_group, default_group, sweep_grid
from mosaic_core.runs.worker_cache import WorkerCache

__all__ = [
    "REDACTED", "Prepared", "Resolved", "apply_secrets", "launch_runs", "prepare_runs",
    "read_config_file", "record_provenance", "redact", "resolve_worker", "start_detached",
]  # fmt: skip


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
    variants: Sequence[Mapping[str, Any]] = (),
    group: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    launcher: str = LOCAL,
    launcher_options: Mapping[str, Any] | None = None,
    retries: int = 0,
    worker_module: str | None = None,
) -> list[Prepared]:
    """Validate every run's config first, then create them all; a bad one creates none.

    ``spec`` may be None when the worker lives only in another environment:
    then the worker itself validates its fields and a bad config fails the
    run with exit status 2, but what no worker can take (an integer beyond
    64 bits, text that is not valid Unicode, nesting too deep) is refused
    here, before any run exists. If making a later run fails, the earlier
    ones are removed again. ``variants`` (a sweep's grid) are merged over
    ``document`` in turn, each crossed with every seed; the runs join
    ``group`` if one is named. ``provenance`` is written into each run as
    ``provenance.json``. ``worker_module``, the module of the worker's entry point, is
    passed to a worker started here with this Python, which then imports it directly
    instead of reading every installed distribution's entry points.
    """
    base = dict(document)
    given_id = base.pop("run_id", None)
    if given_id is not None:
        check_run_id(given_id)
    for given_seed in seeds:
        check_json(given_seed, "--seeds")
    if group is not None:
        check_group(group)
    configs = []
    chosen: list[int | None] = list(seeds) or [base.get("seed")]
    grid = list(variants) or [{}]
    for index, variant in enumerate(grid):
        for seed in chosen:
            run_id = given_id or new_ulid()
            if given_id and len(grid) > 1:
                run_id = f"{run_id}-c{index}"
            if given_id and len(seeds) > 1:
                run_id = f"{run_id}-seed{seed}"
            run_id = check_run_id(run_id)
            config = {**base, **variant, "run_id": run_id}
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
        if worker_module and python is None and launcher == LOCAL:
            command += ["--worker-module", worker_module]
    prepared: list[Prepared] = []
    made: list[str] = []
    try:
        for config in configs:
            redacted, secrets = redact(
                config, secret_fields(spec.config_class) if spec is not None else ()
            )
            run_id = config["run_id"]
            run_dir = store.create_run(
                run_id,
                worker_type,
                redacted,
                env_name=env_name,
                python=interpreter,
                group=group,
                headline_metric=spec.headline_metric if spec is not None else None,
            )
            made.append(run_id)
            if provenance is not None:
                _write_provenance(run_dir, provenance)
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


@attrs.frozen
class Resolved:
    """Where a worker runs: its spec when this interpreter can validate its configs (None
    when only its environment knows it), that environment's interpreter and console
    module, and the distribution and version that provide it."""

    spec: WorkerSpec | None
    python: str | None = None
    console_module: str | None = None
    distribution: str | None = None
    version: str | None = None
    #: The module of the entry point that registers the worker here (None: not known).
    module: str | None = None


def resolve_worker(store: RunStore, worker_type: str, env: str | None = None) -> Resolved:
    """The worker ``worker_type``, here or in the ``mosaic env`` named ``env``.

    Here, the module that registered it is remembered in the store's home
    (``$MOSAIC_HOME/cache/workers.json``) and imported directly the next time, unless
    something was installed since: no distribution's entry points are read then.

    A worker that is not installed (or is broken) is a PluginError that says
    why; an environment that does not provide it is a ConfigError on ``--env``.
    """
    from mosaic_core._discovery import discover_workers

    if env is None:
        return _resolve_here(store, worker_type)
    found = discover_workers(load=[worker_type])
    record = store.get_env(env)
    provided = {w["worker_type"]: w for w in record["workers"]}
    if worker_type not in provided:
        raise ConfigError(
            f"environment {env!r} provides {', '.join(provided) or 'no worker'}, "
            f"not {worker_type!r}",
            field="--env",
            value=env,
        )
    # Validate here only with the very worker the environment holds: another version's
    # config class may have other fields. Otherwise the worker validates, exiting 2.
    here, there = found.workers.get(worker_type), provided[worker_type]
    spec = None
    if here is not None and here.distribution is not None:
        same = (here.distribution, here.distribution_version) == (
            there.get("distribution"), there.get("distribution_version")
        )  # fmt: skip
        spec = here.spec if same else None
    return Resolved(spec, record["python"], there.get("console_module"),
                    there.get("distribution"), there.get("distribution_version"))  # fmt: skip


def _resolve_here(store: RunStore, worker_type: str) -> Resolved:
    """The worker in this interpreter: from the module that registered it last time when
    nothing was installed since (no entry points read), else by discovery."""
    from mosaic_core._discovery import discover_workers, worker_from_module

    cache = WorkerCache(store.home)
    known = cache.get(worker_type)
    spec = worker_from_module(worker_type, known[0]) if known else None
    if known and spec is not None:
        return Resolved(spec, distribution=known[1], version=spec.metadata.version,
                        module=known[0])  # fmt: skip
    found = discover_workers(load=[worker_type])
    if worker_type not in found.workers:
        found = discover_workers()  # everything, for a did-you-mean and broken plugins
    runnable = found.runnable(worker_type)
    local = found.workers[worker_type]
    module = local.entry_point if local.distribution and ":" not in local.entry_point else None
    if module is not None:
        cache.put(worker_type, module, local.distribution)
    return Resolved(runnable, distribution=local.distribution,
                    version=runnable.metadata.version, module=module)  # fmt: skip


def launch_runs(
    store: RunStore,
    worker_type: str,
    document: Mapping[str, Any],
    *,
    seeds: Sequence[int] = (),
    sweeps: Mapping[str, Sequence[Any]] | None = None,
    group: str | None = None,
    env: str | None = None,
    timeout: float | None = None,
    heartbeat_timeout: float | None = DEFAULT_HEARTBEAT_TIMEOUT,
    gpus: str = "",
    kill_grace: float = DEFAULT_STOP_GRACE,
    launcher: str = LOCAL,
    launcher_options: Mapping[str, Any] | None = None,
    retries: int = 0,
    resolved: Resolved | None = None,
    with_provenance: bool = True,
) -> tuple[list[Prepared], str | None]:
    """What ``mosaic run`` does before it starts anything: resolve the worker, name the
    group (``WORKER-DATE-TIME`` for several runs when none is given), record provenance,
    and prepare every run of the sweep's grid crossed with ``seeds``.

    Returns the prepared runs and their group. A bad config or worker raises
    before any run is created. ``with_provenance=False`` leaves the provenance to the
    caller, who records it with :func:`record_provenance` once the workers are started.
    """
    if resolved is None:
        resolved = resolve_worker(store, worker_type, env)
    several = len(seeds) > 1 or bool(sweeps)
    group = group or (default_group(worker_type) if several else None)
    provenance = _provenance(store, worker_type, resolved) if with_provenance else None
    try:
        prepared = prepare_runs(
            store,
            worker_type,
            resolved.spec,
            document,
            seeds=seeds,
            python=resolved.python,
            console_module=resolved.console_module,
            env_name=env,
            venv=store.get_env(env)["path"] if env else None,
            timeout=timeout,
            heartbeat_timeout=heartbeat_timeout,
            gpus=gpus,
            kill_grace=kill_grace,
            launcher=launcher,
            launcher_options=launcher_options,
            retries=retries,
            variants=sweep_grid(sweeps or {}),
            group=group,
            provenance=provenance,
            worker_module=resolved.module,
        )
    except ConfigError as exc:
        raise _without_secrets(exc, document, resolved.spec) from None
    return prepared, group


def record_provenance(
    store: RunStore, worker_type: str, resolved: Resolved, run_ids: Sequence[str]
) -> None:
    """Write what the runs are made with into each run's directory (``provenance.json``).

    ``mosaic run`` calls it once its workers are started: asking git and reading every
    installed distribution then happen while the workers' interpreters come up, instead
    of before. A run removed meanwhile (its directory gone) is skipped.
    """
    record = _provenance(store, worker_type, resolved)
    for run_id in run_ids:
        with contextlib.suppress(FileNotFoundError):
            _write_provenance(store.run_dir(run_id), record)


def _provenance(store: RunStore, worker_type: str, resolved: Resolved) -> dict[str, Any]:
    from mosaic_core.runs.provenance import collect_provenance

    return collect_provenance(
        worker_type=worker_type,
        worker_distribution=resolved.distribution,
        worker_version=resolved.version,
        python=resolved.python,
        home=store.home,
    )


def _write_provenance(run_dir: os.PathLike[str], record: Mapping[str, Any]) -> None:
    # Whole or not at all: it is written while the runs go on, and read beside them.
    write_json(pathlib.Path(run_dir, "provenance.json"), record)


def _without_secrets(
    exc: ConfigError, document: Mapping[str, Any], spec: WorkerSpec | None
) -> ConfigError:
    """``exc`` with the config's secret values replaced by ``***`` in its message."""
    from mosaic_core._secrets import Scrubber

    fields = secret_fields(spec.config_class) if spec is not None else ()
    scrubber = Scrubber.from_pairs(redact(dict(document), fields)[1])
    if scrubber and scrubber.hits(str(exc)):
        exc.args = (scrubber.text(str(exc)),)
    return exc


def start_detached(store: RunStore, prepared: Sequence[Prepared]) -> list[dict[str, Any]]:
    """Start a supervisor process per prepared run, in its own session, and return at once
    (``mosaic run --detach``). Each run is reported as ``{"run_id", "status": "pending",
    "run_dir"}``: it exists, and its supervisor is starting it."""
    started = []
    for run in prepared:
        run_dir = store.run_dir(run.run_id)
        env = dict(os.environ, MOSAIC_HOME=str(store.home))
        env.pop("MOSAIC_CONFIG_SECRETS", None)
        if run.secrets_json:
            env["MOSAIC_CONFIG_SECRETS"] = run.secrets_json
        with open(run_dir / "supervisor.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "mosaic_core.runs.supervisor", run.run_id],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        started.append({"run_id": run.run_id, "status": "pending", "run_dir": str(run_dir)})
    return started
