"""``FastlaneWrapper``: a Gymnasium wrapper that publishes ``render()`` frames to fastlane.

::

    from mosaic_core._fastlane_gym import FastlaneWrapper

    env = FastlaneWrapper(gymnasium.make("CartPole-v1", render_mode="rgb_array"), "my-run")
    env.reset(seed=0)              # renders and publishes the first frame
    env.step(env.action_space.sample())
    env.last_frame                 # {"fastlane": "mosaicfl-my-run", "frame": 1, ...}

Any front end then reads the frames with
:class:`~mosaic_core._fastlane.FastlaneReader`. The class is built on first
use, so importing this module does not import Gymnasium.
"""

from __future__ import annotations

from typing import Any

from mosaic_core._fastlane import FastlaneWriter, segment_name
from mosaic_core._operator import require

__all__ = ["FastlaneWrapper"]  # noqa: F822 - built on first access

_built: Any = None


def _build() -> Any:
    wrapper: Any = require("gymnasium", "FastlaneWrapper").Wrapper

    class FastlaneWrapper(wrapper):  # type: ignore[misc]
        """Publishes every frame ``render()`` returns; with ``every_step`` it renders after
        each ``reset`` and ``step`` by itself."""

        def __init__(
            self,
            env: Any,
            run_id: str,
            *,
            stream: str | int | None = None,
            capacity: int = 8,
            every_step: bool = True,
        ) -> None:
            super().__init__(env)
            if env.render_mode != "rgb_array":
                raise ValueError(
                    f"FastlaneWrapper needs render_mode='rgb_array'; the env has "
                    f"{env.render_mode!r} (make it with gymnasium.make(ID, "
                    "render_mode='rgb_array'))"
                )
            self.fastlane_name = segment_name(run_id, stream)
            self._capacity = capacity
            self._every_step = every_step
            self._writer: FastlaneWriter | None = None
            #: The reference to the newest frame published, as a ``step`` response carries it.
            self.last_frame: dict[str, Any] | None = None

        def render(self) -> Any:
            frame = self.env.render()
            if frame is not None and len(getattr(frame, "shape", ())) == 3:
                height, width, channels = (int(n) for n in frame.shape)
                if self._writer is None:
                    self._writer = FastlaneWriter.create(
                        self.fastlane_name,
                        width=width,
                        height=height,
                        channels=channels,
                        capacity=self._capacity,
                    )
                number = self._writer.publish(frame)
                self.last_frame = {
                    "fastlane": self._writer.name,
                    "frame": number,
                    "width": width,
                    "height": height,
                    "channels": channels,
                }
            return frame

        def reset(self, **kwargs: Any) -> Any:
            result = self.env.reset(**kwargs)
            if self._every_step:
                self.render()
            return result

        def step(self, action: Any) -> Any:
            result = self.env.step(action)
            if self._every_step:
                self.render()
            return result

        def close(self) -> None:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            super().close()

    return FastlaneWrapper


def __getattr__(name: str) -> Any:
    global _built
    if name == "FastlaneWrapper":
        if _built is None:
            _built = _build()
        return _built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
