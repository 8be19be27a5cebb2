"""Typed configs for CleanRL's scripts, one class per algorithm, with CleanRL's defaults.

Field names are the scripts' flags in snake_case (``--learning-rate`` ->
``learning_rate``); ``total_steps`` is ``--total-timesteps``. Defaults are
CleanRL 1.2.0's, except the continuous-control env, which is Pendulum-v1
(CleanRL's default MuJoCo tasks need a MuJoCo install). ``CleanRLConfig``
picks the class from ``algorithm``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from mosaic_core import ConfigError, TrainingConfigBase, did_you_mean

__all__ = ["ALGORITHMS", "CleanRLConfig"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CleanRLConfig(TrainingConfigBase):
    """Fields every CleanRL script accepts. ``from_dict`` returns the algorithm's own class."""

    script: ClassVar[str] = ""
    action_space: ClassVar[str] = ""  # "discrete" or "continuous"

    env_id: str = "CartPole-v1"
    algorithm: str = "ppo"
    torch_deterministic: bool = True
    cuda: bool = False
    capture_video: bool = False
    exp_name: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleanRLConfig:  # type: ignore[override]
        if cls is not CleanRLConfig:
            return super().from_dict(data)  # type: ignore[return-value]
        if not isinstance(data, Mapping):
            raise ConfigError.bad_value("config", data, "a JSON object of config fields")
        algorithm = data.get("algorithm", "ppo")
        if algorithm not in ALGORITHMS:
            raise ConfigError.bad_value(
                "algorithm",
                algorithm,
                f"one of {', '.join(ALGORITHMS)}"
                + (did_you_mean(algorithm, ALGORITHMS) if isinstance(algorithm, str) else ""),
            )
        return ALGORITHMS[algorithm].from_dict(data)

    def validate(self) -> None:
        if ALGORITHMS.get(self.algorithm) is not type(self):
            raise ConfigError.bad_value(
                "algorithm", self.algorithm, f"{_name_of(type(self))!r} for {type(self).__name__}"
            )
        _positive(self, "learning_rate", "policy_lr", "q_lr")
        _at_least(self, 1, "num_envs", "num_steps", "num_minibatches", "update_epochs",
                  "buffer_size", "batch_size", "train_frequency", "target_network_frequency",
                  "policy_frequency", "n_atoms")  # fmt: skip
        for name in ("gamma", "gae_lambda", "tau"):
            value = getattr(self, name, None)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError.bad_value(name, value, "a number between 0 and 1")

    def flags(self) -> list[str]:
        """The script's command-line flags for this config (seed included, cuda off)."""
        out = []
        for field in dataclasses.fields(self):
            name = field.name
            if name in ("run_id", "algorithm", "total_steps", "seed", "exp_name"):
                continue
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "True" if value else "False"
            out += [f"--{name.replace('_', '-')}", str(value)]
        out += ["--total-timesteps", str(self.total_steps), "--seed", str(self.effective_seed)]
        if self.exp_name:
            out += ["--exp-name", self.exp_name]
        return out

    @property
    def effective_seed(self) -> int:
        """CleanRL's own default seed is 1."""
        return 1 if self.seed is None else self.seed


def _name_of(cls: type) -> str:
    return next(name for name, c in ALGORITHMS.items() if c is cls)


def _positive(config: Any, *names: str) -> None:
    for name in names:
        value = getattr(config, name, None)
        if value is not None and value <= 0:
            raise ConfigError.bad_value(name, value, "a number > 0")


def _at_least(config: Any, minimum: int, *names: str) -> None:
    for name in names:
        value = getattr(config, name, None)
        if value is not None and value < minimum:
            raise ConfigError.bad_value(name, value, f"an integer >= {minimum}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig(CleanRLConfig):
    script: ClassVar[str] = "ppo"
    action_space: ClassVar[str] = "discrete"
    algorithm: str = "ppo"
    total_steps: int = 500_000
    learning_rate: float = 2.5e-4
    num_envs: int = 4
    num_steps: int = 128
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 4
    norm_adv: bool = True
    clip_coef: float = 0.2
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOContinuousConfig(PPOConfig):
    script: ClassVar[str] = "ppo_continuous_action"
    action_space: ClassVar[str] = "continuous"
    algorithm: str = "ppo_continuous_action"
    env_id: str = "Pendulum-v1"
    total_steps: int = 1_000_000
    learning_rate: float = 3e-4
    num_envs: int = 1
    num_steps: int = 2048
    num_minibatches: int = 32
    update_epochs: int = 10
    ent_coef: float = 0.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class _EpsilonGreedyConfig(CleanRLConfig):
    """What DQN and C51 share: a replay buffer and an epsilon-greedy schedule."""

    action_space: ClassVar[str] = "discrete"
    total_steps: int = 500_000
    save_model: bool = False
    learning_rate: float = 2.5e-4
    buffer_size: int = 10_000
    gamma: float = 0.99
    target_network_frequency: int = 500
    batch_size: int = 128
    start_e: float = 1.0
    end_e: float = 0.05
    exploration_fraction: float = 0.5
    learning_starts: int = 10_000
    train_frequency: int = 10


@dataclasses.dataclass(frozen=True, kw_only=True)
class DQNConfig(_EpsilonGreedyConfig):
    script: ClassVar[str] = "dqn"
    algorithm: str = "dqn"
    num_envs: int = 1
    tau: float = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class C51Config(_EpsilonGreedyConfig):
    script: ClassVar[str] = "c51"
    algorithm: str = "c51"
    n_atoms: int = 101
    v_min: float = -100.0
    v_max: float = 100.0

    def validate(self) -> None:
        super().validate()
        if self.v_min >= self.v_max:
            raise ConfigError.bad_value("v_min", self.v_min, f"less than v_max ({self.v_max})")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _OffPolicyContinuousConfig(CleanRLConfig):
    """What SAC, TD3 and DDPG share: a large replay buffer and soft target updates."""

    action_space: ClassVar[str] = "continuous"
    env_id: str = "Pendulum-v1"
    total_steps: int = 1_000_000
    buffer_size: int = 1_000_000
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    policy_frequency: int = 2
    noise_clip: float = 0.5


@dataclasses.dataclass(frozen=True, kw_only=True)
class SACConfig(_OffPolicyContinuousConfig):
    script: ClassVar[str] = "sac_continuous_action"
    algorithm: str = "sac"
    learning_starts: int = 5_000
    policy_lr: float = 3e-4
    q_lr: float = 1e-3
    target_network_frequency: int = 1
    alpha: float = 0.2
    autotune: bool = True


@dataclasses.dataclass(frozen=True, kw_only=True)
class DDPGConfig(_OffPolicyContinuousConfig):
    script: ClassVar[str] = "ddpg_continuous_action"
    algorithm: str = "ddpg"
    learning_rate: float = 3e-4
    exploration_noise: float = 0.1
    learning_starts: int = 25_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class TD3Config(DDPGConfig):
    script: ClassVar[str] = "td3_continuous_action"
    algorithm: str = "td3"
    policy_noise: float = 0.2


ALGORITHMS: dict[str, type[CleanRLConfig]] = {
    "ppo": PPOConfig,
    "ppo_continuous_action": PPOContinuousConfig,
    "dqn": DQNConfig,
    "c51": C51Config,
    "sac": SACConfig,
    "td3": TD3Config,
    "ddpg": DDPGConfig,
}
