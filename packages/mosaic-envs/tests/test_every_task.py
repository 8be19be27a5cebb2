"""Every task of every family: made, stepped with random legal actions, rendered, counted.

One test per task (``pytest -k BabyAI-GoTo`` picks some). Each builds the
environment through its family, seats a random operator per agent as
``mosaic eval`` does, plays a few steps through the session loop, and
checks what the family declared: the agents and the stepping the
environment really has, a key map that fits every seat's actions, and a
frame of the kind the task promises.
"""

from __future__ import annotations

from typing import Any

import pytest

from mosaic_core._arena import make_arena
from mosaic_core._family_registry import seats
from mosaic_core._session import Session
from mosaic_core.operators import OperatorContext, RandomOperator
from mosaic_core.plugins import discover_env_families
from tests.conftest import ALL, EXPECTED

FAMILIES = discover_env_families(strict=True)
TASKS = [
    pytest.param(family, task, id=task.id)
    for family in FAMILIES.families.values()
    if family.name in EXPECTED
    for task in family.list_tasks()
]
STEPS = 6


def test_the_families_the_package_declares_are_installed_here_as_expected() -> None:
    assert set(FAMILIES.families) == set(ALL)
    assert FAMILIES.broken == ()
    installed = {name for name in ALL if FAMILIES.families[name].installed()}
    assert installed == EXPECTED


def test_each_family_lists_its_real_tasks() -> None:
    if set(ALL) != EXPECTED:
        pytest.skip("checks every family; MOSAIC_ENVS_EXPECT names only some")
    ids = {name: {t.id for t in FAMILIES.families[name].list_tasks()} for name in ALL}
    assert {"Taxi-v3", "Blackjack-v1", "FrozenLake-v1"} <= ids["toy_text"]
    assert {"CartPole-v1", "Pendulum-v1"} <= ids["classic_control"]
    assert {"MiniGrid-Empty-5x5-v0", "MiniGrid-DoorKey-8x8-v0"} <= ids["minigrid"]
    assert {"BabyAI-GoToLocal-v0", "BabyAI-BossLevel-v0"} <= ids["babyai"]
    assert {"MosaicMultiGrid-S-2v2-IndAgObs-v1", "MosaicMultiGrid-BB-3v3-IndAgObs-v1",
            "MosaicMultiGrid-C-IndAgObs-v1"} <= ids["multigrid"]  # fmt: skip
    assert ids["pettingzoo_classic"] == {"tictactoe_v3", "connect_four_v3", "chess_v6", "go_v5"}
    assert {"simple_spread_v3", "simple_tag_v3", "simple_speaker_listener_v4"} <= ids["mpe"]
    assert ids["crafter"] == {"CrafterReward-v1", "CrafterNoReward-v1"}
    assert ids["textworld"] == {"tw-simple", "tw-coin_collector", "tw-treasure_hunter"}
    assert len(ids["minigrid"]) > 30 and len(ids["babyai"]) > 30 and len(ids["multigrid"]) > 40


def _check_frame(task: Any, frame: Any) -> None:
    if task.render == "ansi":
        assert isinstance(frame, str) and frame.strip()
        return
    assert frame.ndim == 3 and frame.shape[2] == 3 and str(frame.dtype) == "uint8", frame.shape
    assert frame.shape[0] >= 32 and frame.shape[1] >= 32
    assert len({tuple(p) for p in frame.reshape(-1, 3)[::97]}) > 1  # not a blank frame


@pytest.mark.parametrize(("family", "task"), TASKS)
def test_task_makes_steps_and_renders(family: Any, task: Any) -> None:
    env = family.make(task, render_mode=task.render)
    arena = make_arena(env, task.id)
    operators = {}
    try:
        agents = seats(arena, task)  # raises if the declared agents or stepping are wrong
        assert len(agents) == task.agent_count
        for agent in agents:
            space = arena.action_space(agent)
            if task.key_map is not None:
                assert task.key_map.fits(space), (agent, space)
            context = OperatorContext.for_seat(arena, agent, task.id, task)
            operators[agent] = RandomOperator(context)
        session = Session(arena, operators)
        session.reset(seed=1)
        for _ in range(STEPS):
            record, end = session.step()
            assert "invalid_action" not in record, record
            if end is not None:
                break
        _check_frame(task, arena.render())
    finally:
        arena.close()
