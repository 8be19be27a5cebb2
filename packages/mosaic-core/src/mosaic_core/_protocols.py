"""The structural contracts a worker implements: its config and its runtime.

They are ``typing.Protocol`` classes, so a worker needs no base class:
anything with the right attributes and methods conforms, and
``isinstance(obj, WorkerConfig)`` checks it at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["WorkerConfig", "WorkerRuntime"]


@runtime_checkable
class WorkerConfig(Protocol):
    """A worker's configuration for one run.

    Implementers provide ``run_id`` (set by the supervisor), ``seed`` (None
    means the library picks one) and a lossless dict round trip:
    ``type(c).from_dict(c.to_dict()) == c``. ``from_dict`` must reject what it
    cannot accept with a :class:`~mosaic_core._errors.ConfigError`.
    :class:`~mosaic_core._config.WorkerConfigBase` gives all of this for free.
    """

    run_id: str
    seed: int | None

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerConfig: ...


@runtime_checkable
class WorkerRuntime(Protocol):
    """Runs one configured training job to its end inside the worker process.

    ``run()`` emits the lifecycle telemetry (``run_started`` first, exactly
    one terminal event last) and returns a JSON-serialisable summary, which
    is also the ``run_completed`` payload. It raises on failure after
    ``run_failed`` was emitted; :meth:`TelemetryEmitter.lifecycle
    <mosaic_core._telemetry.TelemetryEmitter.lifecycle>` does both right.
    """

    def run(self) -> dict[str, Any]: ...
