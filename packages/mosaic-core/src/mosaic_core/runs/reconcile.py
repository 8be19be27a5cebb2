"""Settling runs whose supervisor died, wherever they run.

A supervisor restarted after a crash, or any command that reads runs
(``mosaic runs``, ``show``, ``events`` ...), settles the runs a dead
supervisor left: a run of this machine from its ``events.jsonl`` and its
worker's process; a run elsewhere through its launcher, which brings home
what is missing (:meth:`~mosaic_core.runs.launchers.Launcher.recover`).
"""

from __future__ import annotations

import contextlib
import os
import time

from mosaic_core.runs.store import RunStore, terminal_status

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:
    from mosaic_core.runs.launchers import Launcher, LaunchSpec

__all__ = ["launch_spec_of", "reconcile", "stop_elsewhere"]

# What reconcile reads of each run still pending or running: not the whole record.
_WATCHED = ("run_id", "status", "created_at", "supervisor_pid", "supervisor_start")


def reconcile(store: RunStore) -> list[str]:
    """Settle runs whose supervisor died; returns the ids whose status changed.

    A run whose supervisor is gone is caught up from its ``events.jsonl``. If
    its worker is still alive it stays ``running`` and is reported with reason
    ``supervisor_lost``; if the worker is gone too, its own terminal event
    decides, and without one it is ``failed`` with reason ``supervisor_lost``,
    unless its supervisor left the end it could not record (see
    :mod:`mosaic_core.runs.recorder`).
    """
    changed: list[str] = []
    if store.readonly:
        return changed  # nothing can be settled in a read-only store; it is shown as it is
    active = store.list_runs(status="running", columns=_WATCHED)
    active += store.list_runs(status="pending", columns=_WATCHED)
    if not active:
        return changed  # the usual case: nothing to settle, nothing else to import
    from mosaic_core import _procs as procs
    from mosaic_core.runs.launchers import LOCAL

    launchers: dict[str, Launcher] = {}
    try:
        for run in active:
            if procs.alive(run["supervisor_pid"], run["supervisor_start"]):
                continue
            if run["status"] == "pending" and time.time() - run["created_at"] < 60:
                continue  # a detached supervisor may still be on its way
            spec = launch_spec_of(store.run_dir(run["run_id"]))
            if spec is not None and spec.launcher != LOCAL:
                if _reconcile_elsewhere(store, run["run_id"], spec, launchers):
                    changed.append(run["run_id"])
            elif _reconcile_here(store, run["run_id"]):
                changed.append(run["run_id"])
    finally:
        for launcher in launchers.values():
            with contextlib.suppress(Exception):
                launcher.close()
    return changed


def _reconcile_here(store: RunStore, run_id: str) -> bool:
    """Settle a run of this machine whose supervisor died; True if its record changed."""
    import signal

    from mosaic_core import _procs as procs
    from mosaic_core.runs.recorder import end_mark

    run = store.catch_up(run_id)
    worker_alive = procs.alive(run["pid"], run["pid_start"])
    if worker_alive:
        if run["reason"] != "supervisor_lost":
            store.update(run["run_id"], reason="supervisor_lost")
            return True
        return False
    run = store.catch_up(run["run_id"], final=True)
    for orphan in procs.marked_processes(run["run_id"]):  # what the run left running
        procs.signal_tree(orphan, signal.SIGKILL)
    status, reason = terminal_status(run["terminal_event"]) or "failed", "supervisor_lost"
    left = end_mark(store.run_dir(run["run_id"]))  # what its supervisor could not record
    if left is not None:
        status, reason = left
    store.update(
        run["run_id"],
        status=status,
        reason=reason,
        ended_at=run["last_event_at"] or time.time(),
    )
    end_mark(store.run_dir(run["run_id"]), remove=True)
    return True


def _reconcile_elsewhere(
    store: RunStore, run_id: str, spec: LaunchSpec, launchers: dict[str, Launcher]
) -> bool:
    """Settle a run that runs elsewhere and whose supervisor died: its launcher brings home
    what is missing; its end is recorded once it ended. True if its record changed."""
    # Imported here: it loads plugin discovery, which the reading commands that
    # reconcile (`mosaic runs`, `show` ...) need only when a run was launched elsewhere.
    from mosaic_core import _procs as procs
    from mosaic_core.runs.launcher_registry import launcher_for
    from mosaic_core.runs.recorder import warn

    try:
        found = launcher_for(spec.launcher, launchers).recover(
            store, run_id, spec, telemetry=True, files=False
        )
    except Exception as exc:  # noqa: BLE001 - unreachable now: shown as it is, tried again later
        warn(f"run {run_id}: launcher {spec.launcher!r} could not reach it ({exc})")
        found = None
    run = store.catch_up(run_id)
    if found is None or found.running or found.ended is None:
        if run["reason"] != "supervisor_lost":
            store.update(run_id, reason="supervisor_lost")
            return True
        return False
    run = store.catch_up(run_id, final=True)
    code = found.ended.returncode
    terminal = run["terminal_event"]
    status = terminal_status(terminal) or "failed"
    reason = found.ended.failure if terminal is None and found.ended.failure else "supervisor_lost"
    store.update(
        run_id,
        status=status,
        reason=reason,
        exit_code=code if code is not None and code >= 0 else None,
        signal=procs.signal_name(-code) if code is not None and code < 0 else None,
        ended_at=run["last_event_at"] or time.time(),
    )
    return True


def launch_spec_of(run_dir: os.PathLike[str] | str) -> LaunchSpec | None:
    """The run's ``launch.json``, or None when it has none that can be read."""
    from mosaic_core.runs.launchers import LaunchSpec

    try:
        return LaunchSpec.load(os.path.join(run_dir, "launch.json"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def stop_elsewhere(store: RunStore, run_id: str, grace: float) -> bool:
    """``mosaic cancel`` of a run nobody supervises that runs elsewhere: its launcher stops
    it (SIGTERM, SIGKILL after ``grace``) and brings home what it wrote. True if it ran."""
    from mosaic_core.runs.launchers import LOCAL

    spec = launch_spec_of(store.run_dir(run_id))
    if spec is None or spec.launcher == LOCAL:
        return False
    from mosaic_core.runs.launcher_registry import launcher_for

    launcher = launcher_for(spec.launcher, {})
    try:
        return launcher.stop(store, run_id, spec, grace)
    finally:
        launcher.close()
