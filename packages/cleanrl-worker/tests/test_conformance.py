"""The MOSAIC conformance kit against the installed cleanrl worker, one test per check, and
`mosaic eval` with a trained policy.

Run one check with ``pytest -k smoke-run``.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from mosaic_core.conformance import Conformance, WorkerConformance

from .conftest import mosaic, run_cleanrl


class TestConformance(WorkerConformance):
    worker_type = "cleanrl"

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


def test_eval_pits_a_trained_policy_against_random(mosaic_home: pathlib.Path) -> None:
    code, result, _ = run_cleanrl(
        "algorithm=dqn", "total_steps=3000", "learning_starts=500", "train_frequency=2"
    )
    assert code == 0
    done = mosaic(
        "eval", "--env", "CartPole-v1", "--operator", f"cleanrl:{result['run_id']}",
        "--operator", "random", "--episodes", "3", "--seed", "5", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {row["operator"]: row for row in report["operators"]}
    assert set(rows) == {f"cleanrl:{result['run_id']}", "random"}
    for row in rows.values():
        assert row["episodes"] == 3 and row["error"] is None
    seeds = [[e["seed"] for e in row["episode_results"]] for row in rows.values()]
    assert seeds[0] == seeds[1] == [5, 6, 7]
