"""Where a run's worker runs: the launcher contract, and finding the installed launchers.

The supervisor starts every run through a *launcher*. The local one, built
in, starts the worker on this machine, as MOSAIC always has; another (the
Ray launcher of ``mosaic-ray-launcher``, a Slurm or Kubernetes one) starts
it somewhere else and brings what it writes home. Whatever the launcher,
the run directory at home is the run: the supervisor tails its
``events.jsonl``, indexes it, watches heartbeats and deadlines, records the
end. A launcher's only job is to get the worker's files there.

A package provides a launcher through the hook
``mosaic_register_launchers(register)`` in a module named by an entry point
of group ``mosaic.launchers``; ``register(LauncherSpec(...))``. Launchers are
discovered like workers: a plugin that fails to load is isolated and named,
the others still load. The local launcher is registered through the same
hook (:mod:`mosaic_core.runs.local`); :mod:`mosaic_core.runs.launcher_registry`
finds them.

What a launcher implements (:class:`Launcher`, :class:`LaunchedRun`):

- ``check(options, capabilities)``: turn what ``mosaic run`` was given
  (``--address``, ``--resources``, ``--launcher-option``) into the options
  saved in ``launch.json``, or refuse them with a ConfigError before any run
  exists;
- ``start(spec, run_dir, variables)``: start the worker of a prepared run
  with the ``MOSAIC_*`` variables the supervisor made for it, and return at
  once (a cluster may queue the run);
- on the run it returns: ``pump()`` appends what the worker wrote since the
  last call to the run directory at home (telemetry, stdout, stderr),
  ``poll()`` says how it ended once everything is home, ``signal(signum)``
  reaches the worker's whole process tree wherever it is, ``started`` says
  whether the worker exists yet, ``pid`` is a local process (or None);
- ``recover(store, run_id, spec, files=...)``: for a run whose supervisor is
  gone (``mosaic runs``) or whose files are asked for (``mosaic pull``): bring
  home what is missing and say whether it still runs;
- ``stop(store, run_id, spec, grace)``: ``mosaic cancel`` of such a run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from mosaic_core._errors import MosaicError, PluginError
from mosaic_core._procs import DEFAULT_STOP_GRACE

if TYPE_CHECKING:
    import pathlib

    from mosaic_core._metadata import WorkerCapabilities
    from mosaic_core.runs.store import RunStore

__all__ = [
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "LAUNCHER_ENTRY_POINT_GROUP",
    "LOCAL",
    "Ended",
    "LaunchError",
    "LaunchSpec",
    "LaunchedRun",
    "Launcher",
    "LauncherSpec",
    "Recovered",
]

LAUNCHER_ENTRY_POINT_GROUP = "mosaic.launchers"
#: The launcher of runs that say none: this machine.
LOCAL = "local"
#: Seconds a worker may stay silent before the supervisor kills it (``--heartbeat-timeout``).
DEFAULT_HEARTBEAT_TIMEOUT = 300.0


@attrs.frozen(kw_only=True)
class LaunchSpec:
    """How to start one prepared run. Saved as ``launch.json`` (never with secrets)."""

    run_id: str
    worker_type: str
    command: tuple[str, ...]
    timeout: float | None = None
    heartbeat_timeout: float | None = DEFAULT_HEARTBEAT_TIMEOUT
    gpus: str = ""
    #: The virtual environment the worker runs in (``mosaic run --env``), if any.
    venv: str | None = None
    #: Seconds between SIGTERM and SIGKILL when the run is stopped (cancel, Ctrl-C, a
    #: timeout): the worker's time to save a checkpoint (``$MOSAIC_STOP_GRACE`` tells it).
    kill_grace: float = DEFAULT_STOP_GRACE
    #: Where the worker runs (``mosaic run --launcher``, see
    #: :mod:`mosaic_core.runs.launchers`), and that launcher's checked options.
    launcher: str = LOCAL
    launcher_options: Mapping[str, Any] = attrs.field(factory=dict)
    #: How many times a run whose place was lost (a node that died) starts again.
    retries: int = 0

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(attrs.asdict(self), handle, indent=2)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LaunchSpec:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        data["command"] = tuple(data["command"])
        return cls(**data)


class LaunchError(MosaicError):
    """A run could not be started where its launcher sends it (the run fails with
    reason ``launch_failed: <message>``); the message says what to fix."""


@attrs.frozen(kw_only=True)
class Ended:
    """How a launched run ended, once everything it wrote is home.

    ``returncode`` is the worker's, as :attr:`subprocess.Popen.returncode`
    gives it (negative: killed by that signal), or None when it is unknown.
    ``failure`` is the launcher's reason when the run failed on its side and
    the worker said nothing more (``node_lost: ...`` when the place it ran on
    went away, ``launch_failed: ...`` when it could not start there): the run
    fails with it as its reason. With ``retryable`` the supervisor starts the
    run again while ``mosaic run --retries`` allows.
    """

    returncode: int | None
    failure: str | None = None
    retryable: bool = False


@attrs.frozen(kw_only=True)
class Recovered:
    """What :meth:`Launcher.recover` found: the run still going, or its end."""

    running: bool
    ended: Ended | None = None
    #: What was brought home, for ``mosaic pull`` to say: bytes of telemetry and logs, files.
    telemetry_bytes: int = 0
    files: tuple[str, ...] = ()
    #: Where the run is or was, in words (``node 1a2b3c4d (10.0.0.5)``).
    where: str = ""


class LaunchedRun(Protocol):
    """One run a launcher started. The supervisor calls these from one thread, often:
    each must return at once."""

    @property
    def pid(self) -> int | None:
        """The worker's process on this machine (recorded, watched by the reaper), or None."""

    @property
    def started(self) -> bool:
        """Whether the worker process exists (a cluster may queue a run first: until then
        its heartbeat timeout does not count)."""

    def pump(self) -> bool:
        """Append what the worker wrote elsewhere since the last call to the run directory
        at home; True if anything moved."""

    def poll(self) -> Ended | None:
        """None while the run goes on; its end once the worker exited and everything it
        wrote (telemetry, logs, checkpoints, the manifest) is home."""

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the worker's whole process tree, wherever it runs (SIGTERM
        first, SIGKILL after the grace period: the supervisor decides when)."""


class Launcher(Protocol):
    """Starts runs somewhere; made once per supervisor by its :class:`LauncherSpec`."""

    def start(
        self, spec: LaunchSpec, run_dir: pathlib.Path, variables: Mapping[str, str]
    ) -> LaunchedRun:
        """Start the worker of a prepared run and return at once; :class:`LaunchError`
        when it cannot be started there. ``variables`` are the ``MOSAIC_*`` environment
        of the worker (its secrets included: never write them to disk)."""

    def recover(
        self, store: RunStore, run_id: str, spec: LaunchSpec, *, telemetry: bool, files: bool
    ) -> Recovered | None:
        """Bring home what is missing of a run nobody supervises (its telemetry and logs,
        and with ``files`` or once it ended, its files); None if the launcher has nothing
        of it elsewhere. Must not run beside a live supervisor of the run."""

    def stop(self, store: RunStore, run_id: str, spec: LaunchSpec, grace: float) -> bool:
        """Stop a run nobody supervises: SIGTERM to its tree, SIGKILL after ``grace``;
        True if it was found running."""

    def close(self) -> None:
        """The supervisor is done: release what the launcher holds (connections)."""


@attrs.frozen(kw_only=True)
class LauncherSpec:
    """What a launcher plugin registers."""

    #: The name ``mosaic run --launcher`` takes.
    name: str
    #: One line for ``mosaic launchers``.
    description: str
    #: Makes the launcher, once per supervisor that needs it.
    factory: Callable[[], Launcher]
    #: ``check(options, capabilities) -> options``: validates and completes what
    #: ``mosaic run`` was given (keys ``address``, ``resources``, and the names of
    #: ``--launcher-option``) before any run exists; the result is saved in launch.json.
    check: Callable[[Mapping[str, Any], WorkerCapabilities | None], dict[str, Any]]
    #: ``--launcher-option`` names the launcher takes, with a line of help each.
    options: Mapping[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise PluginError(
                f"LauncherSpec.name {self.name!r}: expected a short identifier such as 'ray'",
                plugin=str(self.name),
            )
