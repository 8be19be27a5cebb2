"""Running workers and keeping their runs: the supervisor, the run store, telemetry reading.

This is the host's API for starting and looking at runs; front ends and
launchers use it, never a copy of it. A worker never imports it.
"""

from __future__ import annotations

from mosaic_core._lazy import lazy_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core._procs import run_processes
    from mosaic_core._ulid import new_run_id
    from mosaic_core.runs.control import RunStateError, cancel_run, remove_run
    from mosaic_core.runs.launch import (
        Prepared,
        Resolved,
        launch_runs,
        prepare_runs,
        read_config_file,
        record_provenance,
        redact,
        resolve_worker,
        start_detached,
    )
    from mosaic_core.runs.launcher_registry import discover_launchers
    from mosaic_core.runs.launchers import (
        DEFAULT_HEARTBEAT_TIMEOUT,
        LauncherSpec,
        LaunchSpec,
    )
    from mosaic_core.runs.provenance import collect_provenance
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
    from mosaic_core.runs.sweep import check_group, default_group, parse_sweeps, sweep_grid

_LAZY = {
    "ACTIVE_STATUSES": "mosaic_core.runs.store",
    "Anomaly": "mosaic_core.runs.reader",
    "DEFAULT_HEARTBEAT_TIMEOUT": "mosaic_core.runs.launchers",
    "LaunchSpec": "mosaic_core.runs.launchers",
    "LauncherSpec": "mosaic_core.runs.launchers",
    "LogLine": "mosaic_core.runs.reader",
    "Prepared": "mosaic_core.runs.launch",
    "Resolved": "mosaic_core.runs.launch",
    "RunStateError": "mosaic_core.runs.control",
    "cancel_run": "mosaic_core.runs.control",
    "launch_runs": "mosaic_core.runs.launch",
    "remove_run": "mosaic_core.runs.control",
    "resolve_worker": "mosaic_core.runs.launch",
    "start_detached": "mosaic_core.runs.launch",
    "RunNotFound": "mosaic_core.runs.store",
    "RunProgress": "mosaic_core.runs.supervisor",
    "RunResult": "mosaic_core.runs.supervisor",
    "RunStore": "mosaic_core.runs.store",
    "STATUSES": "mosaic_core.runs.store",
    "Supervisor": "mosaic_core.runs.supervisor",
    "TelemetryEvent": "mosaic_core.runs.reader",
    "TelemetryReader": "mosaic_core.runs.reader",
    "check_group": "mosaic_core.runs.sweep",
    "collect_provenance": "mosaic_core.runs.provenance",
    "default_group": "mosaic_core.runs.sweep",
    "parse_sweeps": "mosaic_core.runs.sweep",
    "sweep_grid": "mosaic_core.runs.sweep",
    "mosaic_home": "mosaic_core.runs.store",
    "prepare_runs": "mosaic_core.runs.launch",
    "read_config_file": "mosaic_core.runs.launch",
    "record_provenance": "mosaic_core.runs.launch",
    "discover_launchers": "mosaic_core.runs.launcher_registry",
    "read_events": "mosaic_core.runs.reader",
    "reconcile": "mosaic_core.runs.reconcile",
    "run_processes": "mosaic_core._procs",
    "new_run_id": "mosaic_core._ulid",
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
    "Resolved",
    "RunNotFound",
    "RunProgress",
    "RunResult",
    "RunStateError",
    "RunStore",
    "Supervisor",
    "TelemetryEvent",
    "TelemetryReader",
    "cancel_run",
    "check_group",
    "collect_provenance",
    "default_group",
    "discover_launchers",
    "launch_runs",
    "mosaic_home",
    "new_run_id",
    "parse_sweeps",
    "prepare_runs",
    "read_config_file",
    "read_events",
    "reconcile",
    "record_provenance",
    "redact",
    "remove_run",
    "resolve_worker",
    "run_processes",
    "start_detached",
    "sweep_grid",
]
