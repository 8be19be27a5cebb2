"""Stopping and removing runs: what ``mosaic cancel`` and ``mosaic rm`` do, for every front end.

Cancelling marks the run, then signals its worker's whole process group
(SIGTERM, SIGKILL after ``grace`` seconds). A run whose supervisor is alive
is left to that supervisor to record; one without a supervisor is caught up
from its ``events.jsonl`` and marked ``cancelled`` here.
"""

from __future__ import annotations

import time
from typing import Any

from mosaic_core import _procs as procs
from mosaic_core._errors import MosaicError
from mosaic_core.runs.store import ACTIVE_STATUSES, RunStore
from mosaic_core.runs.supervisor import reconcile

__all__ = ["RunStateError", "cancel_run", "remove_run"]


class RunStateError(MosaicError):
    """The run is not in a state that allows this (cancel a finished run, remove a live one)."""


def cancel_run(
    store: RunStore, ref: str, *, grace: float = 5.0, wait: bool = True
) -> dict[str, Any]:
    """Cancel the run named by ``ref`` (an id or unambiguous prefix); returns the run.

    With ``wait`` it waits (up to ``grace`` + 5 s) for the supervisor to record
    the end. A run that is not pending or running is a RunStateError.
    """
    run = store.get(ref)
    run_id = run["run_id"]
    if run["status"] not in ACTIVE_STATUSES:
        raise RunStateError(f"run {run_id} is already {run['status']}; nothing to cancel")
    store.update(run_id, cancel_requested=1)
    supervised = procs.alive(run["supervisor_pid"], run["supervisor_start"])
    if run["pid"] and procs.alive(run["pid"], run["pid_start"]):
        procs.kill_tree(run["pid"], grace=grace)
    if not supervised:
        store.catch_up(run_id, final=True)
        store.update(run_id, status="cancelled", reason="cancelled", ended_at=time.time())
    elif wait:
        deadline = time.monotonic() + grace + 5
        while time.monotonic() < deadline:
            if store.get(run_id)["status"] not in ACTIVE_STATUSES:
                break
            time.sleep(0.1)
    return store.get(run_id)


def remove_run(store: RunStore, ref: str) -> str:
    """Delete a finished run, its index rows and its directory; returns its id.

    A run still pending or running (its worker alive) is a RunStateError: cancel it first.
    """
    reconcile(store)
    run = store.get(ref)
    if run["status"] in ACTIVE_STATUSES and procs.alive(run["pid"], run["pid_start"]):
        raise RunStateError(
            f"run {run['run_id']} is still {run['status']}; "
            f"`mosaic cancel {run['run_id']}` it first"
        )
    store.delete(run["run_id"])
    return str(run["run_id"])
