"""Environments in words: what the agent sees, the legal actions, and the task.

Environments are named as everywhere in MOSAIC (:class:`mosaic_core.EnvSpec`:
``Id-v1``, ``module:Id-v1``, ``module:factory``), and made in ANSI render
mode where they have one; ``textworld:PATH`` is this worker's own, a compiled
TextWorld game. A :class:`Describer` turns one observation into an
:class:`Observation`:

- MiniGrid/BabyAI: upstream has no text, so :mod:`mosaic_llm.minigrid_text`
  describes the egocentric ``obs["image"]``;
- toy-text (FrozenLake, CliffWalking, Taxi): the ANSI render, made legible
  (the agent's highlighted square is named, not colour-coded), with the
  agent's position and neighbours spelled out;
- TextWorld games (``textworld:PATH``, the ``textworld`` extra): the game's
  own text, with its admissible commands as the legal actions;
- anything else: the ANSI render if there is one, else the observation's
  values, with numbered actions.

A describer reads the environment it is given, so an operator (which sees
only observations) describes through a shadow copy whose state it sets
from the observation.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from mosaic_core import ConfigError, EnvSpec
from mosaic_llm.config import TEXTWORLD

__all__ = ["Describer", "Observation", "describer_for", "make_env"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HIGHLIGHT = re.compile(r"\x1b\[(?:4[0-7])(?:;[0-9]+)*m(.)\x1b\[0m")


@dataclasses.dataclass(frozen=True)
class Observation:
    """One observation in words, with the legal actions offered for it."""

    text: str
    #: Names of the legal actions, in the order offered to the model.
    actions: tuple[str, ...]
    #: The environment's action for each name (an int, or TextWorld's command itself).
    indices: tuple[Any, ...]
    #: The task, in a sentence (a BabyAI mission, a toy-text goal).
    task: str
    #: What each action does, for the instruction.
    action_help: tuple[str, ...] = ()


def make_env(env_id: str) -> Any:
    """The environment ``env_id`` names, in ANSI render mode where it has one (a factory
    is offered it); ``textworld:PATH`` is a TextWorld game."""
    if env_id.startswith(TEXTWORLD):
        return _textworld(env_id)
    spec = EnvSpec.parse(env_id)
    if spec.is_factory:
        return spec.make(render_mode="ansi")
    ansi = "ansi" in (spec.render_modes() or ())
    return spec.make(render_mode="ansi" if ansi else None)


def _textworld(env_id: str) -> Any:
    from mosaic_llm.textworld_text import TextWorldEnv

    game = env_id[len(TEXTWORLD) :]
    try:
        import textworld  # noqa: F401 - the textworld extra
    except ImportError:
        raise ConfigError.bad_value(
            "env_id", env_id, "an installed TextWorld: pip install 'mosaic-llm-worker[textworld]'"
        ) from None
    if not os.path.isfile(game):
        raise ConfigError.bad_value(
            "env_id", env_id, "textworld:PATH of a compiled game (tw-make ... --output game.z8)"
        )
    return TextWorldEnv(game)


class Describer:
    """Turns observations of one kind of environment into words. Subclasses override
    :meth:`observe`; this base describes any environment generically."""

    title = "a Gymnasium environment"

    def __init__(self, env: Any, *, actions: int | None = None) -> None:
        """``env`` may be None for a describer that reads observations only (MiniGrid's),
        given the number of ``actions``."""
        self.env = env
        space = env.action_space if env is not None else None
        self.start = int(getattr(space, "start", 0))
        self.n = int(getattr(space, "n", 0)) if actions is None else actions
        if not self.n or hasattr(space, "nvec"):
            raise ConfigError.bad_value(
                "env_id",
                getattr(getattr(env, "spec", None), "id", "?"),
                f"an environment with discrete actions (this one has {space})",
            )

    def names(self) -> list[str]:
        return [f"action {i}" for i in range(self.n)]

    def help(self) -> list[str]:
        return []

    def task(self, observation: Any) -> str:
        return "Get as much reward as you can."

    def view(self, observation: Any) -> str:
        text = _render(self.env)
        if text is not None:
            return text
        return f"The observation is {_plain(observation)}."

    def observe(self, observation: Any, info: Mapping[str, Any] | None = None) -> Observation:
        names = self.names()
        legal = _legal(info, self.n)
        return Observation(
            text=self.view(observation),
            actions=tuple(names[i] for i in legal),
            indices=tuple(self.start + i for i in legal),
            task=self.task(observation),
            action_help=tuple(self.help()),
        )

    def sync(self, observation: Any) -> None:
        """Put a shadow environment in the state ``observation`` shows (for operators)."""

    def success(self, terminated: bool, reward: float) -> bool:
        """Did an episode that ended so, with this last reward, reach its goal?"""
        return terminated and reward > 0


class _GridText(Describer):
    """Toy-text worlds on a grid: the integer observation is the agent's square."""

    moves: tuple[tuple[str, str], ...] = ()
    legend = ""

    def names(self) -> list[str]:
        return [name for name, _ in self.moves]

    def help(self) -> list[str]:
        return [f"{name}: {text}" for name, text in self.moves]

    def sync(self, observation: Any) -> None:
        unwrapped = self.env.unwrapped
        unwrapped.s = int(observation)
        unwrapped.lastaction = None

    def grid(self) -> list[str]:
        raise NotImplementedError

    def where(self, observation: Any) -> tuple[int, int]:
        rows, cols = len(self.grid()), len(self.grid()[0])
        return divmod(int(observation), cols) if rows else (0, 0)

    def view(self, observation: Any) -> str:
        grid = self.grid()
        row, col = self.where(observation)
        lines = [f"Map, top row first ({self.legend}; A marks you):"]
        lines += [" ".join("A" if (r, c) == (row, col) else ch for c, ch in enumerate(line))
                  for r, line in enumerate(grid)]  # fmt: skip
        lines.append(f"You are at row {row + 1}, column {col + 1} (of {len(grid)} rows and "
                     f"{len(grid[0])} columns), on {self.square(grid[row][col])}.")  # fmt: skip
        around = []
        for direction, (dr, dc) in (("up", (-1, 0)), ("down", (1, 0)),
                                    ("left", (0, -1)), ("right", (0, 1))):  # fmt: skip
            r, c = row + dr, col + dc
            if 0 <= r < len(grid) and 0 <= c < len(grid[0]):
                around.append(f"{direction}: {self.square(grid[r][c])}")
            else:
                around.append(f"{direction}: the edge")
        lines.append("Next to you: " + "; ".join(around) + ".")
        return "\n".join(lines)

    def square(self, ch: str) -> str:
        return ch


class FrozenLakeText(_GridText):
    title = "FrozenLake"
    moves = (
        ("left", "move one square left"),
        ("down", "move one square down"),
        ("right", "move one square right"),
        ("up", "move one square up"),
    )
    legend = "S start, F frozen ice, H hole, G goal"
    _SQUARES: ClassVar[dict[str, str]] = {
        "S": "the start (S)",
        "F": "frozen ice (F)",
        "H": "a hole (H)",
        "G": "the goal (G)",
    }

    def task(self, observation: Any) -> str:
        slippery = " The ice is slippery: you may slide sideways." if self._slippery() else ""
        return (
            "Walk across the frozen lake from the start S to the goal G without stepping into "
            f"a hole H. Reaching G earns 1; falling into a hole ends the game.{slippery}"
        )

    def _slippery(self) -> bool:
        probs = self.env.unwrapped.P[0][0]
        return len(probs) > 1

    def grid(self) -> list[str]:
        # Not the render: it paints the agent's square over, hiding what lies under it.
        return [bytes(row).decode() for row in self.env.unwrapped.desc]

    def square(self, ch: str) -> str:
        return self._SQUARES.get(ch, ch)


class CliffWalkingText(_GridText):
    title = "CliffWalking"
    moves = (
        ("up", "move one square up"),
        ("right", "move one square right"),
        ("down", "move one square down"),
        ("left", "move one square left"),
    )
    legend = "o free ground, C cliff, T target"
    _SQUARES: ClassVar[dict[str, str]] = {
        "o": "free ground (o)",
        "C": "the cliff (C)",
        "T": "the target (T)",
        "x": "free ground",
    }

    def task(self, observation: Any) -> str:
        return (
            "Walk from the start (bottom left) to the target T (bottom right). Every step costs "
            "1; stepping onto the cliff C costs 100 and sends you back to the start."
        )

    def grid(self) -> list[str]:
        text = _render(self.env) or ""
        rows = [line.split() for line in text.splitlines() if line.strip()]
        # The render marks the agent with x; the square under it is free ground.
        return ["".join("o" if ch == "x" else ch for ch in row) for row in rows]

    def square(self, ch: str) -> str:
        return self._SQUARES.get(ch, ch)

    def success(self, terminated: bool, reward: float) -> bool:
        return terminated  # only the target ends an episode; every step costs 1


class TaxiText(_GridText):
    title = "Taxi"
    moves = (
        ("south", "drive one square down"),
        ("north", "drive one square up"),
        ("east", "drive one square right"),
        ("west", "drive one square left"),
        ("pick up", "pick the passenger up (only where they wait)"),
        ("drop off", "drop the passenger off (only at the destination)"),
    )
    _LETTERS = "RGYB"

    def task(self, observation: Any) -> str:
        return (
            "Drive the taxi to the passenger, pick them up, drive to the destination and drop "
            "them off. Walls (|) block moves east and west. Every step costs 1, a wrong pick up "
            "or drop off costs 10, and the delivery earns 20."
        )

    def view(self, observation: Any) -> str:
        unwrapped = self.env.unwrapped
        row, col, passenger, destination = unwrapped.decode(int(observation))
        locs = unwrapped.locs
        text = _render(self.env) or ""
        lines = [line for line in text.splitlines() if line.strip()]
        lines = [line for line in lines if not line.strip().startswith("(")]
        where = (
            "in the taxi"
            if passenger == len(locs)
            else f"waiting at {self._LETTERS[passenger]} (row {locs[passenger][0] + 1}, "
            f"column {locs[passenger][1] + 1})"
        )
        goal = locs[destination]
        return "\n".join([
            "Map (R, G, Y, B are the four stops; A is the taxi):",
            *lines,
            f"The taxi is at row {row + 1}, column {col + 1}. The passenger is {where}. "
            f"The destination is {self._LETTERS[destination]} (row {goal[0] + 1}, "
            f"column {goal[1] + 1}).",
        ])  # fmt: skip


def describer_for(env: Any) -> Describer:
    """The describer for ``env``, chosen by the class of its unwrapped environment."""
    name = type(env.unwrapped).__name__
    if name == "FrozenLakeEnv":
        return FrozenLakeText(env)
    if name == "CliffWalkingEnv":
        return CliffWalkingText(env)
    if name == "TaxiEnv":
        return TaxiText(env)
    if name == "TextWorldEnv":
        from mosaic_llm.textworld_text import TextWorldText

        return TextWorldText(env)
    if any(cls.__name__ == "MiniGridEnv" for cls in type(env.unwrapped).__mro__):
        from mosaic_llm.minigrid_text import MiniGridText

        return MiniGridText(env)
    return Describer(env)


def _legal(info: Mapping[str, Any] | None, n: int) -> list[int]:
    mask = (info or {}).get("action_mask")
    if mask is None or len(mask) != n:
        return list(range(n))
    legal = [i for i in range(n) if mask[i]]
    return legal or list(range(n))


def _render(env: Any) -> str | None:
    if getattr(env, "render_mode", None) != "ansi":
        return None
    text = env.render()
    if not isinstance(text, str):
        return None
    # The highlighted square (the agent) becomes A; other colours are dropped.
    return _ANSI.sub("", _HIGHLIGHT.sub("A", text))


def _plain(observation: Any) -> str:
    if hasattr(observation, "tolist"):
        observation = observation.tolist()
    if isinstance(observation, float):
        return f"{observation:.3g}"
    if isinstance(observation, list):
        return "[" + ", ".join(_plain(v) for v in observation) + "]"
    if isinstance(observation, dict):
        return "{" + ", ".join(f"{k}: {_plain(v)}" for k, v in observation.items()) + "}"
    return str(observation)
