"""MiniGrid and BabyAI in words, from the egocentric ``obs["image"]`` alone.

The image is the agent's view, ``view x view`` cells of (object, colour,
state); the agent stands at the middle of the bottom row looking "up" the
image: ``image[x, y]`` is ``view-1-y`` steps ahead and ``x - view//2``
steps to the right. What the agent carries is drawn on its own cell. The
description names every object in view with where it is, the nearest wall
ahead and beside, and what is right in front, so the model needs no image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mosaic_llm.envs import Describer

__all__ = ["ACTIONS", "MiniGridText", "describe_image"]

ACTIONS = (
    ("turn left", "turn 90 degrees to your left, staying on your square"),
    ("turn right", "turn 90 degrees to your right, staying on your square"),
    ("go forward", "move one square ahead, if it is free"),
    ("pick up", "pick up the object right in front of you"),
    ("drop", "drop what you carry onto the square in front of you"),
    ("toggle", "open or close the door in front of you, or open the box in front of you"),
    ("done", "declare the mission complete"),
)
_FACING = ("east", "south", "west", "north")
_NOT_OBJECTS = {"unseen", "empty", "floor", "wall", "agent"}


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def _where(ahead: int, right: int) -> str:
    if ahead == 1 and right == 0:
        return "right in front of you"
    parts = []
    if ahead > 0:
        parts.append(f"{_steps(ahead)} ahead")
    if right:
        side = "right" if right > 0 else "left"
        parts.append(f"{_steps(abs(right))} to your {side}")
    return " and ".join(parts) or "where you stand"


def describe_image(image: Any, direction: int | None = None) -> str:
    """The sentences that say what the view ``image`` holds."""
    from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, STATE_TO_IDX

    states = {index: name for name, index in STATE_TO_IDX.items()}
    view = int(image.shape[0])
    ax, ay = view // 2, view - 1

    def cell(x: int, y: int) -> tuple[str, str, str]:
        obj, color, state = (int(v) for v in image[x, y][:3])
        return IDX_TO_OBJECT.get(obj, "unseen"), IDX_TO_COLOR.get(color, ""), states.get(state, "")

    lines = []
    if direction is not None and 0 <= int(direction) < 4:
        lines.append(f"You face {_FACING[int(direction)]}.")
    held, color, _ = cell(ax, ay)
    if held not in _NOT_OBJECTS:
        lines.append(f"You carry a {color} {held}.")
    seen = []
    for x in range(view):
        for y in range(view):
            if (x, y) == (ax, ay):
                continue
            kind, color, state = cell(x, y)
            if kind in _NOT_OBJECTS:
                continue
            ahead, right = ay - y, x - ax
            name = f"{state} {color} door" if kind == "door" else f"{color} {kind}"
            if kind in ("goal", "lava"):
                name = kind
            seen.append((ahead + abs(right), f"a {name} {_where(ahead, right)}"))
    if seen:
        lines.append("You see " + ", ".join(text for _, text in sorted(seen)) + ".")
    else:
        lines.append("You see no objects.")
    wall = next((ay - y for y in range(ay - 1, -1, -1) if cell(ax, y)[0] == "wall"), None)
    if wall is not None:
        lines.append(f"There is a wall {_steps(wall)} ahead.")
    for side, x in (("left", ax - 1), ("right", ax + 1)):
        if 0 <= x < view and cell(x, ay)[0] == "wall":
            lines.append(f"There is a wall right next to you on your {side}.")
    front = cell(ax, ay - 1)[0]
    if front in ("empty", "floor"):
        lines.append("The square in front of you is free.")
    elif front == "unseen":
        lines.append("You cannot see the square in front of you.")
    return " ".join(lines)


class MiniGridText(Describer):
    title = "a MiniGrid/BabyAI grid world"

    def names(self) -> list[str]:
        return [name for name, _ in ACTIONS][: self.n]

    def help(self) -> list[str]:
        return [f"{name}: {text}" for name, text in ACTIONS][: self.n]

    def task(self, observation: Any) -> str:
        mission = observation.get("mission") if isinstance(observation, Mapping) else None
        return f"Your mission: {mission}." if mission else "Reach the goal."

    def view(self, observation: Any) -> str:
        if not isinstance(observation, Mapping) or "image" not in observation:
            raise TypeError("a MiniGrid observation is a dict with an 'image'")
        return describe_image(observation["image"], observation.get("direction"))
