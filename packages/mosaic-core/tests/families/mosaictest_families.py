"""Environment families for mosaic-core's own tests: small, fast, and some deliberately wrong.

``FAMILIES`` register through the hook like any plugin's; the ``broken_*``
modules below are plugins that fail in each way discovery must survive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mosaic_core import EnvFamily, EnvTask, FamilySetting, KeyMap, hookimpl

#: What the last factory call received, for tests of settings.
LAST_CALL: dict[str, Any] = {}
ARROWS = KeyMap(
    {"ArrowLeft": 0, "ArrowRight": 1, "ArrowUp": 2, "Space": 3},
    labels=("left", "right", "up", "wait"),
)


class PaintEnv(gym.Env):  # type: ignore[misc]
    """Ten steps; the frame's colour is (seed, step, shade) so a preview can be checked."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "ansi"]}

    def __init__(self, render_mode: str | None = None, shade: int = 7, width: int = 6) -> None:
        self.render_mode = render_mode
        self.shade, self.width = shade, width
        self.action_space = gym.spaces.Discrete(4)
        self.observation_space = gym.spaces.Discrete(100)
        self.seed_seen, self.t = 0, 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.seed_seen, self.t = seed or 0, 0
        return 0, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict[str, Any]]:
        self.t += 1
        return self.t, float(action), self.t >= 10, False, {}

    def render(self) -> Any:
        if self.render_mode == "ansi":
            return f"step {self.t} of a painted board\n"
        frame = np.zeros((4, self.width, 3), dtype=np.uint8)
        frame[:, :] = (self.seed_seen % 256, self.t, self.shade)
        frame[0, 0] = (255, 255, 255)
        return frame


def paint(render_mode: str | None = None, shade: int = 7, width: int = 6) -> PaintEnv:
    LAST_CALL.clear()
    LAST_CALL.update(render_mode=render_mode, shade=shade, width=width)
    return PaintEnv(render_mode, shade, width)


class WordsEnv(gym.Env):  # type: ignore[misc]
    """A text game: three legal commands per step, only one of them wins."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.action_space = gym.spaces.Text(20, charset="abcdefghijklmnopqrstuvwxyz ")
        self.observation_space = gym.spaces.Text(200)
        self.t = 0

    def _info(self) -> dict[str, Any]:
        return {"legal_actions": ["go north", "go south", "open door"]}

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return "You are in a hall.", self._info()

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        assert action in self._info()["legal_actions"], action
        self.t += 1
        won = action == "open door"
        return f"You {action}.", float(won), won, self.t >= 20, self._info()

    def render(self) -> str:
        return f"turn {self.t}"


def words(render_mode: str | None = None) -> WordsEnv:
    return WordsEnv(render_mode)


FIXTURE = EnvFamily(
    name="fixture",
    display_name="Fixture games",
    description="Small games for mosaic-core's tests.",
    requirement="mosaictest-families",
    modules=("gymnasium", "numpy|no_such_module_anywhere"),
    tasks=(
        EnvTask(id="Paint-v0", env="mosaictest_families:paint", key_map=ARROWS),
        EnvTask(
            id="Rps-v0",
            env="pettingzoo.classic.rps_v2:parallel_env",
            kwargs={"max_cycles": 3},
            settings=(),
            agents=("player_0", "player_1"),
            stepping="parallel",
            key_map=KeyMap({"r": 0, "p": 1, "s": 2}, labels=("rock", "paper", "scissors")),
        ),
        EnvTask(
            id="Ttt-v0",
            env="pettingzoo.classic.tictactoe_v3:env",
            agents=("player_1", "player_2"),
            stepping="aec",
            legal_actions=True,
            settings=(),
        ),
        EnvTask(
            id="Words-v0",
            env="mosaictest_families:words",
            render="ansi",
            legal_actions=True,
            settings=(),
        ),
    ),
    prefixes=("Paint-", "Rps-", "Ttt-", "Words-"),
    settings=(
        FamilySetting(name="shade", default=7, description="blue of the frame", maximum=255),
        FamilySetting(name="width", default=6, description="frame width", minimum=2),
    ),
)
#: Listed from a function, declares the wrong agents, and needs a module nobody has.
LISTED = EnvFamily(
    name="listed",
    display_name="Listed at run time",
    requirement="mosaictest-families",
    tasks=lambda: [
        EnvTask(id="BadKeys-v0", env="mosaictest_families:paint", key_map=KeyMap({"x": 9})),
        EnvTask(id="NoMask-v0", env="mosaictest_families:paint", legal_actions=True),
        EnvTask(id="NotRgb-v0", env="mosaictest_families:words", legal_actions=True),
        EnvTask(
            id="WrongAgents-v0",
            env="pettingzoo.classic.rps_v2:parallel_env",
            agents=("alice", "bob"),
            stepping="parallel",
        ),
        EnvTask(
            id="Stepping-v0",
            env="pettingzoo.classic.tictactoe_v3:env",
            agents=("player_1", "player_2"),
            stepping="parallel",
        ),
    ],
)
ABSENT = EnvFamily(
    name="absent",
    display_name="Not installed",
    requirement="absent-family[extra]",
    modules=("no_such_module_anywhere",),
    tasks=lambda: [EnvTask(id="Absent-v0")],
    prefixes=("Absent-",),
)


@hookimpl
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    register(FIXTURE)
    register(LISTED)
    register(ABSENT)
