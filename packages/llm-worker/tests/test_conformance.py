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

from mosaic_core.conformance import Conformance, WorkerConformance

from .conftest import mosaic
from .scripted_server import ScriptedServer

#: The llm worker runs, fails, cancels and serves an operator: these checks must pass.
MUST_RUN = {"plugin-light-import", "smoke-run", "manifest", "failing-run", "bad-config-run",
            "cancel", "operator-protocol"}  # fmt: skip


@pytest.fixture
def slow_server() -> Iterator[ScriptedServer]:
    with ScriptedServer(refuse={"json_schema"}, delay=0.05) as server:
        yield server


@pytest.fixture(scope="class")
def smoke_endpoint() -> Iterator[ScriptedServer]:
    """The scripted server behind the kit's runs and its operator, for a whole class."""
    with (
        ScriptedServer(refuse={"json_schema"}, delay=0.05) as server,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("MOSAIC_LLM_SMOKE_BASE_URL", server.url)
        yield server


@pytest.mark.usefixtures("smoke_endpoint")
class TestConformance(WorkerConformance):
    worker_type = "llm"

    def test_conformance(self, mosaic_check: str, mosaic_conformance: Conformance) -> None:
        result = mosaic_conformance.run(mosaic_check)
        if mosaic_check in MUST_RUN:
            assert result.status != "skipped", f"[{mosaic_check}] skipped: {result.message}"
        super().test_conformance(mosaic_check, mosaic_conformance)
        if mosaic_check == "operator-protocol":
            assert "steps of FrozenLake-v1" in result.message, "the operator played the env"


def test_eval_sets_the_model_beside_random_on_the_same_seeds(
    mosaic_home: pathlib.Path, slow_server: ScriptedServer
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


def test_eval_counts_an_invalid_reply_instead_of_hiding_it(mosaic_home: pathlib.Path) -> None:
    with ScriptedServer(faults=[("text", "no idea")] * 2) as server:
        spec = f"llm:scripted@{server.url}?action_format=text&invalid_retries=1"
        done = mosaic("eval", "--env", "FrozenLake-v1", "--operator", spec, "--episodes", "1",
                      "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["operators"]
    assert row["invalid_actions"] == 1


def test_eval_plays_babyai_from_an_llm_run_directory(
    mosaic_home: pathlib.Path, slow_server: ScriptedServer
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
    # Without --env: the environment the run played (its manifest's env_id).
    done = mosaic("eval", "--operator", f"llm:{result['run_id']}", "--episodes", "1", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["env_id"] == "BabyAI-GoToRedBallNoDists-v0"
    assert report["operators"][0]["error"] is None
