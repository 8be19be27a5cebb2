"""Two MPE agents (mpe2's simple_reference) learn with one shared module and with one module
each; their operator answers per agent id."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from mosaic_core import MosaicError, OperatorContext, WorkerAnalyticsManifest

from .conftest import PPO_TINY, environment, events, run_ray

ENV = "mpe2.simple_reference_v3:parallel_env"
AGENTS = ("agent_0", "agent_1")
MODULES = {"parameter_sharing": ["shared"], "independent": ["agent_0", "agent_1"]}


@pytest.fixture(scope="module")
def runs(module_home: pathlib.Path) -> dict[str, dict[str, Any]]:
    return {
        mode: run_ray(
            module_home, f"env_id={ENV}", f"policy_mode={mode}", "total_steps=400", *PPO_TINY
        )
        for mode in MODULES
    }


@pytest.mark.parametrize("mode", list(MODULES))
def test_two_agents_train_with_the_policy_mode(mode: str, runs: dict[str, dict[str, Any]]) -> None:
    result = runs[mode]
    assert result["command_exit"] == 0 and result["status"] == "completed", result
    values = [e["payload"]["values"] for e in events(result) if e["event"] == "metrics"][-1]
    for agent in AGENTS:
        assert f"env_runners/agent_episode_returns_mean/{agent}" in values
    for module in MODULES[mode]:
        assert f"env_runners/module_episode_returns_mean/{module}" in values
        assert f"learners/{module}/policy_loss" in values
    assert not any(key.startswith("learners/default_policy") for key in values)

    run_dir = pathlib.Path(result["run_dir"])
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.metadata["modules"] == MODULES[mode]
    expected = (
        dict.fromkeys(AGENTS, "shared") if mode == "parameter_sharing" else {a: a for a in AGENTS}
    )
    assert manifest.metadata["agent_modules"] == expected
    saved = run_dir / "checkpoints/final/learner_group/learner/rl_module"
    assert sorted(p.name for p in saved.iterdir() if p.is_dir()) == MODULES[mode]


def test_shared_operator_seats_any_agent(runs: dict[str, dict[str, Any]]) -> None:
    import mpe2.simple_reference_v3 as mpe

    from mosaic_ray.operator import RayOperator

    operator = RayOperator.load(runs["parameter_sharing"]["run_dir"])
    env = mpe.parallel_env()
    observations, _ = env.reset(seed=1)
    actions = operator.select_action(observations, {})
    assert set(actions) == set(AGENTS)
    assert all(env.action_space(a).contains(actions[a]) for a in AGENTS)
    assert operator.select_action(observations["agent_1"], {}) == actions["agent_1"]


def test_independent_operator_needs_the_agent_named(runs: dict[str, dict[str, Any]]) -> None:
    import mpe2.simple_reference_v3 as mpe

    from mosaic_ray.operator import RayOperator

    run_dir = runs["independent"]["run_dir"]
    observations, _ = mpe.parallel_env().reset(seed=1)
    everyone = RayOperator.load(run_dir)
    with pytest.raises(MosaicError, match=r"ray:RUN\?agent=AGENT"):
        everyone.select_action(observations["agent_0"], {})
    both = everyone.select_action(observations, {})
    for agent in AGENTS:
        seat = RayOperator.load(run_dir, agent=agent)
        assert seat.module == agent
        assert seat.select_action(observations[agent], {}) == both[agent]
    swapped = RayOperator.load(run_dir, agent="agent_1", context=OperatorContext(agent="agent_0"))
    assert swapped.module == "agent_1", "an explicit agent= wins over the seat"


def test_each_seat_plays_its_own_module_through_the_operator_server(
    mosaic_home: pathlib.Path, runs: dict[str, dict[str, Any]]
) -> None:
    """One spec for every agent: MOSAIC hands each operator its seat (the context)."""
    run_dir = runs["independent"]["run_dir"]
    done = subprocess.run(
        [sys.executable, "-m", "mosaic_core.operator_main", "--env", ENV, "--render", "none",
         "--operator", f"ray:{run_dir}", "--episodes", "1", "--seed", "4"],
        capture_output=True, text=True, timeout=180, env=environment(mosaic_home),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (episode,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert episode["type"] == "episode_end" and episode["episode_length"] == 25
    assert set(episode["total_reward"]) == set(AGENTS)
