"""No trained policy is lost: a XuanCe run stopped by `mosaic cancel` keeps the agent it had,
``checkpoint_every`` saves along the way, and `mosaic eval` plays the latest checkpoint on the
environment the run was trained on, refusing one with other spaces before any step."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from mosaic_core import WorkerAnalyticsManifest
from mosaic_xuance.operator import XuanCeOperator

from .conftest import events, mosaic, run_xuance

_SPREAD = "pettingzoo.mpe.simple_spread_v3:parallel_env"


def _wait_for_step(home: pathlib.Path, runner: subprocess.Popen[str], step: int) -> pathlib.Path:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and runner.poll() is None:
        for path in (home / "runs").glob("*/events.jsonl") if (home / "runs").exists() else ():
            stream = [json.loads(line) for line in path.read_text().splitlines()]
            if any(e["event"] == "metrics" and e["payload"]["step"] >= step for e in stream):
                return path.parent
        time.sleep(0.2)
    runner.kill()
    out, err = runner.communicate()
    pytest.fail(f"the run never reached step {step}:\n{out}\n{err[-3000:]}")


def test_a_cancelled_run_keeps_its_agent_and_mosaic_eval_plays_it(
    mosaic_home: pathlib.Path,
) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", "run", "xuance", "--json",
         "--set", "algorithm=dqn", "--set", "env_id=CartPole-v1", "--set", "parallels=2",
         "--set", "start_training=64", "--set", "batch_size=32",
         "--set", "total_steps=10000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    run_dir = _wait_for_step(mosaic_home, runner, 500)
    done = mosaic("cancel", run_dir.name)
    assert done.returncode == 0, done.stderr
    out, _ = runner.communicate(timeout=60)
    result = json.loads(out)
    assert (result["status"], result["signal"], result["exit_code"]) == ("cancelled", None, 130)

    stream = events(run_dir)
    assert [e["seq"] for e in stream] == list(range(len(stream)))
    saved = [e["payload"] for e in stream if e["event"] == "checkpoint_saved"]
    assert len(saved) == 1 and saved[0]["reason"] == "stopped" and saved[0]["step"] >= 500
    assert saved[0]["path"] == f"checkpoints/step_{saved[0]['step']}.pth"
    assert stream[-1]["event"] == "run_cancelled"
    assert (
        stream[-1]["payload"]["checkpoint"] == saved[0]["path"] == result["summary"]["checkpoint"]
    )
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.artifacts.checkpoints is not None
    assert manifest.artifacts.checkpoints.latest == saved[0]["path"]
    assert manifest.missing_files(run_dir) == [] and manifest.metadata["steps"] >= 500
    config = json.loads((run_dir / "checkpoints" / "xuance_config.json").read_text())
    assert config["model"] == f"step_{saved[0]['step']}.pth"
    operator = XuanCeOperator.load(run_dir)
    assert operator.select_action([0.0, 0.0, 0.0, 0.0]) in (0, 1)
    operator.close()

    played = mosaic("eval", "--operator", f"xuance:{run_dir.name}", "--episodes", "2", "--json")
    assert played.returncode == 0, played.stderr
    report = json.loads(played.stdout)
    assert report["env_id"] == "CartPole-v1" and report["operators"][0]["error"] is None


def test_checkpoint_every_saves_a_team_along_the_way(mosaic_home: pathlib.Path) -> None:
    code, result, stderr = run_xuance(
        "algorithm=mappo", "total_steps=300", "parallels=2", "buffer_size=100", "seed=3",
        "checkpoint_every=100",
    )  # fmt: skip
    assert code == 0, (result, stderr)
    run_dir = pathlib.Path(result["run_dir"])
    saved = [e["payload"] for e in events(run_dir) if e["event"] == "checkpoint_saved"]
    *periodic, final = saved
    assert periodic and {s["reason"] for s in periodic} == {"periodic"}
    steps = [s["step"] for s in periodic]
    assert steps == sorted(steps) and steps[0] >= 100
    assert len({step // 100 for step in steps}) == len(steps)  # one per multiple passed
    assert (final["path"], final["reason"]) == ("checkpoints/final_train_model.pth", "final")
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.artifacts.checkpoints is not None
    assert list(manifest.artifacts.checkpoints.files) == [s["path"] for s in saved]
    assert manifest.missing_files(run_dir) == []
    # Each agent's spaces are recorded, with the environment that plays the team.
    trained_on = manifest.metadata["trained_on"]
    assert trained_on["env_id"] == _SPREAD
    assert set(trained_on["agents"]) == {"agent_0", "agent_1", "agent_2"}

    # An earlier checkpoint is an operator spec of its own; without --env, the run's env.
    first = run_dir / periodic[0]["path"]
    played = mosaic("eval", "--operator", f"xuance:{first}", "--episodes", "1", "--json")
    assert played.returncode == 0, played.stderr
    (row,) = json.loads(played.stdout)["operators"]
    assert row["error"] is None and set(row["returns_by_agent"]) == {
        "agent_0",
        "agent_1",
        "agent_2",
    }

    # Another scenario's agents see other observations: refused before any step.
    done = mosaic("eval", "--operator", f"xuance:{run_dir.name}", "--env",
                  "pettingzoo.mpe.simple_reference_v3:parallel_env")  # fmt: skip
    assert done.returncode == 2
    assert "agent 'agent_0' of pettingzoo.mpe.simple_reference_v3:parallel_env has" in done.stderr
    assert "Traceback" not in done.stderr
