"""An environment family for benchmarks/ui_frames.py: one task whose frames are 256x256 RGB.

The picture changes every step (a gradient with moving blocks), so that every
frame is new to the encoder and the browser, as a real environment's are.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mosaic_core import EnvFamily, EnvTask, hookimpl

SIZE = 256


class Frames256(gym.Env[np.ndarray, int]):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 1, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        ramp = np.linspace(0, 255, SIZE, dtype=np.float32)
        self._base = np.stack(
            [
                np.add.outer(ramp, ramp) / 2,
                np.tile(ramp, (SIZE, 1)),
                np.tile(ramp[:, None], (1, SIZE)),
            ],
            axis=-1,
        ).astype(np.uint8)
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: Any = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        return np.zeros(4, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        return np.zeros(4, np.float32), 1.0, False, self._t >= 1000, {}

    def render(self) -> np.ndarray:
        frame = self._base.copy()
        for k in range(4):
            x = (self._t * (3 + k) + 40 * k) % (SIZE - 32)
            y = (self._t * (2 + k) + 60 * k) % (SIZE - 32)
            frame[y : y + 32, x : x + 32] = (255 - 60 * k, 60 * k, 120)
        return frame


def make(render_mode: str | None = None) -> Frames256:
    return Frames256(render_mode=render_mode)


@hookimpl
def mosaic_register_env_families(register: Any) -> None:
    register(
        EnvFamily(
            name="bench_frames",
            display_name="Benchmark frames",
            requirement="gymnasium",
            modules=("gymnasium",),
            tasks=(EnvTask(id="Frames256-v0", env="_frames_family:make"),),
        )
    )
