"""Environments in words: the MiniGrid describer, toy-text maps, shadow copies, env ids."""

from __future__ import annotations

import numpy as np
import pytest

from mosaic_core import ConfigError
from mosaic_llm.envs import describer_for, make_env
from mosaic_llm.minigrid_text import describe_image


def view(*cells: tuple[int, int, str, str, str]) -> np.ndarray:
    """A 7x7 view of empty floor with objects at (x, y)."""
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

    image = np.zeros((7, 7, 3), dtype=np.uint8)
    image[:, :, 0] = OBJECT_TO_IDX["empty"]
    for x, y, kind, color, state in cells:
        image[x, y] = (OBJECT_TO_IDX[kind], COLOR_TO_IDX[color], STATE_TO_IDX[state])
    return image


def test_objects_are_placed_relative_to_the_agent() -> None:
    # The agent stands at (3, 6) looking towards y = 0.
    text = describe_image(view((3, 5, "ball", "red", "open"), (5, 2, "key", "blue", "open"),
                               (1, 6, "door", "yellow", "locked")), direction=3)  # fmt: skip
    assert text.startswith("You face north.")
    assert "a red ball right in front of you" in text
    assert "a blue key 4 steps ahead and 2 steps to your right" in text
    assert "a locked yellow door 2 steps to your left" in text


def test_walls_ahead_and_beside_and_what_is_carried_are_said() -> None:
    text = describe_image(view((3, 6, "key", "green", "open"), (3, 2, "wall", "grey", "open"),
                               (2, 6, "wall", "grey", "open")))  # fmt: skip
    assert "You carry a green key." in text
    assert "There is a wall 4 steps ahead." in text
    assert "There is a wall right next to you on your left." in text
    assert "The square in front of you is free." in text
    assert "no objects" in text


def test_babyai_through_gymnasium_make_with_the_mission_and_seven_actions() -> None:
    env = make_env("BabyAI-GoToRedBallNoDists-v0")
    describer = describer_for(env)
    observation, info = env.reset(seed=0)
    seen = describer.observe(observation, info)
    assert seen.task == "Your mission: go to the red ball."
    assert "a red ball 4 steps ahead and 3 steps to your right" in seen.text
    assert seen.actions[:3] == ("turn left", "turn right", "go forward")
    assert seen.indices == tuple(range(7))
    env.close()


def test_frozen_lake_is_a_map_with_the_agent_and_its_neighbours() -> None:
    env = make_env("FrozenLake-v1")
    assert env.render_mode == "ansi"
    describer = describer_for(env)
    observation, info = env.reset(seed=0)
    seen = describer.observe(observation, info)
    assert seen.text.splitlines()[1] == "A F F F"
    assert "row 1, column 1" in seen.text and "right: frozen ice (F)" in seen.text
    assert seen.actions == ("left", "down", "right", "up")
    assert describer.success(True, 1.0) and not describer.success(True, 0.0)


def test_a_shadow_copy_describes_a_state_it_is_told() -> None:
    shadow = make_env("FrozenLake-v1")
    shadow.reset(seed=0)
    describer = describer_for(shadow)
    describer.sync(5)  # row 2, column 2: a hole
    assert "row 2, column 2" in describer.observe(5, {}).text
    assert "on a hole (H)" in describer.observe(5, {}).text


def test_taxi_offers_only_the_actions_its_mask_allows() -> None:
    env = make_env("Taxi-v3")
    describer = describer_for(env)
    observation, info = env.reset(seed=0)
    seen = describer.observe(observation, info)
    assert seen.actions == ("south", "north") and seen.indices == (0, 1)
    assert "The taxi is at row 4, column 1" in seen.text and "destination is Y" in seen.text


def test_cliff_walking_succeeds_when_it_ends() -> None:
    env = make_env("CliffWalking-v1")
    describer = describer_for(env)
    observation, _ = env.reset(seed=0)
    text = describer.observe(observation, {}).text
    assert "row 4, column 1" in text and "right: the cliff (C)" in text
    assert describer.success(True, -1.0)


def test_env_ids_may_name_the_module_that_registers_them() -> None:
    assert type(make_env("minigrid:MiniGrid-Empty-5x5-v0").unwrapped).__name__ == "EmptyEnv"
    assert type(make_env("MiniGrid-Empty-5x5-v0").unwrapped).__name__ == "EmptyEnv"
    assert make_env("gymnasium.envs.toy_text:CliffWalking-v1").render_mode == "ansi"


def test_a_factory_is_made_in_ansi_mode_and_described_like_its_id() -> None:
    env = make_env("gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv")
    assert env.render_mode == "ansi"
    observation, info = env.reset(seed=0)
    assert describer_for(env).observe(observation, info).text.splitlines()[1] == "A F F F"


@pytest.mark.parametrize(
    ("env_id", "words"),
    [("bad module:FrozenLake-v1", "not a module name"), ("no_such_module:Thing-v0", "installed"),
     ("gymnasium.envs.toy_text:no_such_factory", "has no callable")],
)  # fmt: skip
def test_a_bad_env_id_is_a_config_error_on_env_id(env_id: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        make_env(env_id)
    assert caught.value.field == "env_id"


def test_an_unknown_env_id_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        make_env("FrozenLak-v1")
    assert caught.value.field == "env_id" and "FrozenLake-v1" in str(caught.value)


def test_continuous_actions_are_refused() -> None:
    with pytest.raises(ConfigError, match="discrete actions"):
        describer_for(make_env("Pendulum-v1"))
