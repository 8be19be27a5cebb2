"""The typed config of a Ray RLlib run, checked without importing Ray.

Field names are RLlib's own ``AlgorithmConfig`` names in snake_case
(``num_env_runners``, ``train_batch_size_per_learner``, ``lr`` ...); a field
left ``None`` keeps RLlib's default for the algorithm. ``training`` passes
any other ``AlgorithmConfig.training()`` argument through, checked against
RLlib's signature before Ray starts (see :mod:`mosaic_ray.translate`).
Bounds are declared on the fields; :meth:`RayConfig.validate` holds the
rules between fields.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Interval

from mosaic_core import ConfigError, EnvSpec, TrainingConfigBase, did_you_mean

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


@dataclasses.dataclass(frozen=True, kw_only=True)
class RayConfig(TrainingConfigBase):
    """One RLlib training run: algorithm, environment, scale, and where Ray runs."""

    env_id: str = "CartPole-v1"
    """a Gymnasium id, module:Id, or module:factory returning a Gymnasium env or a PettingZoo
    parallel env (mpe2.simple_spread_v3:parallel_env)"""
    algorithm: str = "ppo"
    """ppo, appo, impala, dqn or sac, in any case (RLlib writes PPO)"""
    total_steps: Annotated[int, Ge(1)] = 100_000
    """training stops at the first iteration that reaches this many env steps"""
    env_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    """keyword arguments for gymnasium.make or the env factory"""

    num_env_runners: Annotated[int | None, Ge(0)] = None
    """remote env runners sampling in parallel; 0 samples in the driver (null: RLlib's
    default for the algorithm)"""
    num_envs_per_env_runner: Annotated[int, Ge(1)] = 1
    """vectorized copies of the environment in each env runner"""
    num_learners: Annotated[int, Ge(0)] = 0
    """remote learners; 0 learns in the driver"""
    train_batch_size_per_learner: Annotated[int | None, Ge(1)] = None
    """env steps in each learner's train batch (null: RLlib's default)"""
    minibatch_size: Annotated[int | None, Ge(1)] = None
    """the size of each SGD minibatch (null: RLlib's default)"""
    num_epochs: Annotated[int | None, Ge(1)] = None
    """passes over each train batch (null: RLlib's default)"""
    lr: Annotated[float | None, Gt(0)] = None
    """the learning rate (null: RLlib's default; SAC has one per network in training)"""
    gamma: Annotated[float | None, Interval(ge=0, le=1)] = None
    """the discount factor (null: RLlib's default)"""
    num_steps_sampled_before_learning_starts: Annotated[int | None, Ge(0)] = None
    """DQN and SAC: env steps sampled into the replay buffer before learning starts"""
    min_time_s_per_iteration: Annotated[float | None, Ge(0)] = None
    """the shortest a training iteration may be, in seconds (null: RLlib's default)"""
    min_sample_timesteps_per_iteration: Annotated[int | None, Ge(0)] = None
    """the fewest env steps a training iteration samples (null: RLlib's default)"""
    framework: Literal["torch"] = "torch"
    """the deep-learning framework; RLlib's new API stack is torch only"""
    training: dict[str, Any] = dataclasses.field(default_factory=dict)
    """more AlgorithmConfig.training() arguments, named as RLlib names them"""

    policy_mode: Literal["parameter_sharing", "independent", "self_play"] = "parameter_sharing"
    """multi-agent environments: one module shared by every agent, one module per agent, or
    a learning main against a frozen copy of itself"""
    self_play_update_every: Annotated[int, Ge(1)] = 5
    """with self_play: copy the learner into the frozen opponent every N iterations"""

    checkpoint_frequency: Annotated[int, Ge(0)] = 0
    """save a checkpoint every N training iterations; 0 saves only the final one"""

    ray_address: str | None = None
    """null: a private local Ray for this run; HOST:PORT or auto: an existing cluster, which
    the run joins as a driver and never stops"""
    num_cpus: Annotated[int | None, Ge(1)] = None
    """local Ray only: CPUs it may schedule (null: this machine's, or what the run needs)"""
    object_store_memory_mb: Annotated[int, Ge(80)] = 256
    """local Ray only: its object store in MiB (Ray's minimum is 80)"""
    ray_temp_dir: str | None = None
    """local Ray only: its session directory (null: a short one named after the run)"""

    def validate(self) -> None:
        EnvSpec.parse(self.env_id)  # its grammar now; whether it can be made, before Ray starts
        name = self.algorithm.lower()
        if name not in ALGORITHMS:
            raise ConfigError.bad_value(
                "algorithm",
                self.algorithm,
                f"one of {', '.join(ALGORITHMS)}" + did_you_mean(name, ALGORITHMS),
            )
        if name != self.algorithm:
            object.__setattr__(self, "algorithm", name)  # "PPO", as RLlib spells it, is fine
        if self.lr is not None and name == "sac":
            raise ConfigError.bad_value(
                "lr",
                self.lr,
                "null for sac, which has a rate per network: training.actor_lr, "
                "training.critic_lr and training.alpha_lr",
            )
        if self.ray_address is not None:
            self._check_cluster(self.ray_address)
        duplicated = sorted(set(self.training) & _TYPED)
        if duplicated:
            raise ConfigError.bad_value(
                f"training.{duplicated[0]}",
                self.training[duplicated[0]],
                f"no such key in 'training': set the field {duplicated[0]!r} itself",
            )

    def _check_cluster(self, address: str) -> None:
        address = address.strip()
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
