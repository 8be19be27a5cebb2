"""The built-in launcher: the worker on this machine, a child of the supervisor.

:func:`spawn_worker` is how a worker is started, here and on any node a
launcher sends a run to (:mod:`mosaic_core.runs.keeper` calls it there):
``<python> -m <module> --config config.json`` in a new session, so its
whole tree can be signalled, in the run directory, its telemetry descriptor
the run's own ``events.jsonl`` opened for appending, stdout and stderr
appended to the run's log files. The local launcher is registered through
the launcher hook like any other, as the built-in plugins of simonw/llm are.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mosaic_core import _procs as procs
from mosaic_core._errors import ConfigError
from mosaic_core._hooks import hookimpl
from mosaic_core._procs import STOP_GRACE_ENV
from mosaic_core._window import ENV_ACK_FD
from mosaic_core.runs import forking
from mosaic_core.runs.launchers import LOCAL, Ended, LauncherSpec, Recovered

if TYPE_CHECKING:
    from mosaic_core._metadata import WorkerCapabilities
    from mosaic_core.runs.launchers import LaunchSpec
    from mosaic_core.runs.store import RunStore

__all__ = [
    "SPEC",
    "LocalLauncher",
    "LocalRun",
    "spawn_worker",
    "worker_environment",
    "worker_variables",
]

SECRETS_ENV = "MOSAIC_CONFIG_SECRETS"


def worker_variables(
    spec: LaunchSpec, run_dir: pathlib.Path, home: pathlib.Path, secrets: str | None
) -> dict[str, str]:
    """The ``MOSAIC_*`` environment of a run's worker, wherever it runs (secrets included)."""
    variables = {
        "MOSAIC_RUN_ID": spec.run_id,
        "MOSAIC_RUN_DIR": str(run_dir),
        "MOSAIC_HOME": str(home),
        "CUDA_VISIBLE_DEVICES": spec.gpus,
        "PYTHONUNBUFFERED": "1",
        # How long the worker has between SIGTERM and SIGKILL, to save a checkpoint.
        STOP_GRACE_ENV: repr(float(spec.kill_grace)),
    }
    if secrets:
        variables[SECRETS_ENV] = secrets
    return variables


def worker_environment(
    variables: Mapping[str, str], venv: str | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (this process's environment) with the run's ``variables``; inside ``venv``
    when the worker has an environment of its own (its bin first, no host paths)."""
    env = dict(os.environ if base is None else base)
    env.update(variables)
    if venv:
        for name in ("PYTHONPATH", "PYTHONHOME"):
            env.pop(name, None)
        env["VIRTUAL_ENV"] = venv
        env["PATH"] = os.pathsep.join([os.path.join(venv, "bin"), env.get("PATH", "")])
    for name in (SECRETS_ENV, ENV_ACK_FD):
        if name not in variables:
            env.pop(name, None)  # never another run's
    return env


def spawn_worker(
    command: Sequence[str],
    run_dir: pathlib.Path,
    env: Mapping[str, str],
    *,
    die_with_parent: bool = False,
    fork: bool = False,
) -> subprocess.Popen[bytes] | forking.Forked:
    """Start a worker in a session of its own, telemetry to ``run_dir/events.jsonl``;
    with ``die_with_parent``, SIGKILLed if this process dies (a keeper killed with its
    node's processes must not leave the worker running there); with ``fork``, by forking
    this process where that starts the same worker (:mod:`mosaic_core.runs.forking`)."""
    events_fd = os.open(run_dir / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        env = {**env, "MOSAIC_TELEMETRY_FD": str(events_fd)}
        with (
            open(run_dir / "stdout.log", "ab") as out,
            open(run_dir / "stderr.log", "ab") as err,
        ):
            if fork and not die_with_parent and forking.forkable(command, env):
                keep = (events_fd, *_ack_fds(env))
                return forking.fork_worker(command, run_dir, env, stdout=out, stderr=err, keep=keep)
            return subprocess.Popen(
                list(command),
                cwd=run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(events_fd, *_ack_fds(env)),
                start_new_session=True,
                preexec_fn=procs.killed_with_parent() if die_with_parent else None,
            )
    finally:
        os.close(events_fd)


def _ack_fds(env: Mapping[str, str]) -> tuple[int, ...]:
    """The descriptor through which the supervisor tells the worker how far its index
    has read (:mod:`mosaic_core._window`), if it gave one."""
    value = env.get(ENV_ACK_FD)
    return (int(value),) if value else ()


class LocalRun:
    """A worker process on this machine."""

    started = True

    def __init__(self, process: subprocess.Popen[bytes] | forking.Forked) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def pump(self) -> bool:
        return False  # the worker writes the run directory itself

    def poll(self) -> Ended | None:
        code = self.process.poll()
        return None if code is None else Ended(returncode=code)

    def signal(self, signum: int) -> None:
        procs.signal_tree(self.process.pid, signum)


class LocalLauncher:
    """Runs on this machine, children of the supervisor."""

    def start(
        self, spec: LaunchSpec, run_dir: pathlib.Path, variables: Mapping[str, str]
    ) -> LocalRun:
        env = worker_environment(variables, spec.venv)
        return LocalRun(spawn_worker(spec.command, run_dir, env, fork=True))

    def recover(
        self, store: RunStore, run_id: str, spec: LaunchSpec, *, telemetry: bool, files: bool
    ) -> Recovered | None:
        return None  # everything of a local run is in its run directory already

    def stop(self, store: RunStore, run_id: str, spec: LaunchSpec, grace: float) -> bool:
        return False  # `mosaic cancel` signals a local worker itself

    def close(self) -> None:
        pass


def check(options: Mapping[str, Any], capabilities: WorkerCapabilities | None) -> dict[str, Any]:
    """The local launcher takes no options: a run here uses what this machine has."""
    for name, value in options.items():
        flag = f"--{name}" if name in ("address", "resources") else f"--launcher-option {name}"
        raise ConfigError(
            f"{flag} {value!r}: the local launcher runs the worker on this machine and takes "
            "no such option; name another with --launcher (e.g. --launcher ray)",
            field=flag,
            value=value,
        )
    return {}


SPEC = LauncherSpec(
    name=LOCAL,
    description="the worker on this machine, a child of the supervisor",
    factory=LocalLauncher,
    check=check,
)


@hookimpl
def mosaic_register_launchers(register: Callable[[LauncherSpec], None]) -> None:
    register(SPEC)
