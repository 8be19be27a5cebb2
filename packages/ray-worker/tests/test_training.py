"""PPO and DQN on CartPole and SAC on Pendulum train a few iterations through `mosaic run`,
and their checkpoints play greedily without Ray."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import gymnasium
import pytest

from mosaic_core import WorkerAnalyticsManifest
from mosaic_ray.cluster import temp_dir_for

from .conftest import PPO_TINY, events, run_ray

CASES = {
    "ppo": ["env_id=CartPole-v1", "total_steps=600", "checkpoint_frequency=2", *PPO_TINY],
    "dqn": ["env_id=CartPole-v1", "total_steps=600", "num_steps_sampled_before_learning_starts=200",
            "min_sample_timesteps_per_iteration=200", "train_batch_size_per_learner=32"],
    "sac": ["env_id=Pendulum-v1", "total_steps=400", "num_steps_sampled_before_learning_starts=250",
            "min_sample_timesteps_per_iteration=100", "train_batch_size_per_learner=32"],
}  # fmt: skip
LOSSES = {"ppo": "policy_loss", "dqn": "qf_loss", "sac": "qf_loss"}


@pytest.fixture(scope="module")
def runs(module_home: pathlib.Path) -> dict[str, dict[str, Any]]:
    return {
        name: run_ray(module_home, f"algorithm={name}", "seed=3", *sets)
        for name, sets in CASES.items()
    }


@pytest.mark.parametrize("algorithm", list(CASES))
def test_algorithm_trains_reports_and_checkpoints(
    algorithm: str, runs: dict[str, dict[str, Any]]
) -> None:
    result = runs[algorithm]
    assert result["command_exit"] == 0 and result["status"] == "completed", result
    stream = events(result)
    assert [e["seq"] for e in stream] == list(range(len(stream)))
    assert stream[0]["event"] == "run_started" and stream[-1]["event"] == "run_completed"
    total = int(CASES[algorithm][1].split("=")[1])
    assert stream[0]["payload"]["total_steps"] == total
    metrics = [e["payload"] for e in stream if e["event"] == "metrics"]
    assert len(metrics) == result["summary"]["iterations"] >= 2, "one metrics event per iteration"
    steps = [m["step"] for m in metrics]
    assert steps == sorted(steps) and steps[-1] == result["summary"]["env_steps"] >= total
    last = metrics[-1]["values"]
    assert f"learners/default_policy/{LOSSES[algorithm]}" in last
    assert any("charts/episodic_return" in m["values"] for m in metrics)
    assert any(e["event"] == "heartbeat" for e in stream)

    run_dir = pathlib.Path(result["run_dir"])
    saved = [e["payload"]["path"] for e in stream if e["event"] == "checkpoint_saved"]
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.worker_type == "ray" and manifest.metadata["algorithm"] == algorithm
    assert manifest.artifacts.checkpoints is not None
    assert list(manifest.artifacts.checkpoints.files) == saved
    assert saved[-1] == "checkpoints/final" == manifest.artifacts.checkpoints.latest
    module = run_dir / saved[-1] / "learner_group/learner/rl_module/default_policy"
    assert (module / "module_state.pkl").exists()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    # The private Ray is gone with its temporary directory.
    assert not os.path.exists(temp_dir_for(result["run_id"]))


def test_periodic_checkpoints_come_before_the_final_one(runs: dict[str, dict[str, Any]]) -> None:
    saved = [e["payload"] for e in events(runs["ppo"]) if e["event"] == "checkpoint_saved"]
    assert [(s["path"], s["iteration"]) for s in saved] == [
        ("checkpoints/iter_000002", 2),
        ("checkpoints/final", 3),
    ]


@pytest.mark.parametrize(("algorithm", "env_id"), [("ppo", "CartPole-v1"), ("sac", "Pendulum-v1")])
def test_operator_reloads_the_checkpoint_and_plays_greedily(
    algorithm: str, env_id: str, runs: dict[str, dict[str, Any]]
) -> None:
    from mosaic_ray.operator import RayOperator

    operator = RayOperator.load(runs[algorithm]["run_dir"])
    env = gymnasium.make(env_id)
    observation, _ = env.reset(seed=0)
    actions = []
    for _ in range(30):
        action = operator.select_action(observation, {})
        assert env.action_space.contains(action), (action, env.action_space)
        actions.append(action)
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    first, _ = env.reset(seed=0)
    assert repr(operator.select_action(first, {})) == repr(actions[0]), "greedy: same obs, same act"
    operator.close()

    import ray

    assert not ray.is_initialized(), "the operator must not start Ray"
