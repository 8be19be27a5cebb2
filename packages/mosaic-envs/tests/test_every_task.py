"""Every task of every family: made, stepped with random legal actions, rendered, counted.

One test per task (``pytest -k BabyAI-GoTo`` picks some), each the
conformance kit's :func:`~mosaic_core.conformance.check_env_task`: it builds
the environment through its family, seats a random operator per agent as
``mosaic eval`` does, plays a few steps through the session loop, and
checks what the family declared: the agents and the stepping the
environment really has, a key map that fits every seat's actions, legal
actions where declared, and a frame of the kind the task promises.
"""

from __future__ import annotations

from typing import Any

import pytest

from mosaic_core.conformance import check_env_task
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


@pytest.mark.parametrize(("family", "task"), TASKS)
def test_task_makes_steps_and_renders(family: Any, task: Any) -> None:
    check_env_task(family, task, steps=STEPS)
