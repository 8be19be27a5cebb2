"""The conformance kit and ``mosaic eval``, run against the installed llm worker.

The kit's smoke run needs an endpoint: ``WorkerSpec.smoke_config`` reads its
URL from ``$MOSAIC_LLM_SMOKE_BASE_URL``, which these tests point at the
scripted server. Its replies take 50 ms, as a near service's would, so the
kit's cancel check finds the run still at work.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator

import pytest

from .conftest import mosaic
from .scripted_server import ScriptedServer


@pytest.fixture
def slow_server() -> Iterator[ScriptedServer]:
    with ScriptedServer(refuse={"json_schema"}, delay=0.05) as server:
        yield server


def test_conformance_kit_passes(home: pathlib.Path, slow_server: ScriptedServer) -> None:
    done = mosaic("check", "llm", "--json", timeout=600,
                  env={"MOSAIC_LLM_SMOKE_BASE_URL": slow_server.url})  # fmt: skip
    report = json.loads(done.stdout)
    failed = [c for c in report["results"] if c["status"] == "failed"]
    assert done.returncode == 0 and report["ok"] and not failed, failed
    outcomes = {c["id"]: c["status"] for c in report["results"]}
    for check in ("smoke-run", "manifest", "failing-run", "bad-config-run", "cancel",
                  "operator-protocol", "plugin-light-import"):  # fmt: skip
        assert outcomes[check] == "passed", (check, outcomes)
    operator = next(c for c in report["results"] if c["id"] == "operator-protocol")
    assert "steps of FrozenLake-v1" in operator["message"]


def test_eval_sets_the_model_beside_random_on_the_same_seeds(
    home: pathlib.Path, slow_server: ScriptedServer
) -> None:
    spec = f"llm:scripted@{slow_server.url}"
    done = mosaic("eval", "--env", "FrozenLake-v1", "--operator", spec, "--operator", "random",
                  "--episodes", "2", "--seed", "5", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {row["operator"]: row for row in report["operators"]}
    assert set(rows) == {spec, "random"}
    for row in rows.values():
        assert row["episodes"] == 2 and row["error"] is None
    seeds = [[e["seed"] for e in row["episode_results"]] for row in rows.values()]
    assert seeds[0] == seeds[1] == [5, 6]
    assert rows[spec]["invalid_actions"] == 0
    assert any(r["body"]["model"] == "scripted" for r in slow_server.requests)


def test_eval_counts_an_invalid_reply_instead_of_hiding_it(home: pathlib.Path) -> None:
    with ScriptedServer(faults=[("text", "no idea")] * 2) as server:
        spec = f"llm:scripted@{server.url}?action_format=text&invalid_retries=1"
        done = mosaic("eval", "--env", "FrozenLake-v1", "--operator", spec, "--episodes", "1",
                      "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["operators"]
    assert row["invalid_actions"] == 1


def test_eval_plays_babyai_from_an_llm_run_directory(
    home: pathlib.Path, slow_server: ScriptedServer
) -> None:
    from .conftest import run_llm

    code, result, stderr = run_llm(f"base_url={slow_server.url}", "model=scripted", "episodes=1",
                                   "max_episode_steps=2")  # fmt: skip
    assert code == 0, stderr
    done = mosaic("eval", "--env", "minigrid:BabyAI-GoToRedBallNoDists-v0", "--operator",
                  f"llm:{result['run_id']}", "--episodes", "1", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["operators"]
    assert row["error"] is None and row["episodes"] == 1 and row["invalid_actions"] == 0
