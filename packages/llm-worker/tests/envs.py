"""Environment factories for ``mosaic eval --env tests.envs:NAME`` in the tests."""

from __future__ import annotations

from typing import Any


def short_babyai(render_mode: str | None = None) -> Any:
    """BabyAI's GoToRedBallNoDists cut at 12 steps, so a real model plays it in seconds."""
    import gymnasium
    import minigrid  # noqa: F401 - registers the BabyAI ids

    return gymnasium.make(
        "BabyAI-GoToRedBallNoDists-v0", max_episode_steps=12, render_mode=render_mode
    )
