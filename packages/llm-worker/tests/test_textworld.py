"""TextWorld games (the textworld extra) through ``mosaic run``: commands as actions, the
four-value step adapted, the score's change as reward."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from mosaic_llm.scripted_server import ScriptedServer

from .conftest import read_jsonl, run_llm

textworld = pytest.importorskip("textworld", reason="the textworld extra is not installed")


@pytest.fixture(scope="module")
def game(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("textworld") / "simple.z8"
    tw_make = pathlib.Path(sys.executable).parent / "tw-make"
    subprocess.run(
        [str(tw_make), "tw-simple", "--rewards", "dense", "--goal", "brief", "--seed", "1",
         "--output", str(path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return path


def test_a_game_played_by_its_walkthrough_is_won_with_its_full_score(
    mosaic_home: pathlib.Path, game: pathlib.Path
) -> None:
    walkthrough = list(textworld.Game.load(str(game.with_suffix(".json"))).walkthrough)
    moves = iter(walkthrough)

    def play(actions: Any, body: Any) -> str:
        move = next(moves)
        assert move in actions, (move, actions)
        return str(move)

    with ScriptedServer(policy=play) as server:
        code, result, _ = run_llm(f"base_url={server.url}", "model=scripted",
                                  f"env_id=textworld:{game}", "episodes=1",
                                  "action_format=json_object")  # fmt: skip
    run_dir = pathlib.Path(result["run_dir"])
    assert code == 0, (run_dir / "stderr.log").read_text()
    (episode,) = read_jsonl(run_dir / "episodes.jsonl")
    assert episode["success"] and episode["ended_by"] == "terminated"
    assert episode["length"] == len(walkthrough) and episode["return"] == 8
    steps = read_jsonl(run_dir / "steps.jsonl")
    assert [s["action"] for s in steps] == walkthrough
    first = steps[0]
    assert "$$" not in first["observation"] and "-= Bedroom =-" in first["observation"]
    assert "open antique trunk" in first["actions"] and first["reward"] == 1.0
    prompt = json.dumps(server.requests[0]["body"]["messages"])
    assert "Your goal:" in prompt and "TextWorld" in prompt


def test_a_missing_game_file_is_a_config_error(
    mosaic_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    with ScriptedServer() as server:
        code, result, _ = run_llm(f"base_url={server.url}", "model=scripted",
                                  f"env_id=textworld:{tmp_path / 'none.z8'}")  # fmt: skip
    assert code == 2 and "compiled game" in result["reason"]
