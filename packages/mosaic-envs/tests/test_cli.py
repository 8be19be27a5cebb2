"""``mosaic envs`` and ``mosaic eval`` on the real families, and a third party's family.

The commands run as a user runs them: the ``mosaic`` executable in a child
process, with ``MOSAIC_HOME`` of the test's own.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mosaic_core._arena import make_arena
from mosaic_core.operators import HumanOperator, OperatorContext
from mosaic_core.plugins import discover_env_families
from tests.conftest import EXPECTED, need

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "thirdparty"
MOSAIC = [sys.executable, "-m", "mosaic_core"]


def mosaic(*args: str, path: pathlib.Path | None = None, timeout: float = 300) -> Any:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [*MOSAIC, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def thirdparty(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """``coin-family`` laid out as pip would install it: its module and a dist-info."""
    root = tmp_path_factory.mktemp("site")
    for module in ("coin_family.py", "broken_family.py"):
        shutil.copy(FIXTURES / module, root / module)
    info = root / "coin_family-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: coin-family\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(
        "[mosaic.env_families]\ncoin = coin_family\nbroken = broken_family\n"
    )
    return root


# -- listing ---------------------------------------------------------------------------


def test_a_third_party_family_registers_through_the_hook_and_is_listed(
    thirdparty: pathlib.Path,
) -> None:
    done = mosaic("envs", "--json", path=thirdparty)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    families = {f["name"]: f for f in listing["families"]}
    assert [t["id"] for t in families["coin"]["tasks"]] == ["CoinGuess-v0"]
    assert families["coin"]["tasks"][0]["key_map"]["keys"] == {"h": 0, "t": 1}
    assert families["coin"]["settings"][0]["name"] == "sides"
    # the broken plugin is listed as broken, and every other family still loads
    (broken,) = listing["broken"]
    assert broken["worker_type"] == "broken" and broken["error_type"] == "ModuleNotFoundError"
    installed = {name for name, f in families.items() if f["installed"]}
    assert installed == {"coin"} | EXPECTED  # and every other family still loads

    table = mosaic("envs", path=thirdparty)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines() if line.strip()}
    assert "installed" in rows["coin"] and "broken: ModuleNotFoundError" in rows["broken"]
    assert "not_a_module_anywhere" in table.stdout  # the hint names what is missing


def test_listing_one_family_shows_its_tasks_agents_and_stepping() -> None:
    need("pettingzoo_classic")
    done = mosaic("envs", "pettingzoo_classic")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert rows["tictactoe_v3"][1:] == ["2", "aec", "yes", "yes"]
    assert rows["chess_v6"][1:] == ["2", "aec", "-", "yes"]
    wrong = mosaic("envs", "pettingzoo_clasic")
    assert wrong.returncode == 1
    assert "did you mean 'pettingzoo_classic'" in wrong.stderr


def test_show_reads_agents_spaces_keys_and_settings_from_the_environment() -> None:
    need("multigrid")
    done = mosaic("envs", "show", "MosaicMultiGrid-S-2v2-IndAgObs-v1", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert [s["id"] for s in info["seats"]] == [f"agent_{i}" for i in range(4)]
    assert info["stepping"] == "parallel" and info["parallel_only"] is True
    assert all(s["action_space"] == {"type": "Discrete", "n": 8, "start": 0} for s in info["seats"])
    assert info["key_map"]["noop"] == 0 and info["key_map"]["keys"]["ArrowUp"] == 3
    assert {s["name"]: s["value"] for s in info["settings"]} == {"view_size": 3, "tile_size": 32}


def test_a_setting_changes_the_environment_and_a_bad_one_is_refused(
    thirdparty: pathlib.Path,
) -> None:
    done = mosaic("envs", "show", "CoinGuess-v0", "--setting", "sides=3", "--json", path=thirdparty)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["seats"][0]["action_space"]["n"] == 3
    typo = mosaic("envs", "show", "CoinGuess-v0", "--setting", "side=3", path=thirdparty)
    assert typo.returncode == 2
    assert "did you mean 'sides'" in typo.stderr and "Traceback" not in typo.stderr
    low = mosaic("envs", "show", "CoinGuess-v0", "--setting", "sides=1", path=thirdparty)
    assert low.returncode == 2 and "'sides'" in low.stderr and ">= 2" in low.stderr
    unknown = mosaic("envs", "show", "CoinGuess-v1", path=thirdparty)
    assert unknown.returncode == 2 and "did you mean 'CoinGuess-v0'" in unknown.stderr


# -- previews --------------------------------------------------------------------------

PREVIEWS = [
    # family, task, settings, expected (height, width)
    ("toy_text", "FrozenLake-v1", [], (256, 256)),
    ("classic_control", "CartPole-v1", [], (400, 600)),
    ("minigrid", "MiniGrid-Empty-5x5-v0", ["tile_size=16"], (80, 80)),
    ("babyai", "BabyAI-GoToLocal-v0", [], (256, 256)),
    ("multigrid", "MosaicMultiGrid-S-2v2-IndAgObs-v1", [], (352, 512)),
    ("pettingzoo_classic", "tictactoe_v3", [], (1000, 1000)),
    ("mpe", "simple_spread_v3", [], (700, 700)),
    ("crafter", "CrafterReward-v1", ["size=96"], (96, 96)),
]


@pytest.mark.parametrize(
    ("family_name", "task", "settings", "shape"), PREVIEWS, ids=[p[1] for p in PREVIEWS]
)
def test_preview_writes_the_first_frame_as_png(
    family_name: str, task: str, settings: list[str], shape: tuple[int, int], tmp_path: pathlib.Path
) -> None:
    need(family_name)
    out = tmp_path / "frame.png"
    flags = [part for s in settings for part in ("--setting", s)]
    done = mosaic("envs", "preview", task, "--seed", "3", "-o", str(out), *flags)
    assert done.returncode == 0, done.stderr
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape[:2] == shape
    # the very frame the environment renders after reset(seed=3), pixel for pixel
    found = discover_env_families().find(task)
    assert found is not None
    family, found_task = found
    values = dict(s.split("=") for s in settings)
    arena = make_arena(family.make(found_task, render_mode="rgb_array", settings=values), task)
    try:
        arena.reset(3)
        assert np.array_equal(image, arena.render()[:, :, :3])
    finally:
        arena.close()
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 2


def test_a_minigrid_preview_shows_the_red_agent_and_the_green_goal(tmp_path: pathlib.Path) -> None:
    need("minigrid")
    out = tmp_path / "empty.png"
    assert mosaic("envs", "preview", "MiniGrid-Empty-5x5-v0", "-o", str(out)).returncode == 0
    pixels = {tuple(p) for p in np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3)}
    # both lie in the agent's view, which the frame lightens by a third
    assert (255, 76, 76) in pixels and (76, 255, 76) in pixels


def test_a_text_game_previews_as_text(tmp_path: pathlib.Path) -> None:
    need("textworld")
    done = mosaic("envs", "preview", "tw-coin_collector")
    assert done.returncode == 0, done.stderr
    assert "coin" in done.stdout and "TextWorld" in done.stdout


# -- eval ------------------------------------------------------------------------------


def evaluate(env_id: str, episodes: int, *extra: str) -> dict[str, Any]:
    done = mosaic("eval", "--env", env_id, "--operator", "random", "--episodes", str(episodes),
                  "--json", *extra)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)["operators"][0]
    assert report["error"] is None
    return report


def test_eval_random_vs_random_tictactoe_plays_legal_moves_in_turn() -> None:
    need("pettingzoo_classic")
    report = evaluate("tictactoe_v3", 20)
    assert report["episodes"] == 20 and report["invalid_actions"] == 0
    assert set(report["returns_by_agent"]) == {"player_1", "player_2"}
    for episode in report["episode_results"]:
        assert 5 <= episode["length"] <= 9  # one mark per turn: a game ends by the ninth
        rewards = episode["total_reward"]
        assert sorted(rewards.values()) in ([-1.0, 1.0], [0.0, 0.0])  # a win, or a draw


def test_eval_random_multigrid_soccer_seats_four_agents_acting_together() -> None:
    need("multigrid")
    report = evaluate("MosaicMultiGrid-S-2v2-IndAgObs-v1", 1)
    assert set(report["returns_by_agent"]) == {"agent_0", "agent_1", "agent_2", "agent_3"}
    assert report["invalid_actions"] == 0 and report["steps"] >= 1


def test_eval_random_babyai() -> None:
    need("babyai")
    report = evaluate("BabyAI-GoToLocal-v0", 2)
    assert report["episodes"] == 2 and report["mean_return"] is not None
    assert report["returns_by_agent"] is None


# -- the human operator with a family's keys --------------------------------------------


def human(task_id: str, typed: str, agent: str | None = None) -> tuple[Any, Any, Any]:
    found = discover_env_families().find(task_id)
    assert found is not None
    family, task = found
    arena = make_arena(family.make(task), task_id)
    context = OperatorContext.for_seat(arena, agent, task_id, task)
    out = io.StringIO()
    return arena, HumanOperator(context, input=io.StringIO(typed), output=out), out


def test_a_human_moves_a_minigrid_agent_with_the_arrow_keys() -> None:
    need("minigrid")
    arena, person, out = human("MiniGrid-Empty-5x5-v0", "\x1b[A\n \nArrowLeft\n\n")
    try:
        arena.reset(0)
        observation, info = arena.observation(None), arena.info(None)
        taken = [person.select_action(observation, info) for _ in range(4)]
        assert taken == [2, 5, 0, 6]  # forward, toggle, turn left, done
        assert "ArrowUp=forward" in out.getvalue() and "mission:" in out.getvalue()
    finally:
        arena.close()


def test_a_human_plays_tictactoe_by_the_cells_keys_and_only_legal_ones() -> None:
    need("pettingzoo_classic")
    arena, person, out = human("tictactoe_v3", "5\n5\n1\n", agent="player_1")
    try:
        arena.reset(0)
        first = person.select_action(arena.observation("player_1"), arena.info("player_1"))
        assert first == 4  # key 5 is the centre
        arena.step({"player_1": first})
        arena.step({"player_2": 0})  # top left
        again = person.select_action(arena.observation("player_1"), arena.info("player_1"))
        # 5 is taken, so the operator asked again; 1 (top left) is taken too; end of input
    except Exception as exc:
        assert "end of input" in str(exc)
        assert out.getvalue().count("is not a legal action now") == 2
    else:
        pytest.fail(f"an occupied cell was accepted: {again}")
    finally:
        arena.close()
