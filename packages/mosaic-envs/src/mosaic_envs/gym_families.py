"""Gymnasium's toy text and classic control: single-agent tasks a person can play with arrows.

The task ids are Gymnasium's own, at the newest version the installed
Gymnasium registers (``CliffWalking-v1`` on 1.x, ``-v0`` on 0.29), so the
same family serves the CleanRL worker's Gymnasium 0.29.1 and the Ray
worker's 1.2.2.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from mosaic_core import EnvFamily, EnvTask, KeyMap, hookimpl

__all__ = ["CLASSIC_CONTROL", "TOY_TEXT", "mosaic_register_env_families"]

_ARROWS_LDRU = KeyMap(
    {"ArrowLeft": 0, "ArrowDown": 1, "ArrowRight": 2, "ArrowUp": 3},
    labels=("left", "down", "right", "up"),
)
_TOY: Mapping[str, tuple[KeyMap, str]] = {
    "FrozenLake": (_ARROWS_LDRU, "cross a frozen lake to the goal without falling through a hole"),
    "FrozenLake8x8": (_ARROWS_LDRU, "FrozenLake on an 8x8 map"),
    "CliffWalking": (
        KeyMap(
            {"ArrowUp": 0, "ArrowRight": 1, "ArrowDown": 2, "ArrowLeft": 3},
            labels=("up", "right", "down", "left"),
        ),
        "walk along a cliff to the goal; stepping off costs -100",
    ),
    "Taxi": (
        KeyMap(
            {"ArrowDown": 0, "ArrowUp": 1, "ArrowRight": 2, "ArrowLeft": 3, "p": 4, "d": 5},
            labels=("south", "north", "east", "west", "pick up", "drop off"),
        ),
        "pick up a passenger and drop them off at their destination",
    ),
    "Blackjack": (
        KeyMap({"s": 0, "h": 1}, labels=("stick", "hit")),
        "beat the dealer at blackjack: hit (h) or stick (s)",
    ),
}
_CLASSIC: Mapping[str, tuple[KeyMap | None, str]] = {
    "CartPole": (
        KeyMap({"ArrowLeft": 0, "ArrowRight": 1}, labels=("push left", "push right")),
        "balance a pole on a cart",
    ),
    "MountainCar": (
        KeyMap(
            {"ArrowLeft": 0, "ArrowDown": 1, "ArrowRight": 2},
            labels=("accelerate left", "coast", "accelerate right"),
            noop=1,
        ),
        "drive an underpowered car up a hill",
    ),
    "Acrobot": (
        KeyMap(
            {"ArrowLeft": 0, "ArrowDown": 1, "ArrowRight": 2},
            labels=("torque -1", "no torque", "torque +1"),
            noop=1,
        ),
        "swing a two-link arm above a line",
    ),
    "Pendulum": (None, "swing a pendulum up and hold it (continuous torque)"),
    "MountainCarContinuous": (None, "MountainCar with a continuous force"),
}
_VERSION = re.compile(r"^(?P<base>.+)-v(?P<version>\d+)$")


def newest_ids(bases: Iterable[str]) -> dict[str, str]:
    """``{base: "Base-vN"}`` for the newest version of each base Gymnasium registers."""
    import gymnasium

    wanted = set(bases)
    newest: dict[str, tuple[int, str]] = {}
    for key in gymnasium.registry:
        match = _VERSION.match(str(key))
        if match is None or match["base"] not in wanted or "/" in match["base"]:
            continue
        version = int(match["version"])
        if match["base"] not in newest or version > newest[match["base"]][0]:
            newest[match["base"]] = (version, str(key))
    return {base: key for base, (_, key) in newest.items()}


def _lister(table: Mapping[str, tuple[KeyMap | None, str]]) -> Callable[[], list[EnvTask]]:
    def tasks() -> list[EnvTask]:
        ids = newest_ids(table)
        return [
            EnvTask(id=ids[base], key_map=key_map, description=description)
            for base, (key_map, description) in table.items()
            if base in ids
        ]

    return tasks


TOY_TEXT = EnvFamily(
    name="toy_text",
    display_name="Gymnasium toy text",
    description="Small grid and card games: FrozenLake, CliffWalking, Taxi, Blackjack.",
    requirement="mosaic-envs[toy-text]",
    modules=("gymnasium", "pygame"),
    tasks=_lister(_TOY),
    prefixes=tuple(f"{base}-v" for base in _TOY),
    homepage="https://gymnasium.farama.org/environments/toy_text/",
)
CLASSIC_CONTROL = EnvFamily(
    name="classic_control",
    display_name="Gymnasium classic control",
    description="CartPole, MountainCar, Acrobot and Pendulum.",
    requirement="mosaic-envs[classic-control]",
    modules=("gymnasium", "pygame"),
    tasks=_lister(_CLASSIC),
    prefixes=tuple(f"{base}-v" for base in _CLASSIC),
    homepage="https://gymnasium.farama.org/environments/classic_control/",
)


@hookimpl
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    register(TOY_TEXT)
    register(CLASSIC_CONTROL)
