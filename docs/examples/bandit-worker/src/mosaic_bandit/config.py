"""The bandit worker's config: the common training fields plus its own.

A docstring under each field documents it (``mosaic config bandit`` shows
them); bounds are declared on the fields, and ``validate()`` keeps the rules
between fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from annotated_types import Ge, Interval, MinLen
from mosaic_core import ConfigError, TrainingConfigBase

Probability = Annotated[float, Interval(ge=0, le=1)]


@dataclass(frozen=True, kw_only=True)
class BanditConfig(TrainingConfigBase):
    env_id: str = "bernoulli-bandit"
    """the bandit to play"""
    algorithm: Literal["epsilon_greedy"] = "epsilon_greedy"
    """how arms are chosen"""
    total_steps: Annotated[int, Ge(1)] = 2_000
    """arm pulls to learn from"""
    arm_means: Annotated[tuple[Probability, ...], MinLen(2)] = (0.2, 0.5, 0.8)
    """each arm's probability of paying 1"""
    epsilon: Probability = 0.1
    """the probability of pulling a random arm instead of the best so far"""
    log_every: Annotated[int, Ge(1)] = 100
    """report metrics every this many pulls"""

    def validate(self) -> None:
        if self.log_every > self.total_steps:
            raise ConfigError.bad_value(
                "log_every", self.log_every, f"at most total_steps ({self.total_steps})"
            )
