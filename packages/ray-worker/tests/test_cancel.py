"""Stopping a run mid-training: run_cancelled, no process of its private Ray left, and the
policy kept (the learner's state saved without Ray) for the operator to play; a timeout does
the same, and ``checkpoint_every`` saves along the way."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from mosaic_core import WorkerAnalyticsManifest
from mosaic_core.runs import RunStore
from mosaic_ray.cluster import temp_dir_for

from .conftest import (
    PPO_TINY,
    cancel,
    events,
    mosaic,
    process_tree,
    processes_mentioning,
    run_args,
    start_long_run,
    wait_for_metrics,
    wait_until,
)


def test_cancel_mid_training_keeps_the_policy_and_leaves_no_process_of_a_local_ray(
    mosaic_home: pathlib.Path,
) -> None:
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
    # The policy is kept: the learner's state, saved after Ray's processes were gone.
    saved = _stopped_checkpoint(result)
    assert (run_dir / saved / "learner_group/learner/rl_module/default_policy").is_dir()
    played = mosaic(mosaic_home, "eval", "--operator", f"ray:{run_id}", "--episodes", "2",
                    "--json")  # fmt: skip
    assert played.returncode == 0, played.stderr
    report = json.loads(played.stdout)
    assert report["env_id"] == "CartPole-v1" and report["operators"][0]["error"] is None


def test_a_timed_out_run_keeps_its_policy_and_periodic_checkpoints(
    mosaic_home: pathlib.Path,
) -> None:
    done = mosaic(mosaic_home, *run_args("total_steps=100000000", "checkpoint_every=400",
                                         *PPO_TINY), "--timeout", "40")  # fmt: skip
    result = json.loads(done.stdout)
    assert (result["status"], result["reason"], result["signal"]) == ("failed", "timeout", None)
    stopped = _stopped_checkpoint(result)
    saved = [e["payload"] for e in events(result) if e["event"] == "checkpoint_saved"]
    *periodic, _ = saved
    assert periodic and all(s["reason"] == "periodic" for s in periodic)
    steps = [s["step"] for s in periodic]
    assert steps[0] >= 400 and len({step // 400 for step in steps}) == len(steps)
    assert [s["path"] for s in periodic] == [f"checkpoints/step_{step}" for step in steps]
    from mosaic_ray.operator import RayOperator

    run_dir = pathlib.Path(result["run_dir"])
    for checkpoint in (run_dir / periodic[0]["path"], run_dir / stopped, run_dir):
        operator = RayOperator.load(checkpoint)
        assert operator.select_action([0.0, 0.0, 0.0, 0.0], {}) in (0, 1)
        operator.close()
    refused = mosaic(mosaic_home, "eval", "--operator", f"ray:{result['run_id']}", "--env",
                     "Acrobot-v1")  # fmt: skip
    assert refused.returncode == 2
    assert "trained on observations Box(4,) float32 and actions Discrete(2)" in refused.stderr


def _stopped_checkpoint(result: dict[str, Any]) -> str:
    """The checkpoint a stopped run saved: last in its stream and its manifest, named by
    run_cancelled."""
    stream = events(result)
    assert [e["seq"] for e in stream] == list(range(len(stream)))
    saved = [e["payload"] for e in stream if e["event"] == "checkpoint_saved"][-1]
    assert saved["reason"] == "stopped" and saved["path"] == f"checkpoints/step_{saved['step']}"
    assert stream[-1]["event"] == "run_cancelled"
    assert stream[-1]["payload"]["checkpoint"] == saved["path"]
    manifest = WorkerAnalyticsManifest.load(result["run_dir"])
    assert manifest.artifacts.checkpoints is not None
    assert manifest.artifacts.checkpoints.latest == saved["path"]
    assert manifest.metadata["trained_on"]["env_id"] == "CartPole-v1"
    return str(saved["path"])


def _worker_pid(home: pathlib.Path, run_id: str) -> int:
    store = RunStore(home)
    try:
        pid: Any = store.get(run_id)["pid"]
    finally:
        store.close()
    assert pid, "the supervisor records the worker's pid"
    return int(pid)
