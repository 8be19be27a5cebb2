"""Stopping a run gives its worker the grace period to save a checkpoint: cancel, Ctrl-C, the
wall-clock and heartbeat timeouts all send SIGTERM first and SIGKILL only ``--grace`` seconds
later, and the worker is told that grace in ``$MOSAIC_STOP_GRACE``."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from mosaic_core import WorkerAnalyticsManifest
from mosaic_core.runs import RunStore

from .conftest import Mosaic, survivors

SAVE = ("--set", "behavior=save_on_stop", "--set", "total_steps=100000")


def _saved(store: RunStore, run_id: str) -> str | None:
    """The checkpoint the run's manifest lists last, if any."""
    run_dir = store.run_dir(run_id)
    if not (run_dir / "analytics.json").exists():
        return None
    checkpoints = WorkerAnalyticsManifest.load(run_dir).artifacts.checkpoints
    return checkpoints.latest if checkpoints else None


def _wait_for_metrics(store: RunStore, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in store.list_runs(status="running"):
            if any(e["event"] == "metrics" for e in store.events(run["run_id"])):
                return str(run["run_id"])
        time.sleep(0.05)
    raise AssertionError("no run reported metrics")


def test_wall_clock_timeout_leaves_the_checkpoint_saved_in_the_grace(
    mosaic: Mosaic, store: RunStore
) -> None:
    code, result = mosaic.run_json(*SAVE, "--set", "step_sleep=0.01", "--set", "stop_sleep=0.5",
                                   "--timeout", "1.5")  # fmt: skip
    assert code == 1 and (result["status"], result["reason"]) == ("failed", "timeout")
    assert result["signal"] is None and result["exit_code"] == 130  # it ended itself
    assert _saved(store, result["run_id"]) == "checkpoints/stopped.json"
    # The worker's heartbeat thread goes on beating while the checkpoint is recorded.
    kinds = [e["event"] for e in store.events(result["run_id"]) if e["event"] != "heartbeat"]
    assert kinds[-2:] == ["checkpoint_saved", "run_cancelled"]


def test_the_report_of_a_stopped_run_names_the_checkpoint_it_kept(mosaic: Mosaic) -> None:
    done = mosaic("run", "fixture", *SAVE, "--set", "step_sleep=0.01", "--timeout", "1")
    assert done.returncode == 1
    assert "FAILED  run" in done.stdout and "reason: timeout" in done.stdout
    assert "  latest checkpoint: checkpoints/stopped.json\n" in done.stdout


def test_heartbeat_timeout_leaves_the_checkpoint_saved_in_the_grace(
    mosaic: Mosaic, store: RunStore
) -> None:
    code, result = mosaic.run_json(
        *SAVE, "--set", "silent=true", "--set", "step_sleep=0.05", "--set", "stop_sleep=0.5",
        "--heartbeat-timeout", "1.5",
    )  # fmt: skip
    assert code == 1 and result["reason"] == "heartbeat_timeout" and result["signal"] is None
    assert _saved(store, result["run_id"]) == "checkpoints/stopped.json"
    assert not survivors(store.get(result["run_id"]))


def test_the_grace_is_told_to_the_worker_and_bounds_the_save(
    mosaic: Mosaic, store: RunStore
) -> None:
    # A save of 2 s fits a grace of 4 s, and the worker knows its grace...
    _, result = mosaic.run_json(*SAVE, "--set", "step_sleep=0.01", "--set", "stop_sleep=2",
                                   "--timeout", "1", "--grace", "4")  # fmt: skip
    assert result["signal"] is None and _saved(store, result["run_id"])
    saved = store.run_dir(result["run_id"]) / "checkpoints" / "stopped.json"
    assert float(saved.read_text()) == 4.0
    launch = json.loads((store.run_dir(result["run_id"]) / "launch.json").read_text())
    assert launch["kill_grace"] == 4.0
    # ...and does not fit a grace of 0.5 s: SIGKILL, nothing recorded.
    started = time.monotonic()
    _, result = mosaic.run_json(*SAVE, "--set", "step_sleep=0.01", "--set", "stop_sleep=5",
                                   "--timeout", "1", "--grace", "0.5")  # fmt: skip
    assert time.monotonic() - started < 4.5
    assert (result["status"], result["signal"]) == ("failed", "SIGKILL")
    assert _saved(store, result["run_id"]) is None


def test_mosaic_cancel_waits_the_run_s_own_grace(mosaic: Mosaic, store: RunStore) -> None:
    """A save longer than the default 5 s survives `mosaic cancel` of a run given --grace 10."""
    runner = mosaic.popen("run", "fixture", "--json", *SAVE, "--set", "step_sleep=0.01",
                          "--set", "stop_sleep=6", "--grace", "10")  # fmt: skip
    run_id = _wait_for_metrics(store)
    done = mosaic("cancel", run_id, timeout=60)
    assert done.returncode == 0, done.stderr
    out, err = runner.communicate(timeout=60)
    result: dict[str, Any] = json.loads(out)
    assert (result["status"], result["signal"]) == ("cancelled", None), err
    assert _saved(store, run_id) == "checkpoints/stopped.json"


def test_ctrl_c_leaves_the_checkpoint_saved(mosaic: Mosaic, store: RunStore) -> None:
    runner = mosaic.popen("run", "fixture", "--json", *SAVE, "--set", "step_sleep=0.01",
                          "--set", "stop_sleep=0.5")  # fmt: skip
    run_id = _wait_for_metrics(store)
    runner.send_signal(signal.SIGINT)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode == 130
    assert json.loads(out)["summary"]["reason"] == "received SIGTERM"
    assert _saved(store, run_id) == "checkpoints/stopped.json"


def test_checkpoint_every_is_refused_for_a_worker_without_checkpoints(
    mosaic: Mosaic, store: RunStore
) -> None:
    done = mosaic("run", "fixture", "--set", "checkpoint_every=100")
    assert done.returncode == 2
    assert (
        "config field 'checkpoint_every': got 100 (int); expected null: worker 'fixture' keeps "
        "no checkpoints (its capabilities say supports_checkpointing=False)"
    ) in done.stderr
    assert store.list_runs() == []
    done = mosaic("run", "fixture", "--set", "checkpoint_every=0")
    assert done.returncode == 2 and "an integer >= 1" in done.stderr
