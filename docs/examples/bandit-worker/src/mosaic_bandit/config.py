"""The bandit worker's config: the common training fields plus its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mosaic_core import ConfigError, TrainingConfigBase


@dataclass(frozen=True, kw_only=True)
class BanditConfig(TrainingConfigBase):
    # The common fields, with this worker's defaults.
    env_id: str = "bernoulli-bandit"
    algorithm: Literal["epsilon_greedy"] = "epsilon_greedy"
    total_steps: int = 2_000
    # The worker's own fields.
    arm_means: tuple[float, ...] = (0.2, 0.5, 0.8)
    epsilon: float = 0.1
    log_every: int = 100

    def validate(self) -> None:
        if len(self.arm_means) < 2:
            raise ConfigError.bad_value("arm_means", self.arm_means, "at least two arms")
        for index, mean in enumerate(self.arm_means):
            if not 0.0 <= mean <= 1.0:
                raise ConfigError.bad_value(f"arm_means[{index}]", mean, "a number in [0, 1]")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigError.bad_value("epsilon", self.epsilon, "a number in [0, 1]")
        if self.log_every < 1:
            raise ConfigError.bad_value("log_every", self.log_every, "an integer >= 1")
