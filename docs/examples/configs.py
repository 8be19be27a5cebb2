"""A config that describes itself: constraints, a docstring per field, a secret, one class
per algorithm. Run it to see what the base classes make of it; ``--check`` compares that
with ``configs.out``, which docs/config.rst shows.
"""

from __future__ import annotations

import json
import pathlib
import sys
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Gt, Interval

from mosaic_core import ConfigError, Secret, TrainingConfigBase


@dataclass(frozen=True, kw_only=True)
class AgentConfig(TrainingConfigBase, per_algorithm=True):
    """What every algorithm of this worker shares; ``algorithm`` picks the class."""

    env_id: str = "CartPole-v1"
    algorithm: str = "ppo"
    learning_rate: Annotated[float, Gt(0)] = 2.5e-4
    """the learning rate of the optimizer"""
    gamma: Annotated[float, Interval(ge=0, le=1)] = 0.99
    """the discount factor gamma"""
    wandb_api_key: Annotated[str | None, Secret] = None
    """the key for Weights and Biases; it never reaches config.json"""


@dataclass(frozen=True, kw_only=True)
class PPOConfig(AgentConfig):
    algorithm: str = "ppo"
    num_envs: Annotated[int, Ge(1)] = 4
    """the number of parallel game environments"""
    clip_coef: Annotated[float, Interval(gt=0, le=1)] = 0.2
    """the surrogate clipping coefficient"""


@dataclass(frozen=True, kw_only=True)
class DQNConfig(AgentConfig):
    algorithm: str = "dqn"
    learning_rate: Annotated[float, Gt(0)] = 1e-4
    """the learning rate of the optimizer"""
    buffer_size: Annotated[int, Ge(1)] = 10_000
    """the replay memory buffer size"""


def show() -> str:
    lines = []
    config = AgentConfig.from_dict({"run_id": "r1", "algorithm": "dqn", "total_steps": 1e4})
    lines.append(f"{type(config).__name__}: total_steps={config.total_steps!r}")
    lines.append(f"variants: {sorted(AgentConfig.variants())}")
    for bad in (
        {"algorithm": "ddpq"},
        {"algorithm": "ppo", "buffer_size": 500},
        {"clip_coef": 0},
        {"gamma": 1.5},
        {"total_steps": 2**63},
        {"total_steps": 1.5e4 + 0.5},
    ):
        try:
            AgentConfig.from_dict({"run_id": "r1", **bad})
        except ConfigError as exc:
            lines.append(f"{json.dumps(bad)} -> {exc}")
    schema = AgentConfig.json_schema("dqn")
    lines.append(json.dumps(schema, indent=2))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    output = show()
    expected = pathlib.Path(__file__).with_suffix(".out")
    if sys.argv[1:] == ["--check"]:
        if expected.read_text(encoding="utf-8") != output:
            sys.exit(f"{expected.name} is not what configs.py prints now: run it again")
        print(f"{expected.name} is what configs.py prints")
    else:
        print(output, end="")
