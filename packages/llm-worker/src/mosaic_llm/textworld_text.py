"""TextWorld games (the ``textworld`` extra), adapted to Gymnasium's five-value step.

An env id ``textworld:PATH`` names a compiled game (``tw-make`` writes
one: ``tw-make tw-simple --output game.z8``). TextWorld registers games in
its own registry (``textworld.gym.register_game``) and its environments
step with four values and a cumulative score; :class:`TextWorldEnv` makes
one behave like a Gymnasium environment: ``step(command)`` returns the
score's change as the reward, and ``terminated`` when the game is won or
lost. The legal actions are the game's admissible commands, which change
from step to step, and the command itself is the action.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from typing import Any

from mosaic_llm.config import TEXTWORLD
from mosaic_llm.envs import Describer, Observation

__all__ = ["TextWorldEnv", "TextWorldText"]

_BANNER = re.compile(r"\$\$|^[\s_\\/|$]+$")


class TextWorldEnv:
    """One TextWorld game with Gymnasium's ``reset``/``step`` signatures."""

    render_mode = None

    def __init__(self, game: str) -> None:
        import textworld
        import textworld.gym

        infos = textworld.EnvInfos(
            admissible_commands=True, objective=True, description=True, inventory=True,
            won=True, lost=True, score=True, max_score=True,
        )  # fmt: skip
        self._env = textworld.gym.make(textworld.gym.register_game(game, request_infos=infos))
        self.spec = types.SimpleNamespace(id=f"{TEXTWORLD}{game}")
        self.unwrapped = self
        self.won = False
        self._score = 0.0

    def reset(self, seed: int | None = None) -> tuple[str, dict[str, Any]]:
        """A game is the same every time: the seed changes nothing."""
        observation, info = self._env.reset()
        self._score, self.won = 0.0, False
        return observation, dict(info)

    def step(self, command: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        observation, score, done, info = self._env.step(command)
        reward, self._score = float(score) - self._score, float(score)
        self.won = bool(info.get("won"))
        terminated = bool(done) and (self.won or bool(info.get("lost")))
        return observation, reward, terminated, bool(done) and not terminated, dict(info)

    def close(self) -> None:
        self._env.close()


def clean(text: str) -> str:
    """The game's text without its banner and its status line."""
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if not _BANNER.search(line) and not line.startswith(">")]
    return "\n".join(lines).strip()


class TextWorldText(Describer):
    title = "a TextWorld text adventure"

    def __init__(self, env: Any) -> None:
        self.env = env
        self.start = self.n = 0

    def observe(self, observation: Any, info: Mapping[str, Any] | None = None) -> Observation:
        info = info or {}
        commands = tuple(info.get("admissible_commands") or ())
        parts = [clean(str(observation))]
        if info.get("description"):
            parts.append("Where you are:\n" + clean(str(info["description"])))
        if info.get("inventory"):
            parts.append(clean(str(info["inventory"])))
        return Observation(
            text="\n\n".join(p for p in parts if p),
            actions=commands,
            indices=commands,
            task=f"Your goal: {clean(str(info.get('objective') or 'win the game'))}",
        )

    def success(self, terminated: bool, reward: float) -> bool:
        return bool(self.env.won)
