"""Running workers and keeping their runs: the supervisor, the run store, telemetry reading.

This is the host's API for starting and looking at runs; front ends and
launchers use it, never a copy of it. A worker never imports it.
"""

from __future__ import annotations

from mosaic_core._lazy import lazy_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core._procs import run_processes
    from mosaic_core.runs.launch import Prepared, prepare_runs, read_config_file, redact
    from mosaic_core.runs.launcher_registry import discover_launchers
    from mosaic_core.runs.launchers import (
        DEFAULT_HEARTBEAT_TIMEOUT,
        LauncherSpec,
        LaunchSpec,
    )
    from mosaic_core.runs.reader import (
        Anomaly,
        LogLine,
        TelemetryEvent,
        TelemetryReader,
        read_events,
    )
    from mosaic_core.runs.reconcile import reconcile
    from mosaic_core.runs.store import (
        ACTIVE_STATUSES,
        STATUSES,
        RunNotFound,
        RunStore,
        mosaic_home,
    )
    from mosaic_core.runs.supervisor import RunProgress, RunResult, Supervisor

_LAZY = {
    "ACTIVE_STATUSES": "mosaic_core.runs.store",
    "Anomaly": "mosaic_core.runs.reader",
    "DEFAULT_HEARTBEAT_TIMEOUT": "mosaic_core.runs.launchers",
    "LaunchSpec": "mosaic_core.runs.launchers",
    "LauncherSpec": "mosaic_core.runs.launchers",
    "LogLine": "mosaic_core.runs.reader",
    "Prepared": "mosaic_core.runs.launch",
    "RunNotFound": "mosaic_core.runs.store",
    "RunProgress": "mosaic_core.runs.supervisor",
    "RunResult": "mosaic_core.runs.supervisor",
    "RunStore": "mosaic_core.runs.store",
    "STATUSES": "mosaic_core.runs.store",
    "Supervisor": "mosaic_core.runs.supervisor",
    "TelemetryEvent": "mosaic_core.runs.reader",
    "TelemetryReader": "mosaic_core.runs.reader",
    "mosaic_home": "mosaic_core.runs.store",
    "prepare_runs": "mosaic_core.runs.launch",
    "read_config_file": "mosaic_core.runs.launch",
    "discover_launchers": "mosaic_core.runs.launcher_registry",
    "read_events": "mosaic_core.runs.reader",
    "reconcile": "mosaic_core.runs.reconcile",
    "run_processes": "mosaic_core._procs",
    "redact": "mosaic_core.runs.launch",
}

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __name__)

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "STATUSES",
    "Anomaly",
    "LaunchSpec",
    "LauncherSpec",
    "LogLine",
    "Prepared",
    "RunNotFound",
    "RunProgress",
    "RunResult",
    "RunStore",
    "Supervisor",
    "TelemetryEvent",
    "TelemetryReader",
    "discover_launchers",
    "mosaic_home",
    "prepare_runs",
    "read_config_file",
    "read_events",
    "reconcile",
    "redact",
    "run_processes",
]
