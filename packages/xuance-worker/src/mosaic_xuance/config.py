"""Typed configs for XuanCe's algorithms, one class per algorithm.

Field names are XuanCe's own (its YAML keys); a field left at ``None`` keeps
the value of XuanCe's YAML config for the algorithm and environment.
``total_steps`` is XuanCe's ``running_steps``. Everything else XuanCe reads
from its YAML can be set through ``parser_args`` (checked against that YAML
when the run starts). :class:`XuanCeConfig` is a ``per_algorithm`` base:
``algorithm`` picks the class. Nothing here imports XuanCe, torch or numpy.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from annotated_types import Ge, Gt, Interval

from mosaic_core import ConfigError, TrainingConfigBase

__all__ = ["ALGORITHMS", "CLASSIC_CONTROL", "MPE_SCENARIOS", "XuanCeConfig"]

C = TypeVar("C", bound="XuanCeConfig")

#: Cooperative MPE scenarios with one team of alike agents, which XuanCe's MARL
#: runner trains: scenario -> number of agents (PettingZoo's defaults).
MPE_SCENARIOS = {"simple_spread_v3": 3, "simple_reference_v3": 2}
MPEScenario = Literal["simple_spread_v3", "simple_reference_v3"]
#: Gymnasium classic-control tasks XuanCe 1.4.4 ships configs for -> their actions.
CLASSIC_CONTROL = {
    "CartPole-v1": "discrete",
    "Acrobot-v1": "discrete",
    "MountainCar-v0": "discrete",
    "Pendulum-v1": "continuous",
}
ClassicControlTask = Literal["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1"]
#: parser_args keys the worker sets itself: the run's directories, vector env, logger.
MANAGED = frozenset(
    {"agent", "env_name", "env_id", "running_steps", "env_seed", "vectorize", "log_dir",
     "model_dir", "logger", "runner", "distributed_training", "dl_toolbox", "render"}
)  # fmt: skip
_DEVICE = re.compile(r"(cpu|cuda(:\d+)?)\Z")
_BATCH_HINT = (
    "no batch_size: {name} is on-policy, and XuanCe splits its rollout buffer into "
    "n_minibatch minibatches; set {fields} instead"
)

#: The constraints of XuanCe's numbers; None keeps XuanCe's YAML value.
Rate = Annotated[float | None, Gt(0)]
Count = Annotated[int | None, Ge(1)]
Fraction = Annotated[float | None, Interval(ge=0, le=1)]


@dataclasses.dataclass(frozen=True, kw_only=True)
class XuanCeConfig(TrainingConfigBase, per_algorithm=True):
    """Fields every XuanCe algorithm accepts; ``algorithm`` picks the algorithm's class."""

    agent: ClassVar[str] = ""  # XuanCe's agent name, e.g. "MAPPO"
    family: ClassVar[str] = ""  # XuanCe's env directory: "mpe" or "classic_control"
    on_policy: ClassVar[bool] = False
    #: The action kinds the algorithm can learn: discrete, continuous or both.
    actions: ClassVar[tuple[str, ...]] = ("discrete",)

    seed: int | None = None
    """the random seed, XuanCe's seed and env_seed (null: XuanCe's default, 1)"""
    algorithm: str = "mappo"
    """XuanCe's algorithm: mappo, qmix, maddpg, vdn, coma, ippo, iql (MPE), dqn or ppo (classic
    control)"""
    env: str | None = None
    """XuanCe's env_name, which the algorithm decides: mpe or classic_control"""
    env_id: str = "simple_spread_v3"
    """the task: an MPE scenario, or a classic-control task for dqn and ppo"""
    total_steps: Annotated[int, Ge(1)] = 100_000
    """XuanCe's running_steps: environment steps to train for, over all parallel envs"""
    parallels: Count = None
    """the number of environments run in parallel (null: XuanCe's YAML value)"""
    gamma: Fraction = None
    """the discount factor (null: XuanCe's YAML value)"""
    device: str = "cpu"
    """where the networks run: cpu, cuda or cuda:N"""
    parser_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    """any other key of XuanCe's YAML config for the algorithm, such as
    {"actor_hidden_size": [128]}"""

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        if cls.on_policy and isinstance(data, Mapping) and "batch_size" in data:
            fields = "buffer_size and n_minibatch" if cls.family == "mpe" else "horizon_size"
            raise ConfigError.bad_value(
                "batch_size", data["batch_size"], _BATCH_HINT.format(name=cls.agent, fields=fields)
            )
        return super().from_dict(data)

    # -- rules between fields ----------------------------------------------------------

    def validate(self) -> None:
        if self.env is not None and self.env != self.family:
            raise ConfigError.bad_value(
                "env", self.env, f"{self.family!r}: XuanCe's {self.agent} trains on {self.family}"
            )
        self._check_actions()
        # A pattern has no annotated_types marker the config base checks.
        if not _DEVICE.match(self.device):
            raise ConfigError.bad_value("device", self.device, "'cpu', 'cuda' or 'cuda:N'")
        own = {f.name for f in dataclasses.fields(self)}
        for key in self.parser_args:
            if key in MANAGED:
                raise ConfigError.bad_value(
                    f"parser_args.{key}", self.parser_args[key], "no value: the worker sets it"
                )
            if key in own:
                raise ConfigError.bad_value(
                    f"parser_args.{key}", self.parser_args[key], f"the field {key!r} instead"
                )

    @property
    def action_kind(self) -> str:
        """``discrete`` or ``continuous``: what the environment will give the agents."""
        if self.family == "mpe":
            return "continuous" if getattr(self, "continuous_action", False) else "discrete"
        return CLASSIC_CONTROL[self.env_id]

    def _check_actions(self) -> None:
        kind = self.action_kind
        if kind in self.actions:
            return
        only = f"{self.algorithm} learns {' and '.join(self.actions)} actions only"
        if self.family == "mpe":
            raise ConfigError.bad_value(
                "continuous_action",
                getattr(self, "continuous_action", None),
                f"{str(kind == 'discrete').lower()}: {only}",
            )
        fitting = [
            n for n, c in ALGORITHMS.items() if c.family == self.family and kind in c.actions
        ]
        raise ConfigError.bad_value(
            "algorithm",
            self.algorithm,
            f"an algorithm for {kind} actions: {only}, and {self.env_id} has {kind} actions; "
            f"use {' or '.join(fitting)}",
        )

    # -- what XuanCe gets ----------------------------------------------------------------

    @property
    def effective_seed(self) -> int:
        """XuanCe's own default seed is 1."""
        return 1 if self.seed is None else self.seed

    @property
    def max_agents(self) -> int:
        return MPE_SCENARIOS.get(self.env_id, 1)

    def xuance_args(self) -> dict[str, Any]:
        """The ``parser_args`` for ``xuance.get_runner``: every set field, under XuanCe's names.

        The run's directories are added by the runtime; fields left at None keep
        XuanCe's YAML values.
        """
        skip = {"run_id", "algorithm", "env", "env_id", "total_steps", "checkpoint_every", "seed",
                "parser_args"}  # fmt: skip
        args: dict[str, Any] = {
            name: value
            for name, value in ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))
            if name not in skip and value is not None
        }
        args.update(
            env_id=self.env_id,
            running_steps=self.total_steps,
            seed=self.effective_seed,
            env_seed=self.effective_seed,
            vectorize="DummyVecMultiAgentEnv" if self.family == "mpe" else "DummyVecEnv",
            render=False,
        )
        args.update(self._policy())
        args.update(self.parser_args)
        return args

    def _policy(self) -> dict[str, Any]:
        return {}


# -- multi-agent: MPE ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class _MPE(XuanCeConfig):
    family: ClassVar[str] = "mpe"
    env_id: MPEScenario = "simple_spread_v3"
    """the MPE scenario: simple_spread_v3 (3 agents) or simple_reference_v3 (2 agents)"""
    continuous_action: bool = False
    """continuous actions rather than discrete ones (XuanCe's MPE configs default to
    continuous, PettingZoo's MPE to discrete)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class _OnPolicyMARL(_MPE):
    on_policy: ClassVar[bool] = True
    buffer_size: Count = None
    """the transitions collected per update, over all parallel envs (null: XuanCe's YAML
    value)"""
    n_epochs: Count = None
    """the epochs of training on each batch (null: XuanCe's YAML value)"""
    n_minibatch: Count = None
    """the minibatches each batch is split into (null: XuanCe's YAML value)"""
    ent_coef: float | None = None
    """the coefficient of the entropy loss (null: XuanCe's YAML value)"""
    vf_coef: float | None = None
    """the coefficient of the critic loss (null: XuanCe's YAML value)"""
    gae_lambda: Fraction = None
    """the GAE lambda (null: XuanCe's YAML value)"""
    use_parameter_sharing: bool | None = None
    """one set of networks for all agents (null: XuanCe's YAML value)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class MAPPOConfig(_OnPolicyMARL):
    agent: ClassVar[str] = "MAPPO"
    actions: ClassVar[tuple[str, ...]] = ("discrete", "continuous")
    algorithm: str = "mappo"
    learning_rate: Rate = None
    """the learning rate (null: XuanCe's YAML value)"""
    clip_range: float | None = None
    """the ratio clip range of the PPO loss (null: XuanCe's YAML value)"""

    def _policy(self) -> dict[str, Any]:
        name = "Gaussian_MAAC_Policy" if self.continuous_action else "Categorical_MAAC_Policy"
        return {"policy": name}


@dataclasses.dataclass(frozen=True, kw_only=True)
class IPPOConfig(MAPPOConfig):
    agent: ClassVar[str] = "IPPO"
    algorithm: str = "ippo"


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Greedy(XuanCeConfig):
    """The epsilon-greedy schedule of the value-based agents (and COMA)."""

    start_greedy: Fraction = None
    """the epsilon of epsilon-greedy at the start (null: XuanCe's YAML value)"""
    end_greedy: Fraction = None
    """the epsilon of epsilon-greedy at the end (null: XuanCe's YAML value)"""
    decay_step_greedy: int | None = None
    """the steps over which epsilon decays (null: XuanCe's YAML value)"""
    sync_frequency: Count = None
    """the steps between target-network updates (null: XuanCe's YAML value)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class COMAConfig(_OnPolicyMARL, _Greedy):
    agent: ClassVar[str] = "COMA"
    algorithm: str = "coma"
    learning_rate_actor: Rate = None
    """the actor's learning rate (null: XuanCe's YAML value)"""
    learning_rate_critic: Rate = None
    """the critic's learning rate (null: XuanCe's YAML value)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class _OffPolicy(XuanCeConfig):
    buffer_size: Count = None
    """the replay buffer's size in transitions (null: XuanCe's YAML value)"""
    batch_size: Count = None
    """the transitions sampled for each update (null: XuanCe's YAML value)"""
    start_training: int | None = None
    """the steps before training starts (null: XuanCe's YAML value)"""
    training_frequency: Count = None
    """the steps between updates (null: XuanCe's YAML value)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ValueBasedMARL(_MPE, _OffPolicy, _Greedy):
    learning_rate: Rate = None
    """the learning rate (null: XuanCe's YAML value)"""
    double_q: bool | None = None
    """double Q-learning (null: XuanCe's YAML value)"""
    use_parameter_sharing: bool | None = None
    """one set of networks for all agents (null: XuanCe's YAML value)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class QMIXConfig(_ValueBasedMARL):
    agent: ClassVar[str] = "QMIX"
    algorithm: str = "qmix"


@dataclasses.dataclass(frozen=True, kw_only=True)
class VDNConfig(_ValueBasedMARL):
    agent: ClassVar[str] = "VDN"
    algorithm: str = "vdn"


@dataclasses.dataclass(frozen=True, kw_only=True)
class IQLConfig(_ValueBasedMARL):
    agent: ClassVar[str] = "IQL"
    algorithm: str = "iql"


@dataclasses.dataclass(frozen=True, kw_only=True)
class MADDPGConfig(_MPE, _OffPolicy):
    agent: ClassVar[str] = "MADDPG"
    actions: ClassVar[tuple[str, ...]] = ("continuous",)
    algorithm: str = "maddpg"
    continuous_action: bool = True
    """continuous actions: the only kind MADDPG learns"""
    learning_rate_actor: Rate = None
    """the actor's learning rate (null: XuanCe's YAML value)"""
    learning_rate_critic: Rate = None
    """the critic's learning rate (null: XuanCe's YAML value)"""
    tau: Fraction = None
    """the rate of the target networks' soft updates (null: XuanCe's YAML value)"""
    start_noise: float | None = None
    """the exploration noise at the start (null: XuanCe's YAML value)"""
    end_noise: float | None = None
    """the exploration noise at the end (null: XuanCe's YAML value)"""
    sigma: float | None = None
    """the random noise of continuous actions (null: XuanCe's YAML value)"""


# -- single agent: classic control -----------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ClassicControl(XuanCeConfig):
    family: ClassVar[str] = "classic_control"
    env_id: ClassicControlTask = "CartPole-v1"
    """the classic-control task: CartPole-v1, Acrobot-v1, MountainCar-v0 (discrete actions) or
    Pendulum-v1 (continuous)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DQNConfig(_ClassicControl, _OffPolicy, _Greedy):
    agent: ClassVar[str] = "DQN"
    algorithm: str = "dqn"
    learning_rate: Rate = None
    """the learning rate (null: XuanCe's YAML value)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig(_ClassicControl):
    agent: ClassVar[str] = "PPO"
    on_policy: ClassVar[bool] = True
    actions: ClassVar[tuple[str, ...]] = ("discrete", "continuous")
    algorithm: str = "ppo"
    learning_rate: Rate = None
    """the learning rate (null: XuanCe's YAML value)"""
    horizon_size: Count = None
    """the steps each env collects per update (null: XuanCe's YAML value)"""
    n_epochs: Count = None
    """the epochs of training on each batch (null: XuanCe's YAML value)"""
    n_minibatch: Count = None
    """the minibatches each batch is split into (null: XuanCe's YAML value)"""
    clip_range: float | None = None
    """the ratio clip range of the PPO loss (null: XuanCe's YAML value)"""
    ent_coef: float | None = None
    """the coefficient of the entropy loss (null: XuanCe's YAML value)"""
    vf_coef: float | None = None
    """the coefficient of the critic loss (null: XuanCe's YAML value)"""
    gae_lambda: Fraction = None
    """the GAE lambda (null: XuanCe's YAML value)"""


#: Each algorithm's config class.
ALGORITHMS: Mapping[str, type[XuanCeConfig]] = {
    name: cls for name, cls in XuanCeConfig.variants().items() if issubclass(cls, XuanCeConfig)
}
