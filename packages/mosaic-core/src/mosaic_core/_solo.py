"""The episode loop of a single-agent Gymnasium environment, beside the one every kind shares.

Most sessions step one Gymnasium environment, and that is the case a plain
``env.step`` loop is held against (benchmarks/operator_step.py). This loop
calls ``env.step`` itself, works out the operator's info (the
environment's, with the observation's action mask) once a step, for the
operator and for the ``legal`` list alike, and builds the record without
the per-agent dicts, loops and :class:`~mosaic_core._arena.Transition` of
the shared loop in :mod:`mosaic_core._session`. Its records are what the
shared loop answered before this one took single-agent steps over, key for
key (tests/operators/test_session_trajectory.py pins them).
"""

from __future__ import annotations

import operator as _operator
from collections.abc import Mapping
from typing import Any, Protocol

from mosaic_core._arena import INTEGERS, Agent, Arena, legality
from mosaic_core._jsonable import jsonable
from mosaic_core._operator import Operator

__all__ = ["Seat", "Solo"]


class Seat:
    """One agent's action space, its legality check and its operator (None if it has none),
    looked up once instead of at every step."""

    __slots__ = ("legal", "operator", "space")

    def __init__(self, space: Any, operator: Operator | None) -> None:
        self.space = space
        self.legal = legality(space)
        self.operator = operator


class Host(Protocol):
    """What a single-agent step needs of its :class:`~mosaic_core._session.Session` (named
    here, not imported: the session imports this module)."""

    step_index: int
    invalid_actions: int
    episode_reward: dict[Agent, float]

    @property
    def render_mode(self) -> str: ...

    def operator_for(self, agent: Agent) -> Operator: ...

    def _checked(self, agent: Agent, seat: Seat, given: Any, mask: Any) -> Any: ...

    def _repaired(self, agent: Agent, seat: Seat, action: Any, mask: Any) -> tuple[Any, bool]: ...

    def _legal(self, agent: Agent, mask: Any) -> list[int]: ...

    def _frame(self, wanted: bool | None) -> dict[str, Any] | None: ...

    def _episode_end(self, total: Any, terminated: Any, truncated: Any) -> dict[str, Any]: ...

    def _next_episode(self) -> None: ...


class Solo:
    """The one seat of a single-agent session, and what its next step starts from: the
    observation, the operator's info and the action mask in it."""

    __slots__ = ("arena", "discrete", "info", "mask", "observation", "operator", "seat", "session")

    def __init__(self, session: Host, arena: Arena, seat: Seat) -> None:
        self.session = session
        self.arena = arena
        self.seat = seat
        self.discrete = type(seat.space).__name__ == "Discrete"
        self.operator = seat.operator if seat.operator is not None else session.operator_for(None)
        self.look()

    def look(self) -> None:
        """Read the observation and info the arena holds: after a reset, and after a step."""
        arena = self.arena
        self.observation = arena.observation(None)
        info = self.info = arena.info(None)
        self.mask = info.get("action_mask")

    def upcoming(self) -> dict[str, Any]:
        mask = self.mask
        return {} if mask is None else {"legal": self.session._legal(None, mask)}

    def step(self, action: Any, render: bool | None) -> tuple[dict[str, Any], Any]:
        """:meth:`Session.step` of a single-agent environment; ``action`` None: the operator's."""
        session, seat, mask = self.session, self.seat, self.mask
        exchange = None
        illegal = False
        if action is None:
            operator = self.operator
            chosen = operator.select_action(self.observation, self.info)
            exchange = getattr(operator, "last_exchange", None)
            # A numpy integer's Python int passes the check and makes the record as the
            # integer would, at less cost; the environment is given the operator's own.
            plain = (
                _operator.index(chosen) if self.discrete and type(chosen) in INTEGERS else chosen
            )
            if not seat.legal(plain, mask):
                chosen, illegal = session._repaired(None, seat, chosen, mask)
                plain = chosen
        else:
            chosen = plain = session._checked(None, seat, action, mask)
        arena = self.arena
        observation, reward, terminated, truncated, info = arena.env.step(chosen)
        seen = arena.keep(observation, info)
        # Most environments give exactly these types: no conversion to pay for.
        if type(reward) is not float:
            reward = float(reward)
        if type(terminated) is not bool or type(truncated) is not bool:
            terminated, truncated = bool(terminated), bool(truncated)
        done = terminated or truncated
        totals = session.episode_reward
        total = totals[None] = totals.get(None, 0.0) + reward
        record = {
            "step_index": session.step_index,
            "action": plain if type(plain) is int else jsonable(plain),
            "reward": reward,
            "terminated": terminated,
            "truncated": truncated,
            "episode_reward": total,
            "episode_done": done,
            "render": None if session.render_mode == "none" else session._frame(render),
        }
        if illegal:
            session.invalid_actions += 1
            record["invalid_action"] = True
        if exchange is not None and isinstance(exchange, Mapping):
            record["exchange"] = jsonable(exchange)
        session.step_index += 1
        end = None
        if done:
            end = session._episode_end(totals.get(None, 0.0), terminated, truncated)
            session._next_episode()  # looks again, at the new episode's first observation
        else:
            self.observation, self.info, self.mask = observation, seen, seen.get("action_mask")
        if self.mask is not None:
            record["legal"] = session._legal(None, self.mask)
        return record, end
