"""A :class:`~mosaic_ray.config.RayConfig` becomes an RLlib ``AlgorithmConfig``, checked
before Ray starts.

:func:`plan` imports RLlib (no Ray process starts), makes the environment
once to read its agents and spaces, refuses algorithm/space mismatches,
builds the ``AlgorithmConfig`` on RLlib's new API stack and runs RLlib's own
``validate()``. Every refusal is a :class:`~mosaic_core.ConfigError` naming
the field, so a bad run costs an import, not a cluster.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import zlib
from collections.abc import Mapping
from typing import Any

import attrs

from mosaic_core import ConfigError, did_you_mean
from mosaic_ray.config import ALGORITHMS, RayConfig
from mosaic_ray.envs import EnvInfo, create_env, describe_env, registered_name

__all__ = ["ACTION_SPACES", "Plan", "plan"]

#: The action spaces each algorithm takes on RLlib 2.58's new API stack. SAC takes
#: Discrete too (SAC-Discrete); DQN only Discrete.
ACTION_SPACES: dict[str, tuple[str, ...]] = {
    "ppo": ("Box", "Discrete", "MultiDiscrete", "MultiBinary"),
    "appo": ("Box", "Discrete", "MultiDiscrete", "MultiBinary"),
    "impala": ("Box", "Discrete", "MultiDiscrete", "MultiBinary"),
    "dqn": ("Discrete",),
    "sac": ("Box", "Discrete"),
}
SINGLE_AGENT_MODULE = "default_policy"


@attrs.frozen
class Plan:
    """What a run will do, decided before Ray starts."""

    algo_config: Any
    env: EnvInfo
    #: agent id -> module id at evaluation time (``{}`` for single-agent: ``default_policy``).
    agent_modules: Mapping[str, str]
    #: Every module of the run, and those that learn.
    modules: tuple[str, ...]
    trainable: tuple[str, ...]
    #: Logical CPUs the run's env runners and learners reserve.
    cpus_needed: int


class ShareOne:
    """``parameter_sharing``: every agent acts with the one module ``shared``."""

    def __call__(self, agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
        return "shared"


class EachOwn:
    """``independent``: each agent has a module of its own, named after it."""

    def __call__(self, agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
        return str(agent_id)


class SelfPlay:
    """``self_play``: one seat per episode plays the learning ``main``; the others play
    ``opponent``, a frozen copy of ``main`` refreshed every few iterations."""

    def __init__(self, agents: tuple[str, ...]) -> None:
        self.agents = agents

    def __call__(self, agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
        episode_id = str(getattr(episode, "id_", ""))
        seat = zlib.crc32(episode_id.encode()) % len(self.agents)
        return "main" if str(agent_id) == self.agents[seat] else "opponent"


def _space_name(space: Any) -> str:
    return type(space).__name__


def check_spaces(config: RayConfig, env: EnvInfo) -> None:
    """Refuse what the algorithm cannot learn, naming the space and what would fit."""
    wanted = ACTION_SPACES[config.algorithm]
    for agent, space in env.action_spaces.items():
        if _space_name(space) not in wanted:
            who = f" (agent {agent!r})" if agent is not None else ""
            fitting = [n for n, kinds in ACTION_SPACES.items() if _space_name(space) in kinds]
            raise ConfigError.bad_value(
                "algorithm",
                config.algorithm,
                f"an algorithm for {_space_name(space)} actions: {config.env_id}{who} has "
                f"{space}, and {config.algorithm} takes {' or '.join(wanted)} action spaces"
                + (f"; use one of {', '.join(fitting)}" if fitting else ""),
            )
    for agent, space in env.observation_spaces.items():
        if _space_name(space) != "Box":
            who = f" (agent {agent!r})" if agent is not None else ""
            raise ConfigError.bad_value(
                "env_id",
                config.env_id,
                f"an environment with Box observations: {config.env_id}{who} observes {space}; "
                "wrap it (gymnasium.wrappers.FlattenObservation, a one-hot wrapper) in a "
                "module:factory",
            )
    if env.multi_agent and config.policy_mode in ("parameter_sharing", "self_play"):
        first = env.agents[0]
        for agent in env.agents[1:]:
            same = (
                env.action_spaces[agent] == env.action_spaces[first]
                and env.observation_spaces[agent] == env.observation_spaces[first]
            )
            if not same:
                raise ConfigError.bad_value(
                    "policy_mode",
                    config.policy_mode,
                    f"'independent': {config.policy_mode} gives every agent one module, but "
                    f"{agent!r} and {first!r} of {config.env_id} have different spaces",
                )
    if env.multi_agent and config.policy_mode == "self_play" and len(env.agents) < 2:
        raise ConfigError.bad_value(
            "policy_mode", config.policy_mode, "self_play with at least two agents"
        )


def _multi_agent(config: RayConfig, env: EnvInfo) -> tuple[Any, dict[str, str], tuple[str, ...]]:
    """(policy mapping fn, agent -> module for evaluation, trainable modules)."""
    if config.policy_mode == "parameter_sharing":
        return ShareOne(), dict.fromkeys(env.agents, "shared"), ("shared",)
    if config.policy_mode == "independent":
        return EachOwn(), {a: a for a in env.agents}, tuple(env.agents)
    return SelfPlay(env.agents), dict.fromkeys(env.agents, "main"), ("main",)


def _training(algo_config: Any, config: RayConfig) -> None:
    arguments: dict[str, Any] = {
        name: getattr(config, name)
        for name in (
            "train_batch_size_per_learner",
            "minibatch_size",
            "num_epochs",
            "lr",
            "gamma",
            "num_steps_sampled_before_learning_starts",
        )
        if getattr(config, name) is not None
    }
    arguments.update(config.training)
    accepted = _training_parameters(type(algo_config))
    owner = f"{type(algo_config).__name__}.training()"
    for name, value in arguments.items():
        if name in accepted:
            continue
        if name in config.training:
            raise ConfigError.bad_value(
                f"training.{name}", value, f"an argument of {owner}" + did_you_mean(name, accepted)
            )
        raise ConfigError.bad_value(
            name, value, f"null for {config.algorithm}: {owner} has no {name!r}"
        )
    try:
        algo_config.training(**arguments)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"config field 'training': RLlib refused {arguments}: {exc}",
            field="training",
            value=arguments,
        ) from None


def _training_parameters(cls: type) -> set[str]:
    """Every named argument of ``cls.training()``; each class passes the rest to its base."""
    names: set[str] = set()
    for klass in cls.__mro__:
        method = klass.__dict__.get("training")
        if method is not None:
            names.update(
                p.name
                for p in inspect.signature(method).parameters.values()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
            )
    return names


def cpus_needed(algo_config: Any) -> int:
    """CPUs RLlib reserves for env runners and learners (the driver reserves none)."""
    per_runner = algo_config.num_cpus_per_env_runner
    per_learner = algo_config.num_cpus_per_learner
    per_learner = 1 if per_learner == "auto" else per_learner
    return int(algo_config.num_env_runners * per_runner + algo_config.num_learners * per_learner)


def plan(config: RayConfig) -> Plan:
    """Check ``config`` against the environment and RLlib, and build its AlgorithmConfig."""
    env = describe_env(config.env_id, config.env_config)
    check_spaces(config, env)
    module_name, class_name = ALGORITHMS[config.algorithm]
    algo_config = getattr(importlib.import_module(module_name), class_name)()

    from ray.tune.registry import register_env

    from mosaic_ray.callbacks import MosaicCallback

    name = registered_name(config.env_id)
    register_env(name, functools.partial(create_env, config.env_id))
    algo_config.environment(name, env_config=dict(config.env_config))
    algo_config.framework(config.framework)
    runners: dict[str, Any] = {"num_envs_per_env_runner": config.num_envs_per_env_runner}
    if config.num_env_runners is not None:
        runners["num_env_runners"] = config.num_env_runners
    algo_config.env_runners(**runners)
    algo_config.learners(num_learners=config.num_learners)
    _training(algo_config, config)
    reporting = {
        name: getattr(config, name)
        for name in ("min_time_s_per_iteration", "min_sample_timesteps_per_iteration")
        if getattr(config, name) is not None
    }
    if reporting:
        algo_config.reporting(**reporting)
    if config.seed is not None:
        algo_config.debugging(seed=config.seed)
    algo_config.callbacks(MosaicCallback)

    agent_modules: dict[str, str] = {}
    modules: tuple[str, ...] = (SINGLE_AGENT_MODULE,)
    trainable = modules
    if env.multi_agent:
        from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
        from ray.rllib.core.rl_module.rl_module import RLModuleSpec

        mapping, agent_modules, trainable = _multi_agent(config, env)
        modules = trainable + (("opponent",) if config.policy_mode == "self_play" else ())
        algo_config.multi_agent(
            policies=set(modules), policy_mapping_fn=mapping, policies_to_train=list(trainable)
        )
        algo_config.rl_module(
            rl_module_spec=MultiRLModuleSpec(rl_module_specs={m: RLModuleSpec() for m in modules})
        )
    try:
        algo_config.validate()
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(
            f"RLlib refused the {config.algorithm} config: {exc}",
            field="algorithm",
            value=config.algorithm,
        ) from None
    needed = cpus_needed(algo_config)
    if config.local and config.num_cpus is not None and config.num_cpus < needed:
        raise ConfigError.bad_value(
            "num_cpus",
            config.num_cpus,
            f"at least {needed}: {algo_config.num_env_runners} env runner(s) and "
            f"{algo_config.num_learners} learner(s) each reserve a CPU, and Ray would wait "
            "for them forever",
        )
    return Plan(algo_config, env, agent_modules, modules, trainable, needed)
