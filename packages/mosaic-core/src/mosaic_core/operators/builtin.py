"""The operators every install has: ``random`` and ``human``."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Mapping
from typing import IO, Any

from mosaic_core._errors import ProtocolError
from mosaic_core._operator import OperatorContext, action_mask_of, agent_seed, need_space, require

__all__ = ["BUILTIN", "HumanOperator", "RandomOperator"]


class RandomOperator:
    """Uniformly random legal actions, reproducible per episode seed."""

    def __init__(self, context: OperatorContext) -> None:
        self._space = need_space(context, "random")
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
        self._space = need_space(context, "human")
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
