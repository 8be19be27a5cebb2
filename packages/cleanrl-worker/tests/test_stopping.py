"""No trained policy is lost: a CleanRL run stopped by `mosaic cancel`, Ctrl-C, its wall-clock
timeout or its heartbeat timeout leaves a checkpoint the operator plays, listed in the manifest;
``checkpoint_every`` saves along the way. Real runs, real signals, real timeouts."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from mosaic_cleanrl.operator import CleanRLOperator
from mosaic_core import WorkerAnalyticsManifest

from .conftest import mosaic, run_cleanrl

PPO_LONG = [
    "--set",
    "algorithm=ppo",
    "--set",
    "env_id=CartPole-v1",
    "--set",
    "total_steps=10000000",
]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", "run", "cleanrl", "--json", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip


def _wait_for_step(home: pathlib.Path, runner: subprocess.Popen[str], step: int) -> pathlib.Path:
    """The run directory of the only run under ``home``, once a metrics event passed ``step``."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and runner.poll() is None:
        for path in (home / "runs").glob("*/events.jsonl") if (home / "runs").exists() else ():
            for line in path.read_text().splitlines():
                event = json.loads(line)
                if event["event"] == "metrics" and event["payload"]["step"] >= step:
                    return path.parent
        time.sleep(0.2)
    runner.kill()
    out, err = runner.communicate()
    pytest.fail(f"the run never reached step {step}:\n{out}\n{err[-3000:]}")


def _events(run_dir: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _assert_stopped_with_a_checkpoint(run_dir: pathlib.Path, at_least: int) -> str:
    """The stream ends checkpoint_saved (reason stopped), run_cancelled naming it; the
    manifest lists it last; it is a policy that plays. Returns its path."""
    events = _events(run_dir)
    assert [e["seq"] for e in events] == list(range(len(events)))
    saved, cancelled = [e for e in events if e["event"] == "checkpoint_saved"][-1], events[-1]
    assert saved["payload"]["reason"] == "stopped"
    path = saved["payload"]["path"]
    assert path == f"checkpoints/step_{saved['payload']['step']}.pt"
    assert saved["payload"]["step"] >= at_least
    assert cancelled["event"] == "run_cancelled"
    assert cancelled["payload"]["checkpoint"] == path
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.artifacts.checkpoints is not None
    assert manifest.artifacts.checkpoints.latest == path and manifest.missing_files(run_dir) == []
    assert manifest.metadata["global_step"] >= at_least
    assert manifest.metadata["trained_on"]["env_id"] == "CartPole-v1"
    operator = CleanRLOperator.load(run_dir)
    assert operator.checkpoint["reason"] == "stopped"
    assert operator.select_action([0.0, 0.0, 0.0, 0.0]) in (0, 1)
    operator.close()
    return str(path)


def test_a_cancelled_run_keeps_its_policy_and_mosaic_eval_plays_it(
    mosaic_home: pathlib.Path,
) -> None:
    """The report of issue 14: PPO cancelled at step 8,160 left checkpoints/ empty and no
    analytics.json. Now the stopped script saves, and the run says where."""
    runner = _start(*PPO_LONG)
    run_dir = _wait_for_step(mosaic_home, runner, 8160)
    done = mosaic("cancel", run_dir.name)
    assert done.returncode == 0, done.stderr
    out, _ = runner.communicate(timeout=60)
    result = json.loads(out)
    assert (result["status"], result["signal"], result["exit_code"]) == ("cancelled", None, 130)
    path = _assert_stopped_with_a_checkpoint(run_dir, 8160)
    assert result["summary"]["checkpoint"] == path and result["summary"]["global_step"] >= 8160

    # Without --env: the environment the run was trained on.
    played = mosaic("eval", "--operator", f"cleanrl:{run_dir.name}", "--episodes", "2", "--json")
    assert played.returncode == 0, played.stderr
    report = json.loads(played.stdout)
    assert report["env_id"] == "CartPole-v1"
    assert report["operators"][0]["episodes"] == 2 and report["operators"][0]["error"] is None
    # The checkpoint file itself is a spec.
    played = mosaic("eval", "--operator", f"cleanrl:{run_dir / path}", "--episodes", "1")
    assert played.returncode == 0, played.stderr


def test_ctrl_c_on_mosaic_run_keeps_the_policy(mosaic_home: pathlib.Path) -> None:
    runner = _start(*PPO_LONG, "--set", "num_envs=2")
    run_dir = _wait_for_step(mosaic_home, runner, 2000)
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    assert json.loads(out)["status"] == "cancelled"
    _assert_stopped_with_a_checkpoint(run_dir, 2000)


def test_a_run_past_its_wall_clock_timeout_keeps_the_policy(mosaic_home: pathlib.Path) -> None:
    done = mosaic("run", "cleanrl", "--json", *PPO_LONG, "--timeout", "25", timeout=180)
    result = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    assert (result["status"], result["reason"], result["signal"]) == ("failed", "timeout", None)
    _assert_stopped_with_a_checkpoint(pathlib.Path(result["run_dir"]), 1)


def test_a_run_past_its_heartbeat_timeout_keeps_the_policy(mosaic_home: pathlib.Path) -> None:
    """A worker that falls silent (stopped here with SIGSTOP, as a machine that swaps would
    stall it) gets SIGTERM at its heartbeat timeout, and the grace to save once it wakes."""
    # Above the 5 s between the worker's own heartbeats while the script starts.
    runner = _start(*PPO_LONG, "--heartbeat-timeout", "8", "--grace", "30")
    run_dir = _wait_for_step(mosaic_home, runner, 2000)
    worker = json.loads((run_dir / "run.json").read_text())["pid"]
    os.kill(worker, signal.SIGSTOP)
    try:
        time.sleep(14)  # past the heartbeat timeout: the supervisor has sent SIGTERM
    finally:
        os.kill(worker, signal.SIGCONT)
    out, err = runner.communicate(timeout=60)
    result = json.loads(out)
    assert (result["status"], result["reason"], result["signal"]) == (
        "failed",
        "heartbeat_timeout",
        None,
    ), err
    _assert_stopped_with_a_checkpoint(run_dir, 2000)


def test_checkpoint_every_saves_along_the_way(mosaic_home: pathlib.Path) -> None:
    code, result, stderr = run_cleanrl(
        "algorithm=ppo", "env_id=CartPole-v1", "total_steps=3072", "num_envs=2",
        "num_steps=128", "checkpoint_every=1000",
    )  # fmt: skip
    assert code == 0, stderr
    run_dir = pathlib.Path(result["run_dir"])
    saved = [e["payload"] for e in _events(run_dir) if e["event"] == "checkpoint_saved"]
    # One at the first logged step (an update, or an episode's end) at or past each 1000.
    *periodic, final = saved
    assert [s["reason"] for s in periodic] == ["periodic"] * 3
    for multiple, s in zip((1000, 2000, 3000), periodic, strict=True):
        assert (
            multiple <= s["step"] < multiple + 1000
            and s["path"] == f"checkpoints/step_{s['step']}.pt"
        )
    assert (final["path"], final["reason"]) == ("checkpoints/final.pt", "final")
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.artifacts.checkpoints is not None
    assert list(manifest.artifacts.checkpoints.files) == [s["path"] for s in saved]
    assert manifest.artifacts.checkpoints.latest == "checkpoints/final.pt"
    first = CleanRLOperator.load(run_dir / periodic[0]["path"])
    assert first.checkpoint["global_step"] == periodic[0]["step"]
    assert first.checkpoint["reason"] == "periodic"
    assert CleanRLOperator.load(run_dir).checkpoint["reason"] == "final"


def test_an_environment_with_other_spaces_is_refused_before_any_step(
    mosaic_home: pathlib.Path,
) -> None:
    code, result, stderr = run_cleanrl(
        "algorithm=dqn", "env_id=CartPole-v1", "total_steps=600", "learning_starts=300"
    )
    assert code == 0, stderr
    done = mosaic("eval", "--operator", f"cleanrl:{result['run_id']}", "--env", "Acrobot-v1")
    assert done.returncode == 2
    assert (
        "was trained on observations Box(4,) float32 and actions Discrete(2) (CartPole-v1), "
        "but Acrobot-v1 has observations Box(6,) float32 and actions Discrete(3)"
    ) in done.stderr
    assert "Traceback" not in done.stderr and "size mismatch" not in done.stderr
