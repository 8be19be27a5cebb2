"""Typed configs for XuanCe's algorithms, one class per algorithm.

Field names are XuanCe's own (its YAML keys); a field left at ``None`` keeps
the value of XuanCe's YAML config for the algorithm and environment.
``total_steps`` is XuanCe's ``running_steps``. Everything else XuanCe reads
from its YAML can be set through ``parser_args`` (checked against that YAML
when the run starts). ``XuanCeConfig.from_dict`` picks the class from
``algorithm``. Nothing here imports XuanCe, torch or numpy.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from mosaic_core import ConfigError, TrainingConfigBase, did_you_mean

__all__ = ["ALGORITHMS", "CLASSIC_CONTROL", "MPE_SCENARIOS", "XuanCeConfig"]

#: Cooperative MPE scenarios with one team of alike agents, which XuanCe's MARL
#: runner trains: scenario -> number of agents (PettingZoo's defaults).
MPE_SCENARIOS = {"simple_spread_v3": 3, "simple_reference_v3": 2}
#: Gymnasium classic-control tasks XuanCe 1.4.4 ships configs for -> their actions.
CLASSIC_CONTROL = {
    "CartPole-v1": "discrete",
    "Acrobot-v1": "discrete",
    "MountainCar-v0": "discrete",
    "Pendulum-v1": "continuous",
}
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class XuanCeConfig(TrainingConfigBase):
    """Fields every algorithm accepts. ``from_dict`` returns the algorithm's own class."""

    agent: ClassVar[str] = ""  # XuanCe's agent name, e.g. "MAPPO"
    family: ClassVar[str] = ""  # XuanCe's env directory: "mpe" or "classic_control"
    on_policy: ClassVar[bool] = False
    #: The action kinds the algorithm can learn: discrete, continuous or both.
    actions: ClassVar[tuple[str, ...]] = ("discrete",)

    algorithm: str = "mappo"
    env: str | None = None
    env_id: str = "simple_spread_v3"
    total_steps: int = 100_000
    parallels: int | None = None
    gamma: float | None = None
    device: str = "cpu"
    parser_args: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> XuanCeConfig:  # type: ignore[override]
        if not isinstance(data, Mapping):
            raise ConfigError.bad_value("config", data, "a JSON object of config fields")
        if cls is XuanCeConfig:
            algorithm = data.get("algorithm", "mappo")
            if algorithm not in ALGORITHMS:
                raise ConfigError.bad_value(
                    "algorithm",
                    algorithm,
                    f"one of {', '.join(ALGORITHMS)}"
                    + (did_you_mean(algorithm, ALGORITHMS) if isinstance(algorithm, str) else ""),
                )
            return ALGORITHMS[algorithm].from_dict(data)
        if cls.on_policy and "batch_size" in data:
            fields = "buffer_size and n_minibatch" if cls.family == "mpe" else "horizon_size"
            raise ConfigError.bad_value(
                "batch_size", data["batch_size"], _BATCH_HINT.format(name=cls.agent, fields=fields)
            )
        return super().from_dict(data)  # type: ignore[return-value]

    # -- validation ------------------------------------------------------------------

    def validate(self) -> None:
        if ALGORITHMS.get(self.algorithm) is not type(self):
            raise ConfigError.bad_value(
                "algorithm", self.algorithm, f"{_name_of(type(self))!r} for {type(self).__name__}"
            )
        if self.env is not None and self.env != self.family:
            raise ConfigError.bad_value(
                "env", self.env, f"{self.family!r}: XuanCe's {self.agent} trains on {self.family}"
            )
        self._check_env_id()
        self._check_actions()
        if not _DEVICE.match(self.device):
            raise ConfigError.bad_value("device", self.device, "'cpu', 'cuda' or 'cuda:N'")
        for name in ("learning_rate", "learning_rate_actor", "learning_rate_critic"):
            value = getattr(self, name, None)
            if value is not None and value <= 0:
                raise ConfigError.bad_value(name, value, "a number > 0")
        for name in ("parallels", "buffer_size", "batch_size", "n_epochs", "n_minibatch",
                     "horizon_size", "training_frequency", "sync_frequency"):  # fmt: skip
            value = getattr(self, name, None)
            if value is not None and value < 1:
                raise ConfigError.bad_value(name, value, "an integer >= 1")
        for name in ("gamma", "gae_lambda", "tau", "start_greedy", "end_greedy"):
            value = getattr(self, name, None)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError.bad_value(name, value, "a number between 0 and 1")
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

    def _check_env_id(self) -> None:
        if self.family == "mpe":
            if self.env_id not in MPE_SCENARIOS:
                raise ConfigError.bad_value(
                    "env_id",
                    self.env_id,
                    f"a cooperative MPE scenario: {', '.join(MPE_SCENARIOS)}"
                    + did_you_mean(self.env_id, MPE_SCENARIOS),
                )
            return
        if self.env_id not in CLASSIC_CONTROL:
            raise ConfigError.bad_value(
                "env_id",
                self.env_id,
                f"a classic-control task XuanCe has configs for: {', '.join(CLASSIC_CONTROL)}"
                + did_you_mean(self.env_id, CLASSIC_CONTROL),
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
        skip = {"run_id", "algorithm", "env", "env_id", "total_steps", "seed", "parser_args"}
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


def _name_of(cls: type) -> str:
    return next(name for name, c in ALGORITHMS.items() if c is cls)


# -- multi-agent: MPE ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class _OnPolicyMARL(XuanCeConfig):
    on_policy: ClassVar[bool] = True
    family: ClassVar[str] = "mpe"
    buffer_size: int | None = None
    n_epochs: int | None = None
    n_minibatch: int | None = None
    ent_coef: float | None = None
    vf_coef: float | None = None
    gae_lambda: float | None = None
    use_parameter_sharing: bool | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MAPPOConfig(_OnPolicyMARL):
    agent: ClassVar[str] = "MAPPO"
    actions: ClassVar[tuple[str, ...]] = ("discrete", "continuous")
    algorithm: str = "mappo"
    #: XuanCe's MPE configs default to continuous actions; PettingZoo's MPE to discrete.
    continuous_action: bool = False
    learning_rate: float | None = None
    clip_range: float | None = None

    def _policy(self) -> dict[str, Any]:
        name = "Gaussian_MAAC_Policy" if self.continuous_action else "Categorical_MAAC_Policy"
        return {"policy": name}


@dataclasses.dataclass(frozen=True, kw_only=True)
class IPPOConfig(MAPPOConfig):
    agent: ClassVar[str] = "IPPO"
    algorithm: str = "ippo"


@dataclasses.dataclass(frozen=True, kw_only=True)
class COMAConfig(_OnPolicyMARL):
    agent: ClassVar[str] = "COMA"
    algorithm: str = "coma"
    continuous_action: bool = False
    learning_rate_actor: float | None = None
    learning_rate_critic: float | None = None
    start_greedy: float | None = None
    end_greedy: float | None = None
    decay_step_greedy: int | None = None
    sync_frequency: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class _OffPolicy(XuanCeConfig):
    buffer_size: int | None = None
    batch_size: int | None = None
    start_training: int | None = None
    training_frequency: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ValueBasedMARL(_OffPolicy):
    family: ClassVar[str] = "mpe"
    continuous_action: bool = False
    learning_rate: float | None = None
    sync_frequency: int | None = None
    start_greedy: float | None = None
    end_greedy: float | None = None
    decay_step_greedy: int | None = None
    double_q: bool | None = None
    use_parameter_sharing: bool | None = None


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
class MADDPGConfig(_OffPolicy):
    agent: ClassVar[str] = "MADDPG"
    family: ClassVar[str] = "mpe"
    actions: ClassVar[tuple[str, ...]] = ("continuous",)
    algorithm: str = "maddpg"
    continuous_action: bool = True
    learning_rate_actor: float | None = None
    learning_rate_critic: float | None = None
    tau: float | None = None
    start_noise: float | None = None
    end_noise: float | None = None
    sigma: float | None = None


# -- single agent: classic control -----------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class DQNConfig(_OffPolicy):
    agent: ClassVar[str] = "DQN"
    family: ClassVar[str] = "classic_control"
    algorithm: str = "dqn"
    env_id: str = "CartPole-v1"
    learning_rate: float | None = None
    sync_frequency: int | None = None
    start_greedy: float | None = None
    end_greedy: float | None = None
    decay_step_greedy: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig(XuanCeConfig):
    agent: ClassVar[str] = "PPO"
    family: ClassVar[str] = "classic_control"
    on_policy: ClassVar[bool] = True
    actions: ClassVar[tuple[str, ...]] = ("discrete", "continuous")
    algorithm: str = "ppo"
    env_id: str = "CartPole-v1"
    learning_rate: float | None = None
    horizon_size: int | None = None
    n_epochs: int | None = None
    n_minibatch: int | None = None
    clip_range: float | None = None
    ent_coef: float | None = None
    vf_coef: float | None = None
    gae_lambda: float | None = None


ALGORITHMS: dict[str, type[XuanCeConfig]] = {
    "mappo": MAPPOConfig,
    "qmix": QMIXConfig,
    "maddpg": MADDPGConfig,
    "vdn": VDNConfig,
    "coma": COMAConfig,
    "ippo": IPPOConfig,
    "iql": IQLConfig,
    "dqn": DQNConfig,
    "ppo": PPOConfig,
}
