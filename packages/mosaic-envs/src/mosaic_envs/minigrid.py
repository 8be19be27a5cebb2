"""MiniGrid and BabyAI: the tasks ``minigrid`` registers with Gymnasium, as two families.

Tasks are read from Gymnasium's registry (``MiniGrid-*``, ``BabyAI-*``)
once ``minigrid`` is imported, so a new minigrid release brings its new
tasks with it. The wave-function-collapse tasks (``MiniGrid-WFC-*``) are
listed only where they can be made: with their extra libraries (networkx,
imageio) and their pattern images, which minigrid 3.2.0's wheel lacks.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

from mosaic_core import ConfigError, EnvFamily, EnvTask, FamilySetting, KeyMap, hookimpl

__all__ = ["BABYAI", "KEYS", "MINIGRID", "make", "mosaic_register_env_families"]

#: minigrid's own manual control, plus letters that every terminal can send.
KEYS = KeyMap(
    {
        "ArrowLeft": 0, "ArrowRight": 1, "ArrowUp": 2,
        "PageUp": 3, "Tab": 3, "p": 3,
        "PageDown": 4, "Shift": 4, "d": 4,
        "Space": 5, "t": 5,
        "Enter": 6,
    },
    labels=("turn left", "turn right", "forward", "pick up", "drop", "toggle", "done"),
)  # fmt: skip
#: Tasks that allow only turning and moving forward (three actions).
MOVE_ONLY = ("MiniGrid-Dynamic-Obstacles-",)
MOVE_KEYS = KeyMap(
    {"ArrowLeft": 0, "ArrowRight": 1, "ArrowUp": 2}, labels=("turn left", "turn right", "forward")
)
OBSERVATIONS = ("default", "rgb", "full")
SETTINGS = (
    FamilySetting(
        name="agent_view_size",
        default=7,
        description="the side of the square the agent sees (odd, >= 3)",
        minimum=3,
        maximum=15,
    ),
    FamilySetting(
        name="tile_size",
        default=32,
        description="pixels per grid cell in rendered frames",
        minimum=8,
        maximum=64,
    ),
    FamilySetting(
        name="observation",
        default="default",
        description="default: the egocentric symbolic view and the mission; rgb: that view "
        "as pixels; full: the whole grid, symbolic",
        choices=OBSERVATIONS,
    ),
)


def make(
    task: str,
    render_mode: str | None = None,
    agent_view_size: int = 7,
    tile_size: int = 32,
    observation: str = "default",
) -> Any:
    """The minigrid environment ``task`` with the family's settings applied."""
    import gymnasium
    import minigrid  # noqa: F401 - registers the tasks
    from minigrid import wrappers as typed_wrappers

    wrappers: Any = typed_wrappers  # untyped constructors
    if agent_view_size % 2 == 0:
        raise ConfigError.bad_value("setting 'agent_view_size'", agent_view_size, "an odd number")
    env = gymnasium.make(
        task, render_mode=render_mode, agent_view_size=agent_view_size, tile_size=tile_size
    )
    if observation == "rgb":
        env = wrappers.RGBImgPartialObsWrapper(env, tile_size=tile_size // 4)
    elif observation == "full":
        env = wrappers.FullyObsWrapper(env)
    return env


def _wfc_ready(task: str) -> bool:
    """Can the wave-function-collapse task be made here (libraries and pattern image)?"""
    if not all(importlib.util.find_spec(m) is not None for m in ("networkx", "imageio")):
        return False
    import gymnasium

    try:
        from minigrid.envs.wfc.config import WFC_PRESETS

        preset = gymnasium.spec(task).kwargs.get("wfc_config")
        return os.path.isfile(WFC_PRESETS[str(preset)].pattern_path)
    except (ImportError, KeyError, AttributeError, TypeError):
        return False


def _lister(prefix: str, description: str) -> Callable[[], list[EnvTask]]:
    def tasks() -> list[EnvTask]:
        import gymnasium
        import minigrid  # noqa: F401 - registers the tasks

        ids = sorted(
            str(key)
            for key in gymnasium.registry
            if str(key).startswith(prefix)
            and (not str(key).startswith("MiniGrid-WFC-") or _wfc_ready(str(key)))
        )
        return [
            EnvTask(
                id=task,
                env="mosaic_envs.minigrid:make",
                kwargs={"task": task},
                key_map=MOVE_KEYS if task.startswith(MOVE_ONLY) else KEYS,
                description=description,
            )
            for task in ids
        ]

    return tasks


MINIGRID = EnvFamily(
    name="minigrid",
    display_name="MiniGrid",
    description="Grid worlds with keys, doors, boxes and lava: one agent, seen from above.",
    requirement="mosaic-envs[minigrid]",
    modules=("minigrid", "pygame"),
    tasks=_lister("MiniGrid-", "a MiniGrid world"),
    prefixes=("MiniGrid-",),
    settings=SETTINGS,
    homepage="https://minigrid.farama.org/",
)
BABYAI = EnvFamily(
    name="babyai",
    display_name="BabyAI",
    description="MiniGrid levels with a mission in words, from GoTo to BossLevel.",
    requirement="mosaic-envs[minigrid]",
    modules=("minigrid", "pygame"),
    tasks=_lister("BabyAI-", "a BabyAI level: follow the mission"),
    prefixes=("BabyAI-",),
    settings=SETTINGS,
    homepage="https://minigrid.farama.org/environments/babyai/",
)


@hookimpl
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    register(MINIGRID)
    register(BABYAI)
