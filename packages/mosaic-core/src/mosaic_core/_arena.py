"""Environments behind one small interface: Gymnasium, PettingZoo parallel and PettingZoo AEC.

An :class:`Arena` says which agents must act now, what each observes, and
applies their actions, so the episode loop in
:mod:`mosaic_core._session` is written once. Single-agent environments use
the agent id ``None``. Nothing here imports Gymnasium, PettingZoo or numpy
until an environment is made.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

from mosaic_core._operator import MASKLESS, action_mask_of, require

__all__ = ["INTEGERS", "Arena", "Transition", "coerce_action", "legality", "make_arena", "seen"]

Agent = str | None
Kind = Literal["single", "parallel", "aec"]


def coerce_action(space: Any, action: Any) -> Any:
    """A JSON action (int, list) in the form ``space`` holds; raises ValueError if it cannot be."""
    if space is None:
        return action
    if hasattr(space, "n") and not hasattr(space, "nvec"):  # Discrete
        if isinstance(action, bool) or not float(action).is_integer():
            raise ValueError(f"got {action!r}; expected an integer action of {space}")
        return int(action)
    dtype = getattr(space, "dtype", None)
    shape = getattr(space, "shape", None)
    if dtype is not None and shape is not None:
        np = require("numpy", "array actions")
        try:
            return np.asarray(action, dtype=dtype).reshape(shape)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"got {action!r}; expected an action of {space} ({exc})") from None
    return action


#: Types of integer scalars seen (numpy's integers): their actions need only ``operator.index``.
INTEGERS: set[type] = set()


def legality(space: Any) -> Callable[[Any, Any], bool]:
    """``is_legal(action, mask)`` for one space: is ``action`` in ``space`` and allowed by
    ``mask`` (when there is one)? What the check needs is read from the space once, as a
    session asks at every step of every agent."""
    if type(space).__name__ == "Discrete":  # the common case, without numpy's checks
        start, n = int(space.start), int(space.n)

        def discrete(action: Any, mask: Any) -> bool:
            kind = type(action)
            if kind is not int:  # numpy integers pass; bools, floats do not
                if kind in INTEGERS:
                    action = operator.index(action)
                else:
                    dtype = getattr(action, "dtype", None)
                    if isinstance(action, (bool, float)) or (
                        dtype is not None and dtype.kind not in "iu"
                    ):
                        return False
                    if isinstance(action, numbers.Integral):  # numpy's int64...: checked once
                        INTEGERS.add(kind)
                    try:
                        action = operator.index(action)
                    except TypeError:
                        return False
            index = action - start
            return 0 <= index < n and (mask is None or bool(mask[index]))

        return discrete

    def contained(action: Any, mask: Any) -> bool:
        try:
            if space is not None and not space.contains(action):
                return False
        except Exception:  # noqa: BLE001 - a malformed action is simply not legal
            return False
        if mask is not None and hasattr(space, "n"):
            index = int(action) - int(getattr(space, "start", 0))
            return 0 <= index < len(mask) and bool(mask[index])
        return True

    return contained


def seen(observation: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The info an operator gets: the environment's ``info``, with the observation's action
    mask added where the observation has one and the info does not."""
    if "action_mask" not in info:
        mask = action_mask_of(observation, None)
        if mask is not None:
            return {**info, "action_mask": mask}
    return info


class Transition(NamedTuple):
    """What one step did: per-agent rewards and end flags, and whether the episode is over.

    A named tuple: one is made at every step, and a frozen attrs class costs three times
    as much to make."""

    rewards: Mapping[Agent, float]
    terminated: Mapping[Agent, bool]
    truncated: Mapping[Agent, bool]
    done: bool


class Arena:
    """The common face of a single-agent, parallel or AEC environment."""

    kind: Kind = "single"

    def __init__(self, env: Any, env_id: str) -> None:
        self.env = env
        self.env_id = env_id
        self._obs: dict[Agent, Any] = {}
        self._info: dict[Agent, Any] = {}

    def to_act(self) -> list[Agent]:
        """The agents whose actions the next :meth:`step` needs."""
        return [None]

    def reset(self, seed: int | None) -> None:
        self.keep(*self.env.reset(seed=seed))

    def keep(self, observation: Any, info: Any) -> dict[str, Any]:
        """Hold what a single-agent environment returned (from a reset or a step), for
        :meth:`observation` and :meth:`info`; returns what :meth:`info` will give."""
        kept: dict[str, Any] = dict(info) if info else {}
        self._obs[None], self._info[None] = observation, kept  # the arena's own dicts
        # An observation of a type that holds no mask (an array, mostly): nothing to add.
        return kept if type(observation) in MASKLESS else seen(observation, kept)

    def observation(self, agent: Agent) -> Any:
        return self._obs[agent]

    @property
    def possible_agents(self) -> tuple[str, ...]:
        return ()

    def info(self, agent: Agent) -> dict[str, Any]:
        return seen(self._obs.get(agent), self._info.get(agent) or {})

    def action_space(self, agent: Agent) -> Any:
        return self.env.action_space

    def observation_space(self, agent: Agent) -> Any:
        return self.env.observation_space

    def action_meanings(self) -> tuple[str, ...]:
        getter = getattr(getattr(self.env, "unwrapped", self.env), "get_action_meanings", None)
        try:
            return tuple(str(m) for m in getter()) if callable(getter) else ()
        except Exception:  # noqa: BLE001 - only a nicety for the human operator
            return ()

    def step(self, actions: Mapping[Agent, Any]) -> Transition:
        obs, reward, terminated, truncated, info = self.env.step(actions[None])
        self.keep(obs, info)
        term, trunc = bool(terminated), bool(truncated)
        return Transition({None: float(reward)}, {None: term}, {None: trunc}, term or trunc)

    def render(self) -> Any:
        return self.env.render()

    @property
    def render_mode(self) -> str | None:
        return getattr(self.env, "render_mode", None)

    def close(self) -> None:
        self.env.close()


class ParallelArena(Arena):
    """PettingZoo ``ParallelEnv``: every live agent acts at once."""

    kind: Kind = "parallel"

    @property
    def possible_agents(self) -> tuple[str, ...]:
        return tuple(self.env.possible_agents)

    def to_act(self) -> list[Agent]:
        return list(self.env.agents)

    def reset(self, seed: int | None) -> None:
        result = self.env.reset(seed=seed)
        obs, infos = result if isinstance(result, tuple) else (result, {})
        self._obs, self._info = dict(obs), dict(infos or {})

    def action_space(self, agent: Agent) -> Any:
        return self.env.action_space(agent)

    def observation_space(self, agent: Agent) -> Any:
        return self.env.observation_space(agent)

    def step(self, actions: Mapping[Agent, Any]) -> Transition:
        obs, rewards, terms, truncs, infos = self.env.step(dict(actions))
        self._obs, self._info = dict(obs), dict(infos or {})
        done = not self.env.agents or all(terms.get(a) or truncs.get(a) for a in self.env.agents)
        return Transition(
            {a: float(r) for a, r in rewards.items()},
            {a: bool(v) for a, v in terms.items()},
            {a: bool(v) for a, v in truncs.items()},
            done,
        )


class AECArena(Arena):
    """PettingZoo ``AECEnv``: one agent acts at a time.

    An agent's reward is credited when it is next selected (what
    ``env.last()`` returns), as PettingZoo's own loop does; agents that are
    done are stepped with ``None`` automatically.
    """

    kind: Kind = "aec"

    def __init__(self, env: Any, env_id: str) -> None:
        super().__init__(env, env_id)
        self._credit: dict[Agent, float] = {}
        self._terms: dict[Agent, bool] = {}
        self._truncs: dict[Agent, bool] = {}

    @property
    def possible_agents(self) -> tuple[str, ...]:
        return tuple(self.env.possible_agents)

    def to_act(self) -> list[Agent]:
        return [self.env.agent_selection] if self.env.agents else []

    def reset(self, seed: int | None) -> None:
        self.env.reset(seed=seed)
        self._credit, self._terms, self._truncs = {}, {}, {}
        self._advance()

    def _advance(self) -> None:
        env = self.env
        while env.agents:
            agent = env.agent_selection
            _, reward, terminated, truncated, _ = env.last(observe=False)
            self._credit[agent] = self._credit.get(agent, 0.0) + float(reward)
            if not (terminated or truncated):
                return
            self._terms.setdefault(agent, bool(terminated))
            self._truncs.setdefault(agent, bool(truncated))
            env.step(None)

    def observation(self, agent: Agent) -> Any:
        return self.env.observe(agent)

    def info(self, agent: Agent) -> dict[str, Any]:
        self._info = {agent: self.env.infos.get(agent)}
        self._obs = {agent: self.observation(agent)}
        return super().info(agent)

    def action_space(self, agent: Agent) -> Any:
        return self.env.action_space(agent)

    def observation_space(self, agent: Agent) -> Any:
        return self.env.observation_space(agent)

    def step(self, actions: Mapping[Agent, Any]) -> Transition:
        env = self.env
        (agent,) = self.to_act()
        before = list(env.agents)
        env.step(actions[agent])
        terms = {a: bool(v) for a, v in env.terminations.items()}
        truncs = {a: bool(v) for a, v in env.truncations.items()}
        self._advance()
        terms.update(self._terms)
        truncs.update(self._truncs)
        # Credit taken while resetting (normally zero) goes to the first transition.
        credit = dict.fromkeys(before, 0.0) | self._credit
        self._credit, self._terms, self._truncs = {}, {}, {}
        return Transition(credit, terms, truncs, not env.agents)


def make_arena(env: Any, env_id: str) -> Arena:
    """Wrap an environment object in the arena its API calls for."""
    # Class-level look-ups: Gymnasium wrappers warn about unknown instance attributes.
    if hasattr(type(env), "agent_iter"):
        return AECArena(env, env_id)
    if callable(getattr(env, "action_space", None)):  # PettingZoo: action_space(agent)
        return ParallelArena(env, env_id)
    return Arena(env, env_id)
