"""``mosaic eval``: the same seeded episodes for every operator, recorded as a run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gymnasium")

from mosaic_core.cli.app import main
from mosaic_core.runs import RunStore


@pytest.fixture
def trained(op_env: Any) -> str:
    """A finished run of the optoy worker whose checkpoint always plays action 1."""
    with RunStore() as store:
        run_dir = store.create_run("01OPTOYRUN0000000000000000", "optoy", {"env_id": "CartPole-v1"})
        store.update("01OPTOYRUN0000000000000000", status="completed")
    (run_dir / "policy.json").write_text(json.dumps({"action": 1}))
    return "01OPTOYRUN0000000000000000"


def _eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["eval", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["operator"]: row for row in report["operators"]}


def test_operators_meet_identical_episode_seeds_on_cartpole(
    trained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _eval(
        capsys, "--env", "CartPole-v1", "--operator", "random", "--operator", f"optoy:{trained}",
        "--operator", "random", "--episodes", "6", "--seed", "11",
    )  # fmt: skip
    assert code == 0
    rows = _rows(report)
    assert list(rows) == ["random#1", f"optoy:{trained}", "random#2"]
    seeds = {name: [e["seed"] for e in row["episode_results"]] for name, row in rows.items()}
    assert all(s == list(range(11, 17)) for s in seeds.values()), seeds
    returns = {
        name: [e["total_reward"] for e in row["episode_results"]] for name, row in rows.items()
    }
    assert returns["random#1"] == returns["random#2"]  # same seeds, same episodes, same actions
    assert returns["random#1"] != returns[f"optoy:{trained}"]
    fixed = rows[f"optoy:{trained}"]
    assert fixed["worker"] == "optoy" and fixed["run_id"] == trained
    assert fixed["mean_length"] < 15 and fixed["std_return"] is not None
    assert fixed["steps_per_second"] > 0 and fixed["invalid_actions"] == 0


def test_parallel_processes_play_the_same_episodes_as_in_process(
    trained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--env", "CartPole-v1", "--operator", "random", "--operator", f"optoy:{trained}"]
    args += ["--episodes", "4", "--seed", "3"]
    _, here = _eval(capsys, *args)
    code, apart = _eval(capsys, *args, "--parallel")
    assert code == 0
    for near, far in zip(here["operators"], apart["operators"], strict=True):
        assert near["where"] == "in-process" and far["where"].startswith("process ")
        assert near["episode_results"] == far["episode_results"]


def test_an_evaluation_is_a_run_of_worker_type_eval(
    trained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, report = _eval(
        capsys, "--env", "CartPole-v1", "--operator", "random", "--operator", trained,
        "--episodes", "3",
    )  # fmt: skip
    with RunStore() as store:
        run = store.get(report["run_id"])
        events = store.events(run["run_id"])
        metrics = store.metrics(run["run_id"], key="random/episodic_return")
    assert (run["worker_type"], run["status"], run["env_id"]) == (
        "eval",
        "completed",
        "CartPole-v1",
    )
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_completed"
    assert kinds.count("metrics") == 6
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert [m["step"] for m in metrics] == [0, 1, 2]
    summary = events[-1]["payload"]["operators"]
    assert [s["operator"] for s in summary] == ["random", trained]
    lines = (Path(report["run_dir"]) / "events.jsonl").read_text().splitlines()
    assert len(lines) == len(events)
    assert main(["show", report["run_id"]]) == 0


def test_specs_resolve_through_the_run_store(
    trained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _eval(
        capsys, "--env", "CartPole-v1", "--operator", trained[:8], "--operator",
        f"optoy:{trained}?action=0", "--episodes", "2",
    )  # fmt: skip
    assert code == 0
    rows = report["operators"]
    assert [r["worker"] for r in rows] == ["optoy", "optoy"]
    assert rows[0]["mean_return"] != rows[1]["mean_return"]  # action 1 vs option action=0


def test_bad_specs_are_clear_errors(trained: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--env", "CartPole-v1", "--operator", "nosuchrun"]) == 2
    err = capsys.readouterr().err
    assert "no run 'nosuchrun'" in err and "built-in operators: random, human" in err
    assert main(["eval", "--env", "CartPole-v1", "--operator", f"cleanrl:{trained}"]) == 2
    assert "made by worker 'optoy', not 'cleanrl'" in capsys.readouterr().err


def test_a_failing_operator_fails_its_own_row_only(
    trained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _eval(
        capsys, "--env", "CartPole-v1", "--operator", f"optoy:{trained}?boom=true",
        "--operator", "random", "--episodes", "2",
    )  # fmt: skip
    assert code == 1
    broken, fine = report["operators"]
    assert "this checkpoint cannot be loaded" in broken["error"] and broken["episodes"] == 0
    assert fine["error"] is None and fine["episodes"] == 2
    with RunStore() as store:
        run = store.get(report["run_id"])
    assert run["status"] == "failed" and "cannot be loaded" in run["reason"]


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "parallel"])
def test_record_writes_gifs_from_fastlane_frames(
    op_env: Any, tmp_path: Path, parallel: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    image = pytest.importorskip("PIL.Image")
    args = ["--env", "mosaictest_envs:counting", "--operator", "random", "--episodes", "3"]
    args += ["--record", str(tmp_path / "gifs"), "--record-episodes", "2"]
    code, report = _eval(capsys, *args, *(["--parallel"] if parallel else []))
    assert code == 0
    paths = report["operators"][0]["recordings"]
    assert [Path(p).name for p in paths] == [
        "0-random-episode0-seed0.gif", "0-random-episode1-seed1.gif",
    ]  # fmt: skip
    with image.open(paths[0]) as first, image.open(paths[1]) as second:
        assert first.size == (6, 4)
        assert first.n_frames == 6  # the reset frame and five steps
        assert second.n_frames >= 5
    leftovers = [n for n in os.listdir("/dev/shm") if report["run_id"] in n]
    assert leftovers == []


def test_the_table_shows_every_operator_side_by_side(
    trained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--env", "CartPole-v1", "--operator", "random", "--operator",
                 trained, "--episodes", "2"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    header, first, second = out.splitlines()[:3]
    assert header.split() == ["OPERATOR", "EPISODES", "RETURN", "(mean", "±", "std)", "LENGTH",
                              "STEPS/S"]  # fmt: skip
    assert first.startswith("random ") and second.startswith(trained)
    assert "±" in first and "mosaic show " in out


def test_multi_agent_returns_are_reported_per_agent(
    op_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pettingzoo.classic")
    code, report = _eval(
        capsys, "--env", "pettingzoo.classic.tictactoe_v3:env", "--operator", "random",
        "--episodes", "3",
    )  # fmt: skip
    assert code == 0
    row = report["operators"][0]
    assert row["mean_return"] is None
    by_agent = row["returns_by_agent"]
    assert set(by_agent) == {"player_1", "player_2"}
    assert by_agent["player_1"]["mean"] == pytest.approx(-by_agent["player_2"]["mean"])
