"""One episode loop for every way an operator is driven: in process, over pipes, in ``mosaic eval``.

A :class:`Session` holds an environment (through its
:class:`~mosaic_core._arena.Arena`), one operator per agent, the episode
counters and the frame output. :meth:`Session.step` asks the operators
for whatever actions the caller did not give, steps the environment, and
returns the ``step`` record, plus the ``episode_end`` record when the
episode is over, after which the next episode starts by itself. A
single-agent environment is stepped by a loop of its own
(:class:`~mosaic_core._solo.Solo`, the common case, kept lean); the loop
here steps parallel and AEC environments.

Seeds: after ``reset(seed=S)``, the episode that starts automatically after
``k`` episodes is reset with seed ``S + k`` (and every operator's
``reset`` gets the same seed), so any two operators driven from the same
``S`` meet exactly the same episodes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from mosaic_core._arena import Agent, Arena, Transition, coerce_action
from mosaic_core._errors import ProtocolError
from mosaic_core._jsonable import jsonable
from mosaic_core._operator import Operator, agent_seed
from mosaic_core._solo import Seat, Solo

__all__ = ["NOT_GIVEN", "PROTOCOL_VERSION", "Session", "SessionError"]

PROTOCOL_VERSION = 1
RenderMode = Literal["fastlane", "json", "none"]
NOT_GIVEN: Any = object()


class SessionError(ProtocolError):
    """A request the session cannot honour; the server answers it with ``error``."""


class Session:
    """An environment and its operators, stepped one transition at a time.

    ``operators`` maps each agent id to its operator (``None`` is the one
    agent of a single-agent environment). ``arena`` may be None for a
    session that only answers ``select_action``.
    """

    def __init__(
        self,
        arena: Arena | None,
        operators: Mapping[Agent, Operator],
        *,
        run_id: str = "local",
        render: RenderMode = "none",
        fastlane_name: str | None = None,
    ) -> None:
        self.arena = arena
        self.operators = dict(operators)
        self.run_id = run_id
        self.render_mode: RenderMode = render
        self._fastlane_name = fastlane_name
        self._writer: Any = None
        self._started = False
        self._base_seed: int | None = None
        self.episode = 0
        self.episode_seed: int | None = None
        self._reset_counters()
        self._fallback: dict[Agent, Any] = {}
        self._seats: dict[Agent, Seat] = {}
        self._solo: Solo | None = None
        if arena is not None:
            missing = [a for a in (arena.possible_agents or (None,)) if a not in self.operators]
            if missing and None not in self.operators:
                raise ProtocolError(f"no operator for agents {missing}; give one per agent")

    @property
    def multi_agent(self) -> bool:
        return self.arena is not None and self.arena.kind != "single"

    def operator_for(self, agent: Agent) -> Operator:
        operator = self.operators.get(agent) or self.operators.get(None)
        if operator is None:
            known = [a for a in self.operators if a is not None]
            raise SessionError(f"no operator for agent {agent!r}; agents: {known}")
        return operator

    def _reset_counters(self) -> None:
        self.step_index = 0
        self.invalid_actions = 0
        self.episode_reward: dict[Agent, float] = {}

    # -- episodes ------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        """Start a fresh series of episodes; returns the ``ready`` record."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise SessionError(f"reset: seed {seed!r} is not an integer")
        self._base_seed = seed
        self.episode = 0
        self._begin(seed)
        arena = self.arena
        return {
            "protocol": PROTOCOL_VERSION,
            "seed": seed,
            "run_id": self.run_id,
            "env_id": arena.env_id if arena else None,
            "agents": list(arena.possible_agents) if self.multi_agent and arena else None,
            "episode": self.episode,
            "render": self._frame(None),
            **self.upcoming(),
        }

    def _begin(self, seed: int | None) -> None:
        self.episode_seed = seed
        self._reset_counters()
        for operator in {id(op): op for op in self.operators.values()}.values():
            operator.reset(seed)
        if self.arena is None:
            self._started = True
            return
        self.arena.reset(seed)
        self._fallback = {}
        self._started = True
        if self._solo is not None:
            self._solo.look()
        elif self.arena.kind == "single":  # a Gymnasium environment: the loop of its own
            self._solo = Solo(self, self.arena, self._seat(None))

    def _next_episode(self) -> None:
        """Begin the episode after the one that just ended, seeded ``S + k``."""
        self.episode += 1
        self._begin(None if self._base_seed is None else self._base_seed + self.episode)

    def _fallback_action(self, agent: Agent, mask: Any) -> Any:
        space = self._fallback.get(agent)
        if space is None:
            assert self.arena is not None
            space = self._fallback[agent] = copy.deepcopy(self.arena.action_space(agent))
            space.seed(agent_seed(self.episode_seed, agent))
        if mask is not None and hasattr(space, "n"):
            import numpy as np  # an action space is a Gymnasium space: numpy is there

            return space.sample(mask=np.asarray(mask, dtype=np.int8))
        return space.sample()

    def _given(self, agent: Agent, acting: list[Agent], action: Any) -> Any:
        """The action given for ``agent`` in a multi-agent step (NOT_GIVEN: its operator's)."""
        if isinstance(action, Mapping):
            return action.get(agent, NOT_GIVEN) if agent is not None else NOT_GIVEN
        if self.arena is not None and self.arena.kind == "parallel":
            raise SessionError(
                f"step: action {action!r} must map agent ids to actions, such as "
                f'{{"{acting[0]}": 0}}, in a parallel environment'
            )
        return action

    def _seat(self, agent: Agent) -> Seat:
        seat = self._seats.get(agent)
        if seat is None:
            assert self.arena is not None
            operator = self.operators.get(agent) or self.operators.get(None)
            seat = self._seats[agent] = Seat(self.arena.action_space(agent), operator)
        return seat

    def _choose(self, agent: Agent, given: Any, exchanges: dict[Agent, Any]) -> tuple[Any, bool]:
        """The action of ``agent`` and whether the operator's choice was illegal."""
        arena = self.arena
        assert arena is not None
        seat = self._seat(agent)
        info = arena.info(agent)
        mask = info.get("action_mask")
        if given is not NOT_GIVEN:
            return self._checked(agent, seat, given, mask), False
        observation = arena.observation(agent)
        operator = seat.operator if seat.operator is not None else self.operator_for(agent)
        action = operator.select_action(observation, info)
        exchange = getattr(operator, "last_exchange", None)
        if isinstance(exchange, Mapping):
            exchanges[agent] = jsonable(exchange)
        if seat.legal(action, mask):
            return action, False
        return self._repaired(agent, seat, action, mask)

    def _checked(self, agent: Agent, seat: Seat, given: Any, mask: Any) -> Any:
        """An action given by the caller, in its space's form; refused if it is not legal."""
        try:
            action = coerce_action(seat.space, given)
        except (TypeError, ValueError) as exc:
            raise SessionError(f"step: {exc}") from None
        if not seat.legal(action, mask):
            raise SessionError(
                f"step: action {given!r} is not legal for {agent or 'the agent'} "
                f"in {seat.space}" + (" with the current action mask" if mask is not None else "")
            )
        return action

    def _repaired(self, agent: Agent, seat: Seat, action: Any, mask: Any) -> tuple[Any, bool]:
        """An operator's action that failed the check: legal once in its space's form (a JSON
        number for a numpy one), else a seeded random legal action, counted as invalid."""
        try:
            action = coerce_action(seat.space, action)
        except (TypeError, ValueError):
            pass
        else:
            if seat.legal(action, mask):
                return action, False
        return self._fallback_action(agent, mask), True

    def step(
        self, action: Any = NOT_GIVEN, *, render: bool | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """One transition: the ``step`` record, and the ``episode_end`` record if it ended.

        ``action`` overrides the operator: one action for a single-agent or
        AEC environment, ``{agent: action}`` for any subset of a parallel
        environment's agents. An illegal action given here is refused with
        :class:`~mosaic_core._session.SessionError`; an illegal action chosen by an operator is
        counted in ``invalid_actions`` and replaced by a random legal one.
        """
        solo = self._solo  # there only while an episode of a single-agent environment runs
        if solo is not None:
            return solo.step(None if action is NOT_GIVEN else action, render)
        arena = self.arena
        if arena is None:
            raise SessionError("step: this operator was started without an environment (--env)")
        if not self._started:
            raise SessionError('step: no episode yet; send {"cmd": "reset"} first')
        if action is None:
            action = NOT_GIVEN
        record, transition = self._step_many(arena, action, render)
        self.step_index += 1
        if transition.done:
            end = self._episode_end(
                dict(self.episode_reward), dict(transition.terminated), dict(transition.truncated)
            )
            self._next_episode()
        else:
            end = None
        upcoming = self.upcoming()
        if upcoming:
            record.update(upcoming)
        return record, end

    def _step_many(
        self, arena: Arena, action: Any, render: bool | None
    ) -> tuple[dict[str, Any], Transition]:
        """A step of a parallel or AEC environment: every agent to act chooses (or is given)
        its action, and the record holds each agent's reward and end flags."""
        acting = arena.to_act()
        actions: dict[Agent, Any] = {}
        invalid: list[Agent] = []
        exchanges: dict[Agent, Any] = {}
        for agent in acting:
            given = action if action is NOT_GIVEN else self._given(agent, acting, action)
            chosen, illegal = self._choose(agent, given, exchanges)
            actions[agent] = chosen
            if illegal:
                invalid.append(agent)
        transition = arena.step(actions)
        totals = self.episode_reward
        for agent, reward in transition.rewards.items():
            totals[agent] = totals.get(agent, 0.0) + reward
        record: dict[str, Any] = {"step_index": self.step_index}
        if arena.kind == "aec":
            record["agent"] = acting[0]
            record["action"] = jsonable(actions[acting[0]])
        else:
            record["action"] = {a: jsonable(v) for a, v in actions.items()}
        record.update(
            reward=dict(transition.rewards),
            terminated=dict(transition.terminated),
            truncated=dict(transition.truncated),
            episode_reward=dict(totals),
            episode_done=transition.done,
            render=self._frame(render),
        )
        if invalid:
            self.invalid_actions += len(invalid)
            record["invalid_action"] = invalid
        if exchanges:
            record["exchange"] = {str(a): e for a, e in exchanges.items()}
        return record, transition

    def upcoming(self) -> dict[str, Any]:
        """Who acts next and, where the environment restricts them, their legal actions:
        ``to_act`` (agent ids, multi-agent only) and ``legal`` (the legal discrete actions,
        ``{agent: [...]}`` in a multi-agent environment), so that a client seating a person
        knows whose turn it is and which moves to offer."""
        arena = self.arena
        if arena is None or not self._started:
            return {}
        if self._solo is not None:
            return self._solo.upcoming()
        acting = arena.to_act()
        legal = {}
        for agent in acting:
            mask = arena.info(agent).get("action_mask")
            if mask is not None:
                legal[str(agent)] = self._legal(agent, mask)
        out: dict[str, Any] = {"to_act": [str(a) for a in acting]}
        if legal:
            out["legal"] = legal
        return out

    def _legal(self, agent: Agent, mask: Any) -> list[int]:
        start = int(getattr(self._seat(agent).space, "start", 0))
        return [start + i for i, ok in enumerate(jsonable(mask)) if ok]

    def _episode_end(self, total: Any, terminated: Any, truncated: Any) -> dict[str, Any]:
        return {
            "total_reward": total,
            "episode_length": self.step_index,
            "episode": self.episode,
            "seed": self.episode_seed,
            "terminated": terminated,
            "truncated": truncated,
            "invalid_actions": self.invalid_actions,
        }

    # -- frames --------------------------------------------------------------------

    def _frame(self, wanted: bool | None) -> dict[str, Any] | None:
        if self.arena is None or self.render_mode == "none" or wanted is False:
            return None
        if self.arena.render_mode is None:
            return None
        frame = self.arena.render()
        if frame is None:
            return None
        if isinstance(frame, str):
            return {"mode": "ansi", "text": frame}
        shape = getattr(frame, "shape", ())
        if len(shape) != 3:
            return None
        height, width, channels = (int(n) for n in shape)
        if self.render_mode == "json":
            return {"mode": "rgb", "rgb": frame.tolist(), "width": width, "height": height}
        if self._writer is None:
            from mosaic_core._fastlane import FastlaneWriter, segment_name

            name = self._fastlane_name or segment_name(self.run_id)
            self._writer = FastlaneWriter.create(
                name, width=width, height=height, channels=channels
            )
        number = self._writer.publish(frame)
        return {
            "fastlane": self._writer.name,
            "frame": number,
            "width": width,
            "height": height,
            "channels": channels,
        }

    @property
    def fastlane_name(self) -> str | None:
        return self._writer.name if self._writer is not None else None

    # -- actions without stepping ----------------------------------------------------

    def select_action(
        self,
        observation: Any,
        info: Mapping[str, Any] | None = None,
        action_mask: Any = None,
        agent: Agent = None,
    ) -> Any:
        """Ask an operator for an action on an observation the caller owns."""
        if agent is None and self.multi_agent and len(self.operators) > 1:
            raise SessionError(
                'select_action: name the agent ("agent": ...) in a multi-agent session; '
                f"agents: {[a for a in self.operators if a is not None]}"
            )
        operator = self.operator_for(agent)
        details = dict(info or {})
        if action_mask is not None:
            details["action_mask"] = action_mask
        if self.arena is not None:
            space = self.arena.observation_space(agent if self.multi_agent else None)
            if getattr(space, "shape", None) and getattr(space, "dtype", None) is not None:
                try:
                    observation = coerce_action(space, observation)
                except (TypeError, ValueError) as exc:
                    raise SessionError(f"select_action: observation: {exc}") from None
        return jsonable(operator.select_action(observation, details))

    def close(self) -> None:
        """Close the operators, the environment and the frame ring. Idempotent."""
        operators, self.operators = self.operators, {}
        for operator in {id(op): op for op in operators.values()}.values():
            operator.close()
        if self.arena is not None:
            arena, self.arena = self.arena, None
            self._solo = None
            arena.close()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
        self._started = False
