"""Runs written by worker 0.1.0 (checkpoint format ``mosaic-cleanrl/1``) still load and play;
what is not a cleanrl checkpoint is refused with a ManifestError that says what was expected."""

from __future__ import annotations

import json
import pathlib
import shutil

import gymnasium
import numpy as np
import pytest
import torch

from mosaic_cleanrl.operator import CleanRLOperator
from mosaic_core import ManifestError

from .conftest import DATA, mosaic

OLD = DATA / "v0.1.0"


@pytest.mark.parametrize(
    ("run", "env_id", "discrete"),
    [("ppo", "CartPole-v1", True), ("ppo_continuous_action", "Pendulum-v1", False)],
)
def test_a_0_1_0_checkpoint_loads_and_plays(run: str, env_id: str, discrete: bool) -> None:
    operator = CleanRLOperator.load(OLD / run)
    assert operator.checkpoint["format"] == "mosaic-cleanrl/1"
    assert (operator.algorithm, operator.env_id, operator.discrete) == (run, env_id, discrete)
    env = gymnasium.make(env_id)
    observation, _ = env.reset(seed=0)
    for _ in range(20):
        action = operator.select_action(observation)
        if not discrete:
            assert action.dtype == np.float32 and action.shape == (1,)
            action = np.clip(action, env.action_space.low, env.action_space.high)
        assert env.action_space.contains(action)
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    operator.close()


def test_mosaic_eval_plays_a_0_1_0_run_by_its_directory(mosaic_home: pathlib.Path) -> None:
    done = mosaic(
        "eval", "--env", "CartPole-v1", "--operator", f"cleanrl:{OLD / 'ppo'}",
        "--episodes", "2", "--seed", "3", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["operators"]
    assert row["error"] is None and row["episodes"] == 2 and row["invalid_actions"] == 0


def test_a_directory_without_a_manifest_is_a_manifest_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError, match=r"has no checkpoint: it has no analytics\.json"):
        CleanRLOperator.load(tmp_path)


def test_a_checkpoint_of_another_format_is_refused(tmp_path: pathlib.Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(OLD / "ppo", run)
    data = torch.load(run / "checkpoints" / "final.pt", weights_only=False)
    torch.save({**data, "format": "someone-else/7"}, run / "checkpoints" / "final.pt")
    with pytest.raises(ManifestError, match=r"format 'someone-else/7'; expected one the cleanrl"):
        CleanRLOperator.load(run)
