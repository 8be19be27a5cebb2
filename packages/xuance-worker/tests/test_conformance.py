"""The MOSAIC conformance kit against the installed xuance worker, one test per check, and
`mosaic eval` with a trained team.

Run one check with ``pytest -k smoke-run``.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from mosaic_core.conformance import Conformance, WorkerConformance

from .conftest import mosaic, run_xuance
from .test_training import check_run


class TestConformance(WorkerConformance):
    worker_type = "xuance"

    @pytest.mark.parametrize(
        "check",
        [
            "smoke-run",
            "failing-run",
            "checkpoints",
            "cancel",
            "cancel-checkpoint",
            "operator-protocol",
        ],
    )
    def test_what_the_worker_declares_is_checked_not_skipped(
        self, check: str, mosaic_conformance: Conformance
    ) -> None:
        result = mosaic_conformance.run(check)  # the result of test_conformance, if it ran
        assert result.status == "passed", result.message


def test_eval_pits_a_trained_mappo_team_against_random_agents(mosaic_home: pathlib.Path) -> None:
    code, result, stderr = run_xuance(
        "algorithm=mappo", "total_steps=200", "parallels=2", "buffer_size=100", "seed=3"
    )
    assert code == 0, (result, stderr)
    check_run(result, "mappo", 200)
    team = f"xuance:{result['run_id']}"
    done = mosaic(
        "eval", "--env", "pettingzoo.mpe.simple_spread_v3:parallel_env", "--operator", team,
        "--operator", "random", "--episodes", "2", "--seed", "5", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {row["operator"]: row for row in json.loads(done.stdout)["operators"]}
    assert set(rows) == {team, "random"}
    for row in rows.values():
        assert row["episodes"] == 2 and row["error"] is None and row["invalid_actions"] == 0
        assert set(row["returns_by_agent"]) == {"agent_0", "agent_1", "agent_2"}
    seeds = [[e["seed"] for e in row["episode_results"]] for row in rows.values()]
    assert seeds[0] == seeds[1] == [5, 6]
