"""The typed config of a Ray RLlib run, checked without importing Ray.

Field names are RLlib's own ``AlgorithmConfig`` names in snake_case
(``num_env_runners``, ``train_batch_size_per_learner``, ``lr`` ...); a field
left ``None`` keeps RLlib's default for the algorithm. ``training`` passes
any other ``AlgorithmConfig.training()`` argument through, checked against
RLlib's signature before Ray starts (see :mod:`mosaic_ray.translate`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from mosaic_core import ConfigError, TrainingConfigBase, did_you_mean

__all__ = ["ALGORITHMS", "POLICY_MODES", "RayConfig"]

#: MOSAIC's algorithm name -> RLlib's config class, on RLlib's new API stack.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "ppo": ("ray.rllib.algorithms.ppo", "PPOConfig"),
    "appo": ("ray.rllib.algorithms.appo", "APPOConfig"),
    "impala": ("ray.rllib.algorithms.impala", "IMPALAConfig"),
    "dqn": ("ray.rllib.algorithms.dqn", "DQNConfig"),
    "sac": ("ray.rllib.algorithms.sac", "SACConfig"),
}
POLICY_MODES = ("parameter_sharing", "independent", "self_play")
_LOCAL_ONLY = ("num_cpus", "ray_temp_dir")
_NON_NEGATIVE = (
    "num_env_runners",
    "num_learners",
    "checkpoint_frequency",
    "num_steps_sampled_before_learning_starts",
    "min_sample_timesteps_per_iteration",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RayConfig(TrainingConfigBase):
    """One RLlib training run: algorithm, environment, scale, and where Ray runs."""

    env_id: str = "CartPole-v1"
    """A Gymnasium id, or ``module:factory`` returning a Gymnasium env or a PettingZoo
    parallel env (``mpe2.simple_spread_v3:parallel_env``)."""
    algorithm: str = "ppo"
    total_steps: int = 100_000
    """Training stops at the first iteration that reaches this many env steps."""
    env_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make`` or the env factory."""

    # Scale: RLlib's names; None keeps RLlib's default for the algorithm.
    num_env_runners: int | None = None
    num_envs_per_env_runner: int = 1
    num_learners: int = 0
    train_batch_size_per_learner: int | None = None
    minibatch_size: int | None = None
    num_epochs: int | None = None
    lr: float | None = None
    gamma: float | None = None
    num_steps_sampled_before_learning_starts: int | None = None
    min_time_s_per_iteration: float | None = None
    min_sample_timesteps_per_iteration: int | None = None
    framework: Literal["torch"] = "torch"
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    """More ``AlgorithmConfig.training()`` arguments, named as RLlib names them."""

    # Multi-agent (PettingZoo) environments.
    policy_mode: Literal["parameter_sharing", "independent", "self_play"] = "parameter_sharing"
    self_play_update_every: int = 5
    """With ``self_play``: copy the learner into the frozen opponent every N iterations."""

    checkpoint_frequency: int = 0
    """Save a checkpoint every N training iterations; 0 saves only the final one."""

    # Where Ray runs.
    ray_address: str | None = None
    """Unset: a private local Ray for this run. Set (``HOST:PORT``, ``auto``): an existing
    cluster, which the run joins as a driver and never stops."""
    num_cpus: int | None = None
    """Local Ray only: CPUs it may schedule (default: this machine's, or what the run needs)."""
    object_store_memory_mb: int = 256
    ray_temp_dir: str | None = None
    """Local Ray only: its session directory (default: a short one named after the run)."""

    def validate(self) -> None:
        name = self.algorithm.lower()
        if name not in ALGORITHMS:
            raise ConfigError.bad_value(
                "algorithm",
                self.algorithm,
                f"one of {', '.join(ALGORITHMS)}" + did_you_mean(name, ALGORITHMS),
            )
        if name != self.algorithm:
            object.__setattr__(self, "algorithm", name)  # "PPO", as RLlib spells it, is fine
        for field in ("num_envs_per_env_runner", "self_play_update_every", "total_steps"):
            _at_least(field, getattr(self, field), 1)
        for field in ("train_batch_size_per_learner", "minibatch_size", "num_epochs", "num_cpus"):
            _at_least(field, getattr(self, field), 1)
        for field in _NON_NEGATIVE:
            _at_least(field, getattr(self, field), 0)
        if self.lr is not None and self.lr <= 0:
            raise ConfigError.bad_value("lr", self.lr, "a number > 0")
        if self.lr is not None and name == "sac":
            raise ConfigError.bad_value(
                "lr",
                self.lr,
                "null for sac, which has a rate per network: training.actor_lr, "
                "training.critic_lr and training.alpha_lr",
            )
        if self.gamma is not None and not 0.0 <= self.gamma <= 1.0:
            raise ConfigError.bad_value("gamma", self.gamma, "a number between 0 and 1")
        if self.min_time_s_per_iteration is not None and self.min_time_s_per_iteration < 0:
            raise ConfigError.bad_value(
                "min_time_s_per_iteration", self.min_time_s_per_iteration, "a number >= 0"
            )
        if self.object_store_memory_mb < 80:
            raise ConfigError.bad_value(
                "object_store_memory_mb", self.object_store_memory_mb, "at least 80 (Ray's minimum)"
            )
        if self.ray_address is not None:
            address = self.ray_address.strip()
            if address != "auto" and (":" not in address or "://" in address):
                raise ConfigError.bad_value(
                    "ray_address",
                    self.ray_address,
                    "HOST:PORT of a Ray head (the address `ray start --head` prints), 'auto', "
                    "or null for a local Ray; the run joins the cluster as a driver, so Ray "
                    "Client addresses (ray://) are not for it",
                )
            for field in _LOCAL_ONLY:
                if getattr(self, field) is not None:
                    raise ConfigError.bad_value(
                        field,
                        getattr(self, field),
                        "null when ray_address is set: it configures the local Ray this run "
                        "would start, and a cluster has its own",
                    )
        duplicated = sorted(set(self.training) & _TYPED)
        if duplicated:
            raise ConfigError.bad_value(
                f"training.{duplicated[0]}",
                self.training[duplicated[0]],
                f"no such key in 'training': set the field {duplicated[0]!r} itself",
            )

    @property
    def local(self) -> bool:
        """Does this run start (and own) its Ray?"""
        return self.ray_address is None


# Fields that go to AlgorithmConfig.training() under their own name.
_TYPED = {
    "train_batch_size_per_learner",
    "minibatch_size",
    "num_epochs",
    "lr",
    "gamma",
    "num_steps_sampled_before_learning_starts",
}


def _at_least(field: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise ConfigError.bad_value(field, value, f"an integer >= {minimum}")
