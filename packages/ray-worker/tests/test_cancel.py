"""Cancelling a run mid-training: run_cancelled, and no process of its private Ray left."""

from __future__ import annotations

import os
import pathlib
from typing import Any

from mosaic_core.runs import RunStore
from mosaic_ray.cluster import temp_dir_for

from .conftest import (
    PPO_TINY,
    cancel,
    events,
    process_tree,
    processes_mentioning,
    start_long_run,
    wait_for_metrics,
    wait_until,
)


def test_cancel_mid_training_leaves_no_process_of_a_local_ray(mosaic_home: pathlib.Path) -> None:
    runner = start_long_run(mosaic_home, "num_env_runners=1", *PPO_TINY)
    run_dir = wait_for_metrics(mosaic_home, runner)
    run_id = run_dir.name
    temp_dir = temp_dir_for(run_id)
    services = " ".join(processes_mentioning(temp_dir).values())
    assert "gcs_server" in services and "raylet" in services, "the run's own Ray should be up"
    worker = _worker_pid(mosaic_home, run_id)
    result = cancel(runner)
    assert result["status"] == "cancelled" and result["signal"] != "SIGKILL", result
    assert events(result)[-1]["event"] == "run_cancelled"
    left = processes_mentioning
    assert wait_until(lambda: not left(temp_dir), 10), left(temp_dir)
    survivors = process_tree(worker)
    assert not survivors, f"processes of the worker's session survived it: {survivors}"
    assert not os.path.exists(temp_dir)


def _worker_pid(home: pathlib.Path, run_id: str) -> int:
    store = RunStore(home)
    try:
        pid: Any = store.get(run_id)["pid"]
    finally:
        store.close()
    assert pid, "the supervisor records the worker's pid"
    return int(pid)
