"""``RunContext``: what MOSAIC knows about the run a worker is running, and what it keeps.

The worker entry point builds one per run and gives it to the runtime
factory (a factory with a parameter named ``context``)::

    def make_runtime(config, context):
        return MyRuntime(config, context)

    with context.lifecycle(algorithm=..., env_id=..., seed=..., total_steps=...) as run:
        ...
        context.record_spaces(env.observation_space, env.action_space, env_id=...)
        context.record_checkpoint("checkpoints/step_1000.pt", step=1000)
        context.write_manifest(algorithm=..., global_step=...)

A run the supervisor stops (``mosaic cancel``, Ctrl-C on ``mosaic run``, a
timeout) gets SIGTERM, then SIGKILL :attr:`RunContext.stop_grace` seconds
later: the time it has to save what it learned and record it.

A context also opens a finished run (:meth:`RunContext.open`), which is how
an operator finds the checkpoint to load (:meth:`latest_checkpoint`).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mosaic_core.__about__ import __version__ as _core_version
from mosaic_core._errors import ManifestError
from mosaic_core._procs import DEFAULT_STOP_GRACE, STOP_GRACE_ENV
from mosaic_core._spaces import describe_space, space_from_description

if TYPE_CHECKING:  # imported where used: a script asking only describe_space stays light
    from mosaic_core._manifest import WorkerAnalyticsManifest
    from mosaic_core._telemetry import RunHandle, TelemetryEmitter

__all__ = ["DEFAULT_STOP_GRACE", "STOP_GRACE_ENV", "TRAINED_ON", "RunContext"]

#: The manifest metadata key of :meth:`RunContext.record_spaces`.
TRAINED_ON = "trained_on"


class RunContext:
    """One run: its id, directory, worker, telemetry emitter, checkpoints and manifest.

    ``run_dir`` is ``$MOSAIC_RUN_DIR`` under the supervisor and the current
    directory otherwise; every path a context records is relative to it.
    """

    def __init__(
        self,
        *,
        run_id: str,
        run_dir: str | os.PathLike[str],
        worker_type: str,
        worker_version: str,
    ) -> None:
        self.run_id = run_id
        self.run_dir = pathlib.Path(run_dir)
        self.worker_type = worker_type
        self.worker_version = worker_version
        self._checkpoints: list[str] = []
        self._checkpoint_format: str | None = None
        self._metadata: dict[str, Any] = {}

    @classmethod
    def from_environment(cls, run_id: str, worker_type: str, worker_version: str) -> RunContext:
        """The context of the run this process runs (``$MOSAIC_RUN_DIR``, else the cwd)."""
        run_dir = os.environ.get("MOSAIC_RUN_DIR") or os.getcwd()
        return cls(
            run_id=run_id, run_dir=run_dir, worker_type=worker_type, worker_version=worker_version
        )

    @classmethod
    def open(cls, run_dir: str | os.PathLike[str]) -> RunContext:
        """A finished (or running) run, read from its directory's manifest."""
        path = pathlib.Path(run_dir)
        manifest = _load(path)
        context = cls(
            run_id=manifest.run_id if manifest else path.name,
            run_dir=path,
            worker_type=manifest.worker_type if manifest else "",
            worker_version=str((manifest.metadata if manifest else {}).get("worker_version", "")),
        )
        if manifest is not None:
            checkpoints = manifest.artifacts.checkpoints
            if checkpoints is not None:
                context._checkpoints = list(checkpoints.files)
                if checkpoints.latest:  # the newest, wherever the files list it
                    if checkpoints.latest in context._checkpoints:
                        context._checkpoints.remove(checkpoints.latest)
                    context._checkpoints.append(checkpoints.latest)
                context._checkpoint_format = checkpoints.format
            context._metadata = dict(manifest.metadata)
        return context

    # -- telemetry -------------------------------------------------------------------

    @property
    def emitter(self) -> TelemetryEmitter:
        """The run's one telemetry emitter (the same object the entry point uses)."""
        from mosaic_core._telemetry import TelemetryEmitter

        return TelemetryEmitter(self.run_id)

    def lifecycle(self, **started: Any) -> contextlib.AbstractContextManager[RunHandle]:
        """``emitter.lifecycle(...)`` with this run's worker type: ``run_started`` now,
        exactly one terminal event when the block ends."""
        started.setdefault("worker_type", self.worker_type)
        return self.emitter.lifecycle(**started)

    # -- files -----------------------------------------------------------------------

    def path(self, *parts: str) -> pathlib.Path:
        """A path inside the run directory."""
        return self.run_dir.joinpath(*parts)

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the run directory, as manifests and events hold paths."""
        candidate = pathlib.Path(path)
        if candidate.is_absolute():
            try:
                candidate = candidate.relative_to(self.run_dir)
            except ValueError:
                raise ManifestError(
                    f"{path} is outside the run directory {self.run_dir}; a run records only "
                    "paths inside it"
                ) from None
        return candidate.as_posix()

    # -- checkpoints and the manifest --------------------------------------------------

    @property
    def checkpoints(self) -> tuple[str, ...]:
        """The checkpoints recorded so far, oldest first, relative to the run directory."""
        return tuple(self._checkpoints)

    def record_checkpoint(
        self,
        path: str | os.PathLike[str],
        *,
        step: int | None = None,
        format: str = "pytorch",
        **extra: Any,
    ) -> str:
        """Announce a saved checkpoint (``checkpoint_saved``) and list it in the manifest.

        The manifest is rewritten at once, so a run that dies later still says
        where its last checkpoint is. Returns the relative path.
        """
        relative = self.relative(path)
        if relative in self._checkpoints:
            self._checkpoints.remove(relative)
        self._checkpoints.append(relative)
        self._checkpoint_format = format
        self.emitter.checkpoint_saved(relative, step=step, format=format, **extra)
        self.write_manifest()
        return relative

    def write_manifest(self, **metadata: Any) -> WorkerAnalyticsManifest:
        """Write ``analytics.json``: the checkpoints recorded, TensorBoard and video
        directories that hold files, and ``metadata`` merged over what was given before."""
        from mosaic_core._manifest import (
            MANIFEST_FILENAME,
            ArtifactsMetadata,
            CheckpointMetadata,
            WorkerAnalyticsManifest,
        )

        self._metadata.update(metadata)
        checkpoints = None
        if self._checkpoints:
            checkpoints = CheckpointMetadata(
                directory="checkpoints",
                format=self._checkpoint_format or "pytorch",
                files=tuple(self._checkpoints),
                latest=self._checkpoints[-1],
            )
        manifest = WorkerAnalyticsManifest(
            run_id=self.run_id,
            worker_type=self.worker_type,
            artifacts=ArtifactsMetadata(
                tensorboard="tensorboard" if _has_files(self.path("tensorboard")) else None,
                checkpoints=checkpoints,
                logs_dir=".",
                videos_dir="videos" if _has_files(self.path("videos")) else None,
            ),
            metadata={
                "worker_version": self.worker_version,
                "mosaic_core_version": _core_version,
                **self._metadata,
            },
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        manifest.save(self.run_dir / MANIFEST_FILENAME)
        return manifest

    def latest_checkpoint(self) -> pathlib.Path:
        """The newest checkpoint of the run, as an absolute path.

        Raises :class:`~mosaic_core.ManifestError` naming the run when it has none.
        """
        if not self._checkpoints:
            from mosaic_core._manifest import MANIFEST_FILENAME

            manifest = self.run_dir / MANIFEST_FILENAME
            why = (
                "its analytics.json lists no checkpoint"
                if manifest.exists()
                else "it has no analytics.json (it ended before its first checkpoint, or is not "
                "a run directory)"
            )
            raise ManifestError(
                f"run {self.run_id} at {self.run_dir} has no checkpoint: {why}; expected a run "
                "directory whose manifest lists one"
            )
        return self.run_dir / self._checkpoints[-1]

    def record_spaces(
        self,
        observation_space: Any,
        action_space: Any,
        *,
        agent: str | None = None,
        env_id: str | None = None,
    ) -> dict[str, Any]:
        """Record the spaces the policy is trained on, in the manifest (rewritten at once).

        Gymnasium (or old gym) spaces, described with :meth:`describe_space`,
        or descriptions already made (plain dicts, from a process that held the
        spaces), under the metadata key ``trained_on``: ``{"env_id", "observation_space",
        "action_space"}``, or for a multi-agent run (one call per ``agent``)
        ``{"env_id", "agents": {agent: {"observation_space", "action_space"}}}``.
        ``env_id`` is the environment ``mosaic eval`` makes for the run's
        operator when given none; an environment whose spaces differ is refused
        before any step. Returns the ``trained_on`` record.
        """
        record = dict(self._metadata.get(TRAINED_ON) or {})
        described = {
            "observation_space": _described(observation_space),
            "action_space": _described(action_space),
        }
        if env_id is not None:
            record["env_id"] = env_id
        else:
            record.setdefault("env_id", None)
        if agent is None:
            record.update(described)
        else:
            record["agents"] = {**record.get("agents", {}), agent: described}
        self.write_manifest(**{TRAINED_ON: record})
        return record

    @property
    def trained_on(self) -> dict[str, Any] | None:
        """What :meth:`record_spaces` recorded (or a finished run's manifest holds), or None."""
        record = self._metadata.get(TRAINED_ON)
        return dict(record) if isinstance(record, Mapping) else None

    @property
    def stop_grace(self) -> float:
        """Seconds between the supervisor's SIGTERM and its SIGKILL: the time a stopped run
        has to save a checkpoint, record it and end (``$MOSAIC_STOP_GRACE``, set by the
        supervisor; 5 when it is not set)."""
        try:
            grace = float(os.environ.get(STOP_GRACE_ENV, DEFAULT_STOP_GRACE))
        except ValueError:
            return DEFAULT_STOP_GRACE
        return grace if grace > 0 else DEFAULT_STOP_GRACE

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The manifest metadata given so far (or read from a finished run)."""
        return dict(self._metadata)

    # -- helpers -----------------------------------------------------------------------

    describe_space = staticmethod(describe_space)
    space_from_description = staticmethod(space_from_description)

    @staticmethod
    def kill_descendants(sig: int = signal.SIGKILL) -> None:
        """Signal every process this one started, and theirs, never this one."""
        from mosaic_core import _procs

        for pid in _procs.run_processes(os.getpid()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _described(space: Any) -> dict[str, Any]:
    """``space``'s description; a plain dict is one already (a Gymnasium ``Dict`` space is
    a mapping too, but no dict)."""
    return dict(space) if type(space) is dict else describe_space(space)


def _has_files(directory: pathlib.Path) -> bool:
    try:
        return any(directory.iterdir())
    except OSError:
        return False


def _load(path: pathlib.Path) -> WorkerAnalyticsManifest | None:
    from mosaic_core._manifest import MANIFEST_FILENAME, WorkerAnalyticsManifest

    if not (path / MANIFEST_FILENAME).exists():
        return None
    return WorkerAnalyticsManifest.load(path)
