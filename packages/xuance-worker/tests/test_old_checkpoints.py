"""Runs written by worker 0.1.0 (its manifest listing every file, its own JSON of spaces)
still load through the operator and play."""

from __future__ import annotations

import pytest

from mosaic_core.operators import evaluate, parse_operator_spec
from mosaic_xuance.operator import XuanCeOperator

from .conftest import DATA

OLD = DATA / "v0.1.0"


@pytest.mark.parametrize(
    ("run", "env", "agents"),
    [
        ("dqn", "CartPole-v1", ()),
        ("mappo", "pettingzoo.mpe.simple_spread_v3:parallel_env",
         ("agent_0", "agent_1", "agent_2")),
    ],
)  # fmt: skip
def test_a_0_1_0_run_plays_through_the_operator(
    run: str, env: str, agents: tuple[str, ...]
) -> None:
    (played,) = evaluate(env, [parse_operator_spec(f"xuance:{OLD / run}")], episodes=1, seed=0)
    assert played.error is None, played.error
    assert played.episodes[0].length > 1 and played.episodes[0].invalid_actions == 0
    if agents:
        assert set(played.episodes[0].total_reward) == set(agents)


def test_a_0_1_0_checkpoint_rebuilds_the_networks_it_was_saved_from() -> None:
    operator = XuanCeOperator.load(OLD / "dqn")
    try:
        assert (operator.algorithm, operator.env_id, operator.multi_agent) == (
            "dqn",
            "CartPole-v1",
            False,
        )
        assert operator.data["worker_version"] == "0.1.0"
        assert operator.select_action([0.0, 0.0, 0.0, 0.0]) in (0, 1)
    finally:
        operator.close()
