"""The MOSAIC conformance kit and `mosaic eval`, run against the installed cleanrl worker."""

from __future__ import annotations

import json
import pathlib

from .conftest import mosaic, run_cleanrl


def test_conformance_kit_passes(home: pathlib.Path) -> None:
    done = mosaic("check", "cleanrl", "--json", timeout=600)
    report = json.loads(done.stdout)
    failed = [c for c in report["results"] if c["status"] == "failed"]
    assert done.returncode == 0 and report["ok"] and not failed, failed
    outcomes = {c["id"]: c["status"] for c in report["results"]}
    for check in ("smoke-run", "failing-run", "checkpoints", "cancel", "operator-protocol"):
        assert outcomes[check] == "passed", (check, outcomes)


def test_eval_pits_a_trained_policy_against_random(home: pathlib.Path) -> None:
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
