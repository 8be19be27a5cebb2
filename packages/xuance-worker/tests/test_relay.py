"""XuanCe's log_infos calls become metrics events, one per training step."""

from __future__ import annotations

from typing import Any

import numpy as np

from mosaic_xuance.observe import MetricsRelay, observe_log_infos


class _Run:
    def __init__(self) -> None:
        self.sent: list[tuple[int, dict[str, Any]]] = []

    def metrics(self, step: int, values: dict[str, Any]) -> None:
        self.sent.append((step, dict(values)))


class _Agent:
    def __init__(self) -> None:
        self.logged: list[tuple[dict[str, Any], int]] = []

    def log_infos(self, info: dict[str, Any], x_index: int) -> None:
        self.logged.append((info, x_index))


def test_each_step_is_one_metrics_event_with_nested_dicts_flattened() -> None:
    run = _Run()
    relay = MetricsRelay(run)  # type: ignore[arg-type]
    agent = _Agent()
    with observe_log_infos([_Agent], relay):
        agent.log_infos({"loss": np.float32(0.5), "skipped": None}, 10)
        agent.log_infos({"Train-Results/Episode-Rewards/rank_0": {"env-0": -3.0}}, 10)
        agent.log_infos({}, 12)
        agent.log_infos({"loss": 0.25}, 14)
    relay.flush()
    assert agent.logged[0][1] == 10 and len(agent.logged) == 4  # XuanCe's own logging still runs
    assert run.sent == [
        (10, {"loss": 0.5, "Train-Results/Episode-Rewards/rank_0/env-0": -3.0}),
        (14, {"loss": 0.25}),
    ]
    assert relay.returns == [-3.0]
    assert "observe_log_infos" not in repr(_Agent.log_infos)  # put back after the block
    assert _Agent.log_infos.__qualname__ == "_Agent.log_infos"
