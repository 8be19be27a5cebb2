"""Every algorithm trains for real through `mosaic run`, and its checkpoint plays an episode.

Budgets are tiny: these tests pin the plumbing (metrics, checkpoints,
manifest, operator), not learning. benchmarks/cleanrl_overhead.py checks
learning.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any

import gymnasium
import pytest

from mosaic_cleanrl import __version__
from mosaic_cleanrl.config import CleanRLConfig
from mosaic_cleanrl.operator import CleanRLOperator
from mosaic_cleanrl.runtime import CleanRLRuntime, check_env
from mosaic_core import ConfigError, RunContext, WorkerAnalyticsManifest

from .conftest import mosaic, run_cleanrl

CASES = {
    "ppo": ["env_id=CartPole-v1", "total_steps=1024", "num_envs=2", "num_steps=128"],
    "ppo_continuous_action": ["env_id=Pendulum-v1", "total_steps=1024", "num_steps=256",
                              "num_minibatches=4", "update_epochs=2"],
    "dqn": ["env_id=CartPole-v1", "total_steps=800", "learning_starts=300", "train_frequency=4"],
    "c51": ["env_id=CartPole-v1", "total_steps=800", "learning_starts=300", "train_frequency=4"],
    "sac": ["env_id=Pendulum-v1", "total_steps=400", "learning_starts=250", "batch_size=64"],
    "td3": ["env_id=Pendulum-v1", "total_steps=400", "learning_starts=250", "batch_size=64"],
    "ddpg": ["env_id=Pendulum-v1", "total_steps=400", "learning_starts=250", "batch_size=64"],
}  # fmt: skip


@pytest.mark.parametrize("algorithm", list(CASES))
def test_algorithm_trains_checkpoints_and_plays(algorithm: str, mosaic_home: pathlib.Path) -> None:
    code, result, stderr = run_cleanrl(f"algorithm={algorithm}", "seed=2", *CASES[algorithm])
    assert code == 0, (result, stderr)
    assert result["status"] == "completed"
    run_dir = pathlib.Path(result["run_dir"])
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[0]["event"] == "run_started" and events[0]["payload"]["total_steps"] > 0
    assert events[-1]["event"] == "run_completed"
    metrics = [e for e in events if e["event"] == "metrics"]
    assert metrics, "no add_scalar call reached the telemetry"
    assert any("charts/episodic_return" in e["payload"]["values"] for e in metrics)
    saved = [e for e in events if e["event"] == "checkpoint_saved"]
    assert [e["payload"]["path"] for e in saved] == ["checkpoints/final.pt"]
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.worker_type == "cleanrl" and manifest.metadata["algorithm"] == algorithm
    assert manifest.metadata["cleanrl_version"] == "1.2.0"
    assert manifest.metadata["worker_version"] == __version__
    assert manifest.artifacts.checkpoints is not None
    assert manifest.artifacts.checkpoints.latest == "checkpoints/final.pt"
    assert manifest.missing_files(run_dir) == []
    assert list((run_dir / "tensorboard").iterdir()), "TensorBoard files belong in tensorboard/"
    assert "global_step=" in (run_dir / "stdout.log").read_text()  # the script's own prints

    operator = CleanRLOperator.load(run_dir)
    assert operator.checkpoint["format"] == "mosaic-cleanrl/2"
    assert operator.checkpoint["cleanrl_version"] == "1.2.0"
    env = gymnasium.make(CASES[algorithm][0].split("=")[1])
    observation, _ = env.reset(seed=0)
    operator.reset(seed=0)
    length = 0
    while length < 500:
        length += 1
        action = operator.select_action(observation)
        assert env.action_space.contains(
            action if operator.discrete else action.astype(env.action_space.dtype)
        )
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    assert length > 1
    operator.close()


def test_continuous_algorithm_on_discrete_env_fails_before_training(
    mosaic_home: pathlib.Path,
) -> None:
    code, result, _ = run_cleanrl("algorithm=sac", "env_id=CartPole-v1", "total_steps=100")
    assert code == 2 and result["status"] == "failed"
    assert "needs a continuous (Box) action space" in result["reason"]
    assert "Discrete(2)" in result["reason"]
    assert "global_step=" not in (pathlib.Path(result["run_dir"]) / "stdout.log").read_text()


def test_unknown_env_id_is_a_config_error(mosaic_home: pathlib.Path) -> None:
    code, result, _ = run_cleanrl("algorithm=ppo", "env_id=CartPol-v1", "total_steps=100")
    assert code == 2 and "did you mean 'CartPole-v1'" in result["reason"]


def test_a_failed_env_check_ends_the_script_and_keeps_its_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The env is checked in the script's process as it imports its gym: a failed check
    # must leave no process behind (the runtime's own doing, not the supervisor's reaper:
    # no supervisor here), and raise the very error the check gives on its own.
    config = CleanRLConfig.from_dict(
        {"run_id": "bad-env", "algorithm": "ppo", "env_id": "CartPol-v1", "total_steps": 100}
    )
    with pytest.raises(ConfigError) as alone:
        check_env(config)
    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen[bytes]):
        """The real Popen, which keeps each process it starts for the test to look at."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    context = RunContext(
        run_id="bad-env", run_dir=tmp_path, worker_type="cleanrl", worker_version=__version__
    )
    with pytest.raises(ConfigError) as raised:
        CleanRLRuntime(config, context).run()
    assert str(raised.value) == str(alone.value)
    assert "did you mean 'CartPole-v1'" in str(raised.value)
    [script] = started
    assert script.args[1:3] == ["-m", "cleanrl.ppo"]
    # Ended before it trained: by itself (status 2) or by the runtime, and reaped.
    assert script.returncode in (2, -signal.SIGKILL)
    leftover = subprocess.run(["pgrep", "-f", "cleanrl.ppo --"], capture_output=True, text=True)
    for pid in (int(p) for p in leftover.stdout.split()):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/environ", "rb") as handle:
            assert str(tmp_path).encode() not in handle.read()


WORKER_ALONE = """
import json, pathlib, sys
from mosaic_cleanrl.config import CleanRLConfig
from mosaic_cleanrl.runtime import CleanRLRuntime
from mosaic_core import RunContext
config = CleanRLConfig.from_dict({"run_id": "alone", "algorithm": "ppo", "total_steps": 256,
                                  "num_envs": 1, "num_steps": 128})
context = RunContext(run_id="alone", run_dir=pathlib.Path(sys.argv[1]), worker_type="cleanrl",
                     worker_version="test")
CleanRLRuntime(config, context).run()
loaded = [name for name in ("gym", "gymnasium", "numpy", "torch") if name in sys.modules]
print("RESULT", json.dumps({"loaded": loaded, "trained_on": context.trained_on}))
"""


def test_the_worker_records_the_spaces_without_importing_gym(tmp_path: pathlib.Path) -> None:
    # The script's process makes the env as it imports gym anyway; the worker's process
    # loads neither gym nor numpy (~0.3 s of CPU beside the script's start, and their
    # teardown at the end), and still records the spaces before the script trains.
    done = subprocess.run(
        [sys.executable, "-c", WORKER_ALONE, str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["loaded"] == []
    env = gymnasium.make("CartPole-v1")
    assert result["trained_on"] == {
        "env_id": "CartPole-v1",
        "observation_space": RunContext.describe_space(env.observation_space),
        "action_space": {"type": "Discrete", "n": 2, "start": 0},
    }
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(e["event"] == "metrics" for e in events)


def test_bad_config_exits_2_before_any_run(mosaic_home: pathlib.Path) -> None:
    done = mosaic("run", "cleanrl", "--set", "algorithm=ppo", "--set", "learnign_rate=0.1")
    assert done.returncode == 2
    assert "did you mean 'learning_rate'" in done.stderr and "Traceback" not in done.stderr


def test_cancel_stops_the_script_and_leaves_no_process(mosaic_home: pathlib.Path) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", "run", "cleanrl", "--json",
         "--set", "algorithm=ppo", "--set", "total_steps=10000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    runs = mosaic_home / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        logs = list(runs.glob("*/stdout.log")) if runs.exists() else []
        if logs and "global_step=" in logs[0].read_text():
            break
        time.sleep(0.2)
    else:
        runner.kill()
        pytest.fail("the script never started training")
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    result = json.loads(out)
    assert result["status"] == "cancelled"
    events = (pathlib.Path(result["run_dir"]) / "events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["event"] == "run_cancelled"
    leftover = subprocess.run(["pgrep", "-f", "cleanrl.ppo --"], capture_output=True, text=True)
    assert str(result["run_id"]) not in leftover.stdout
    scripts = [int(p) for p in leftover.stdout.split()]
    for pid in scripts:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            assert result["run_id"].encode() not in handle.read()
