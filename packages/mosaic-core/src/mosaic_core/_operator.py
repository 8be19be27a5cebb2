"""The ``Operator`` protocol and the ``OperatorContext`` of the seat an operator takes.

An operator is a policy under evaluation: what a worker trained (loaded by
its ``WorkerSpec.operator_factory``), an LLM behind an endpoint, a person
at a keyboard. MOSAIC drives it the same way in process
(:class:`~mosaic_core._session.Session`), over pipes
(:class:`~mosaic_core._server.InteractiveServer`) and in ``mosaic eval``.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from mosaic_core._errors import MosaicError
from mosaic_core._spec import wants_context

__all__ = [
    "MASKLESS",
    "Operator",
    "OperatorContext",
    "action_mask_of",
    "agent_seed",
    "call_operator_factory",
    "need_space",
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
    """What MOSAIC knows about the seat an operator takes, for operators that need it.

    An ``operator_factory`` that names a ``context`` parameter gets one per
    agent it plays: a multi-agent policy learns which agent it is, and any
    policy can check the spaces it will be given against the ones it was
    trained on. Started without an environment (``select_action`` only), the
    spaces and ``env_id`` are None.
    """

    #: The agent's action space (a Gymnasium space), or None without an environment.
    action_space: Any = None
    #: The agent's observation space (a Gymnasium space), or None without an environment.
    observation_space: Any = None
    #: The agent's id in a PettingZoo environment; None in a single-agent one.
    agent: str | None = None
    #: The environment as it was named (``CartPole-v1``, ``module:factory``), or None.
    env_id: str | None = None
    #: Names of discrete actions, e.g. ``("NOOP", "FIRE", ...)`` for Atari.
    action_meanings: tuple[str, ...] = ()
    #: The keys a person presses for this seat's actions (a :class:`~mosaic_core.KeyMap`
    #: from the task's environment family), None when the task declares none.
    key_map: Any = None

    @classmethod
    def for_seat(
        cls, arena: Any, agent: str | None, env_id: str | None, task: Any = None
    ) -> OperatorContext:
        """The context of ``agent``'s seat in ``arena``; ``task`` (an
        :class:`~mosaic_core.EnvTask`) adds its key map where the seat's actions fit it."""
        space = arena.action_space(agent) if arena is not None else None
        meanings = arena.action_meanings() if arena is not None and agent is None else ()
        key_map = getattr(task, "key_map", None)
        if key_map is not None and not key_map.fits(space):
            key_map = None
        if key_map is not None and not meanings and key_map.labels:
            meanings = key_map.labels
        return cls(
            action_space=space,
            observation_space=arena.observation_space(agent) if arena is not None else None,
            agent=agent,
            env_id=env_id,
            action_meanings=tuple(meanings),
            key_map=key_map,
        )


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
    # An array's type first, then dict: the Mapping ABC check is slow, and this runs at
    # every step.
    kind = type(observation)
    if kind in MASKLESS:
        return None
    if isinstance(observation, dict) or (
        hasattr(observation, "keys") and isinstance(observation, Mapping)
    ):
        return observation.get("action_mask")
    if not hasattr(kind, "keys"):  # an array, a number, a string: never a mapping
        MASKLESS.add(kind)
    return None


#: Types of observations seen that cannot be mappings, so cannot hold an action mask.
MASKLESS: set[type] = set()


def need_space(context: OperatorContext, who: str) -> Any:
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


def call_operator_factory(
    factory: Any, checkpoint: str | None, context: OperatorContext, options: dict[str, Any]
) -> Any:
    """``factory(checkpoint, **options)``, plus ``context=`` when the factory names a
    ``context`` parameter: one operator is built per seat, and a multi-agent policy
    must know which agent it plays."""
    if wants_context(factory) and "context" not in options:
        return factory(checkpoint, context=context, **options)
    return factory(checkpoint, **options)
