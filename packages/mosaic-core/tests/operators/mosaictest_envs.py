"""Small, fast environments for the operator tests, importable by operator processes.

Operator processes load them as ``--env mosaictest_envs:<factory>`` with
this directory on their ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np


class CountingEnv(gym.Env):  # type: ignore[misc]
    """Five steps per episode; reward = the action; frames filled with the step count."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, render_mode: str | None = None, length: int = 5) -> None:
        self.render_mode = render_mode
        self.length = length
        self.action_space = gym.spaces.Discrete(3)
        self.observation_space = gym.spaces.Box(0.0, 100.0, shape=(2,), dtype=np.float32)
        self.t = 0
        self.start = 0.0

    def _obs(self) -> Any:
        return np.array([self.t, self.start], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        self.start = float(self.np_random.integers(0, 50))
        return self._obs(), {"start": self.start}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        assert self.action_space.contains(action), action
        self.t += 1
        return self._obs(), float(action), self.t >= self.length, False, {}

    def render(self) -> Any:
        return np.full((4, 6, 3), self.t % 256, dtype=np.uint8)


def counting(render_mode: str | None = None) -> CountingEnv:
    return CountingEnv(render_mode)


class SlowEnv(CountingEnv):
    """Each step sleeps ``$MOSAICTEST_STEP_SLEEP`` seconds (default 30)."""

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        time.sleep(float(os.environ.get("MOSAICTEST_STEP_SLEEP", "30")))
        return super().step(action)


def slow(render_mode: str | None = None) -> SlowEnv:
    return SlowEnv(render_mode)


class NoisyEnv(CountingEnv):
    """Prints to stdout, as careless libraries do, on every reset and step."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        print("noisy: reset, not a protocol line")
        sys.stdout.flush()
        return super().reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        print("noisy: step {")
        return super().step(action)


def noisy(render_mode: str | None = None) -> NoisyEnv:
    return NoisyEnv(render_mode)
