"""Environments by name, for RLlib's env runners and for the checks made before Ray starts.

``env_id`` is read as everywhere in MOSAIC (:class:`mosaic_core.EnvSpec`): a
Gymnasium id (``CartPole-v1``), ``module:Id``, or ``module:factory``
returning a Gymnasium env or a PettingZoo parallel env
(``mpe2.simple_spread_v3:parallel_env``). :func:`create_env` is what each env
runner calls, through a ``functools.partial`` that pickles by reference, so
``mosaic_ray`` must be importable wherever Ray places an env runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from mosaic_core import ConfigError, EnvSpec

__all__ = ["EnvInfo", "create_env", "describe_env", "registered_name"]


@attrs.frozen
class EnvInfo:
    """What the checks need to know about an environment: its agents and their spaces."""

    env_id: str
    #: ``single`` (Gymnasium) or ``parallel`` (PettingZoo parallel API).
    kind: str
    #: Agent ids; ``()`` for a single-agent environment.
    agents: tuple[str, ...]
    #: Per agent (``None`` for single-agent): observation and action space.
    observation_spaces: Mapping[str | None, Any]
    action_spaces: Mapping[str | None, Any]

    @property
    def multi_agent(self) -> bool:
        return self.kind == "parallel"


def registered_name(env_id: str) -> str:
    """The name under which a ``module:factory`` environment is registered with Ray."""
    return f"mosaic:{env_id}"


def _make(env_id: str, env_config: Mapping[str, Any]) -> Any:
    return EnvSpec.parse(env_id).make(**env_config)


def _is_parallel(env: Any) -> bool:
    # PettingZoo's parallel API: action_space(agent) is a method, and there is no agent_iter.
    return callable(getattr(env, "action_space", None)) and not hasattr(type(env), "agent_iter")


def describe_env(env_id: str, env_config: Mapping[str, Any]) -> EnvInfo:
    """Make the environment once and read its agents and spaces."""
    env = _make(env_id, env_config)
    try:
        if hasattr(type(env), "agent_iter"):
            raise ConfigError.bad_value(
                "env_id",
                env_id,
                "a Gymnasium env or a PettingZoo *parallel* env; this factory returns an AEC "
                "env, whose module usually offers parallel_env() as well",
            )
        if _is_parallel(env):
            agents = tuple(env.possible_agents)
            return EnvInfo(
                env_id,
                "parallel",
                agents,
                {a: env.observation_space(a) for a in agents},
                {a: env.action_space(a) for a in agents},
            )
        return EnvInfo(
            env_id, "single", (), {None: env.observation_space}, {None: env.action_space}
        )
    finally:
        env.close()


def create_env(env_id: str, env_config: Mapping[str, Any]) -> Any:
    """The environment RLlib steps: Gymnasium as is, a PettingZoo parallel env wrapped."""
    env = _make(env_id, dict(env_config))
    if _is_parallel(env):
        from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

        return ParallelPettingZooEnv(env)
    return env
