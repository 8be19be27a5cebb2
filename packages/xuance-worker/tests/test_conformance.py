"""The MOSAIC conformance kit and `mosaic eval`, run against the installed xuance worker."""

from __future__ import annotations

import json
import pathlib

from .conftest import mosaic, run_xuance
from .test_training import check_run


def test_conformance_kit_passes(home: pathlib.Path) -> None:
    done = mosaic("check", "xuance", "--json", timeout=600)
    report = json.loads(done.stdout)
    failed = [c for c in report["results"] if c["status"] == "failed"]
    assert done.returncode == 0 and report["ok"] and not failed, failed
    outcomes = {c["id"]: c["status"] for c in report["results"]}
    for check in ("smoke-run", "failing-run", "checkpoints", "cancel", "operator-protocol"):
        assert outcomes[check] == "passed", (check, outcomes)


def test_eval_pits_a_trained_mappo_team_against_random_agents(home: pathlib.Path) -> None:
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
