"""The ``Operator`` protocol, and the two operators every install has: random and human.

An operator is a policy under evaluation: what a worker trained (loaded by
its ``WorkerSpec.operator_factory``), an LLM behind an endpoint, a person
at a keyboard. MOSAIC drives it the same way in process
(:class:`~mosaic_core.session.Session`), over pipes
(:class:`~mosaic_core.interactive.InteractiveServer`) and in ``mosaic eval``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
import zlib
from collections.abc import Mapping
from typing import IO, Any, Protocol, runtime_checkable

import attrs

from mosaic_core.errors import MosaicError, ProtocolError

__all__ = [
    "BUILTIN",
    "HumanOperator",
    "Operator",
    "OperatorContext",
    "RandomOperator",
    "action_mask_of",
    "agent_seed",
    "require",
]


@runtime_checkable
class Operator(Protocol):
    """A policy that picks actions; one instance per agent.

    ``reset(seed)`` is called at the start of every episode with that
    episode's seed (None when unseeded), so a stochastic operator can be
    made reproducible. ``select_action(observation, info)`` returns an
    action of the agent's action space; ``info`` is the environment's info
    for this agent, with ``"action_mask"`` (a sequence of 0/1 per discrete
    action) when the environment restricts the legal actions. ``close()``
    releases whatever the operator holds (models, connections, files).
    """

    def reset(self, seed: int | None = None) -> None: ...

    def select_action(self, observation: Any, info: Mapping[str, Any]) -> Any: ...

    def close(self) -> None: ...


@attrs.frozen(kw_only=True)
class OperatorContext:
    """What MOSAIC knows about the seat an operator takes, for operators that need it."""

    action_space: Any = None
    observation_space: Any = None
    agent: str | None = None
    env_id: str | None = None
    #: Names of discrete actions, e.g. ``("NOOP", "FIRE", ...)`` for Atari.
    action_meanings: tuple[str, ...] = ()


def require(module: str, why: str) -> Any:
    """Import an optional dependency, or say which extra provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MosaicError(
            f"{why} needs {module!r}, which is not installed here ({exc}); "
            "install it with `pip install 'mosaic-core[eval]'`"
        ) from None


def action_mask_of(observation: Any, info: Mapping[str, Any] | None) -> Any:
    """The legal-action mask from ``info["action_mask"]`` or a dict observation's, else None."""
    if info:
        mask = info.get("action_mask")
        if mask is not None:
            return mask
    # dict first: the Mapping ABC check is slow, and this runs at every step.
    if isinstance(observation, dict) or (
        hasattr(observation, "keys") and isinstance(observation, Mapping)
    ):
        return observation.get("action_mask")
    return None


def _need_space(context: OperatorContext, who: str) -> Any:
    if context.action_space is None:
        raise MosaicError(
            f"the {who} operator needs the action space of its environment; "
            "start it with an environment (--env ENV_ID)"
        )
    return copy.deepcopy(context.action_space)


def agent_seed(seed: int | None, agent: str | None) -> int | None:
    """The seed of one agent's stream: the episode seed mixed with the agent id.

    Two random operators of one episode must not mirror each other, and the
    mix must not depend on ``PYTHONHASHSEED``, so it is a CRC, not ``hash()``.
    """
    if seed is None or agent is None:
        return seed
    return (seed * 0x9E3779B1 + zlib.crc32(agent.encode())) % (1 << 63)


class RandomOperator:
    """Uniformly random legal actions, reproducible per episode seed."""

    def __init__(self, context: OperatorContext) -> None:
        self._space = _need_space(context, "random")
        self._np = require("numpy", "the random operator")
        self._agent = context.agent

    def reset(self, seed: int | None = None) -> None:
        self._space.seed(agent_seed(seed, self._agent))

    def select_action(self, observation: Any, info: Mapping[str, Any]) -> Any:
        mask = action_mask_of(observation, info)
        if mask is not None and hasattr(self._space, "n"):
            return self._space.sample(mask=self._np.asarray(mask, dtype=self._np.int8))
        return self._space.sample()

    def close(self) -> None:
        return None


class HumanOperator:
    """Actions typed at a terminal: a number, an action's name, or ``r`` for a random one.

    It reads ``/dev/tty`` when there is one (standard input may be the step
    protocol's channel), else standard input; ``input``/``output`` replace
    both, for tests and front ends.
    """

    def __init__(
        self,
        context: OperatorContext,
        *,
        input: IO[str] | None = None,
        output: IO[str] | None = None,
    ) -> None:
        self._space = _need_space(context, "human")
        self._np = require("numpy", "the human operator")
        self._agent = context.agent
        self._meanings = tuple(m.lower() for m in context.action_meanings)
        self._names = context.action_meanings
        self._own: IO[str] | None = None
        if input is None or output is None:
            with contextlib.suppress(OSError):
                self._own = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115
        self._in = input or self._own or sys.stdin
        self._out = output or self._own or sys.stderr

    def reset(self, seed: int | None = None) -> None:
        self._space.seed(agent_seed(seed, self._agent))

    def _prompt(self, mask: Any) -> str:
        who = f" for {self._agent}" if self._agent else ""
        space = self._space
        if hasattr(space, "n"):
            start = int(getattr(space, "start", 0))
            legal = [start + i for i in range(int(space.n)) if mask is None or mask[i]]
            named = [f"{a}={self._names[a - start]}" if self._names else str(a) for a in legal]
            return f"action{who} [{' '.join(named)}; r=random]: "
        return f"action{who} ({space}; numbers separated by spaces, r=random): "

    def select_action(self, observation: Any, info: Mapping[str, Any]) -> Any:
        mask = action_mask_of(observation, info)
        while True:
            self._out.write(self._prompt(mask))
            self._out.flush()
            line = self._in.readline()
            if not line:
                raise ProtocolError("human operator: the terminal closed (end of input)")
            try:
                return self._parse(line.strip(), mask)
            except ValueError as exc:
                self._out.write(f"  {exc}\n")

    def _parse(self, text: str, mask: Any) -> Any:
        np, space = self._np, self._space
        if text.lower() in ("r", "random"):
            if mask is not None and hasattr(space, "n"):
                return space.sample(mask=np.asarray(mask, dtype=np.int8))
            return space.sample()
        if hasattr(space, "n"):
            start = int(getattr(space, "start", 0))
            if text.lower() in self._meanings:
                action = start + self._meanings.index(text.lower())
            else:
                try:
                    action = int(text)
                except ValueError:
                    raise ValueError(f"{text!r} is not an action number or name") from None
            if not space.contains(action) or (mask is not None and not mask[action - start]):
                raise ValueError(f"{action} is not a legal action now")
            return action
        try:
            values: Any = [float(part) for part in text.replace(",", " ").split()]
        except ValueError:
            try:
                values = json.loads(text)
            except ValueError:
                raise ValueError(f"{text!r}: expected numbers separated by spaces") from None
        action = np.asarray(values, dtype=getattr(space, "dtype", None)).reshape(
            getattr(space, "shape", None) or np.shape(values)
        )
        if not space.contains(action):
            raise ValueError(f"{text!r} is not in {space}")
        return action

    def close(self) -> None:
        if self._own is not None:
            with contextlib.suppress(OSError):
                self._own.close()
            self._own = None


BUILTIN: Mapping[str, type[RandomOperator] | type[HumanOperator]] = {
    "random": RandomOperator,
    "human": HumanOperator,
}
