"""Crafter (``crafter`` 1.8.3): an open world of 22 achievements, as a Gymnasium environment.

Crafter steps with four values and takes its seed when it is built;
:func:`make` returns a ``gymnasium.Env`` whose ``reset(seed=...)`` seeds the
world and whose ``step`` returns Gymnasium's five values (an episode ends
``terminated`` when the player dies, ``truncated`` at the length limit).
The keys are Crafter's own game window's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from mosaic_core import EnvFamily, EnvTask, FamilySetting, KeyMap, hookimpl

__all__ = ["CRAFTER", "KEYS", "make", "mosaic_register_env_families"]

ACTIONS = (
    "noop", "move_left", "move_right", "move_up", "move_down", "do", "sleep", "place_stone",
    "place_table", "place_furnace", "place_plant", "make_wood_pickaxe", "make_stone_pickaxe",
    "make_iron_pickaxe", "make_wood_sword", "make_stone_sword", "make_iron_sword",
)  # fmt: skip
KEYS = KeyMap(
    {
        "a": 1, "ArrowLeft": 1, "d": 2, "ArrowRight": 2, "w": 3, "ArrowUp": 3,
        "s": 4, "ArrowDown": 4, "Space": 5, "Tab": 6, "r": 7, "t": 8, "f": 9, "p": 10,
        "1": 11, "2": 12, "3": 13, "5": 14, "6": 15, "7": 16,
    },
    labels=tuple(a.replace("_", " ") for a in ACTIONS),
    noop=0,
)  # fmt: skip


def make(
    reward: bool = True,
    render_mode: str | None = None,
    area: int = 64,
    view: int = 9,
    size: int = 64,
    length: int = 10000,
) -> Any:
    """A Crafter world as a Gymnasium environment (``render_mode`` ``rgb_array`` or None)."""
    import crafter
    import gymnasium
    import numpy as np

    base: Any = gymnasium.Env  # Gymnasium's generics add nothing to a class made here

    class CrafterEnv(base):  # type: ignore[misc]
        metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

        def __init__(self) -> None:
            self.render_mode = render_mode
            self._env = crafter.Env(
                area=(area, area), view=(view, view), size=(size, size), reward=reward,
                length=length,
            )  # fmt: skip
            self.observation_space = gymnasium.spaces.Box(0, 255, (size, size, 3), np.uint8)
            self.action_space: Any = gymnasium.spaces.Discrete(len(ACTIONS))

        def get_action_meanings(self) -> list[str]:
            return list(ACTIONS)

        def reset(
            self, *, seed: int | None = None, options: dict[str, Any] | None = None
        ) -> tuple[Any, dict[str, Any]]:
            super().reset(seed=seed)
            if seed is not None:
                # Crafter seeds each world from (its seed, the episode number).
                self._env._seed, self._env._episode = seed, 0
            return self._env.reset(), {}

        def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
            obs, reward_value, done, info = self._env.step(int(action))
            dead = bool(info.get("discount", 1.0) == 0.0)
            return obs, float(reward_value), dead, bool(done) and not dead, info

        def render(self) -> Any:
            return self._env.render() if self.render_mode == "rgb_array" else None

    return CrafterEnv()


CRAFTER = EnvFamily(
    name="crafter",
    display_name="Crafter",
    description="Survive, gather, craft and unlock 22 achievements in a procedurally "
    "generated 2-D world.",
    requirement="mosaic-envs[crafter]",
    modules=("crafter", "gymnasium"),
    tasks=(
        EnvTask(
            id="CrafterReward-v1",
            env="mosaic_envs.crafter:make",
            kwargs={"reward": True},
            key_map=KEYS,
            description="rewards for achievements and health",
        ),
        EnvTask(
            id="CrafterNoReward-v1",
            env="mosaic_envs.crafter:make",
            kwargs={"reward": False},
            key_map=KEYS,
            description="no reward: for exploration and unsupervised agents",
        ),
    ),
    prefixes=("Crafter",),
    settings=(
        FamilySetting(name="area", default=64, description="the world's side", minimum=16),
        FamilySetting(name="view", default=9, description="cells the player sees", minimum=3),
        FamilySetting(
            name="size", default=64, description="pixels of observations and frames", minimum=16
        ),
        FamilySetting(name="length", default=10000, description="steps per episode", minimum=1),
    ),
    homepage="https://github.com/danijar/crafter",
)


@hookimpl
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    register(CRAFTER)
