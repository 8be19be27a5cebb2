"""Stopping and removing runs: what ``mosaic cancel`` and ``mosaic rm`` do, for every front end.

Cancelling marks the run; its supervisor, if alive, stops it (SIGTERM to the
worker's process group, SIGKILL after the run's grace) and records the end. A
run without a supervisor is stopped from here, caught up from its
``events.jsonl`` and marked ``cancelled``.
"""

from __future__ import annotations

import time
from typing import Any

from mosaic_core import _procs as procs
from mosaic_core._errors import MosaicError
from mosaic_core._procs import DEFAULT_STOP_GRACE
from mosaic_core.runs.launchers import LaunchSpec
from mosaic_core.runs.store import ACTIVE_STATUSES, RunStore
from mosaic_core.runs.supervisor import reconcile, stop_elsewhere

__all__ = ["RunStateError", "cancel_run", "remove_run"]


class RunStateError(MosaicError):
    """The run is not in a state that allows this (cancel a finished run, remove a live one)."""


def cancel_run(
    store: RunStore, ref: str, *, grace: float | None = None, wait: bool = True
) -> dict[str, Any]:
    """Cancel the run named by ``ref`` (an id or unambiguous prefix); returns the run.

    A supervised run is stopped by its supervisor (one SIGTERM, the run's own
    grace, then SIGKILL); given ``grace``, the run is signalled from here too. A
    run nobody supervises is signalled here, what it left running is killed, and
    it is caught up from its ``events.jsonl`` and marked ``cancelled``. With
    ``wait`` this waits (up to the grace + 5 s) for the end to be recorded. A run
    that is not pending or running is a RunStateError.
    """
    run = store.get(ref)
    run_id = run["run_id"]
    if run["status"] not in ACTIVE_STATUSES:
        raise RunStateError(f"run {run_id} is already {run['status']}; nothing to cancel")
    store.update(run_id, cancel_requested=1)
    supervised = procs.alive(run["supervisor_pid"], run["supervisor_start"])
    stop_grace = grace if grace is not None else run_grace(store, run_id)

    def worker_alive() -> bool:
        return bool(run["pid"]) and procs.alive(run["pid"], run["pid_start"])

    if worker_alive() and (not supervised or grace is not None):
        procs.kill_tree(run["pid"], grace=stop_grace)
    if not supervised:
        stop_elsewhere(store, run_id, stop_grace)  # a run a launcher sent elsewhere
        for orphan in procs.marked_processes(run_id):  # what the run left running
            procs.kill_tree(orphan, grace=0.5)
        store.catch_up(run_id, final=True)
        store.update(run_id, status="cancelled", reason="cancelled", ended_at=time.time())
    elif wait:
        deadline = time.monotonic() + stop_grace + 5
        while time.monotonic() < deadline:
            if store.get(run_id)["status"] not in ACTIVE_STATUSES:
                break
            time.sleep(0.1)
        else:
            if worker_alive():  # the supervisor did not act: stop the run from here
                procs.kill_tree(run["pid"], grace=1.0)
    return store.get(run_id)


def run_grace(store: RunStore, run_id: str) -> float:
    """The grace period the run was started with (``mosaic run --grace``)."""
    try:
        return LaunchSpec.load(store.run_dir(run_id) / "launch.json").kill_grace
    except (OSError, ValueError, TypeError, KeyError):
        return DEFAULT_STOP_GRACE


def remove_run(store: RunStore, ref: str) -> str:
    """Delete a finished run, its index rows and its directory; returns its id.

    A run still pending or running (its worker or its supervisor alive) is a
    RunStateError: cancel it first.
    """
    reconcile(store)
    run = store.get(ref)
    worker_alive = procs.alive(run["pid"], run["pid_start"])
    supervised = procs.alive(run["supervisor_pid"], run["supervisor_start"])
    if run["status"] in ACTIVE_STATUSES and (worker_alive or supervised):
        raise RunStateError(
            f"run {run['run_id']} is still {run['status']}"
            + ("" if worker_alive else " (its supervisor will start it)")
            + f"; `mosaic cancel {run['run_id']}` it first"
        )
    store.delete(run["run_id"])
    return str(run["run_id"])
