"""The operators every install has: ``random`` and ``human``."""

from __future__ import annotations

import contextlib
import json
import operator
import sys
from collections.abc import Iterator, Mapping
from typing import IO, Any

from mosaic_core._errors import ProtocolError
from mosaic_core._families import KeyMap
from mosaic_core._operator import OperatorContext, action_mask_of, agent_seed, need_space, require
from mosaic_core.operators.terminal import key_name, read_key, terminal_key

__all__ = ["BUILTIN", "HumanOperator", "RandomOperator", "legal_actions_of"]


#: Unmasked picks a random operator draws from its generator at once (see RandomOperator).
BATCH = 256


class RandomOperator:
    """Uniformly random legal actions, reproducible per episode seed.

    An unmasked pick from a ``Discrete`` space is the number ``Discrete.sample()``
    draws (the same numbers from the same seed, the same type) without its
    checks: ``start + integers(n)`` of the space's generator, reseeded at every
    seeded ``reset``. A session asks at every step, and a call to numpy's
    ``integers`` costs ~1.5 us however many numbers it draws, so the picks are
    drawn ``BATCH`` at a time: for 32- and 64-bit dtypes, ``integers(n,
    size=k)`` gives the very numbers of ``k`` calls to ``integers(n)``, one
    32-bit draw each (the tests hold the picks against ``sample()``; 8- and
    16-bit dtypes share draws in a batch, so they are drawn one at a time). Any
    other draw (masked, or from a list of legal actions) first puts the
    generator back where the picks taken so far leave it, and the unmasked
    picks after it are drawn one at a time until the next ``reset``: an
    environment that masks only some steps would otherwise pay for a batch and
    a rewind at every switch. The rewind goes back to the generator's state
    read before the batch or, for the first batch after a seeded ``reset``, to
    the seed itself (reading the state would cost ~1.2 us every episode).
    """

    def __init__(self, context: OperatorContext) -> None:
        self._space = need_space(context, "random")
        self._np = require("numpy", "the random operator")
        self._agent = context.agent
        space = self._space
        self._batchable = type(space).__name__ == "Discrete" and space.dtype.itemsize >= 4
        if self._batchable:  # start + a number of start's type is that number when start is 0
            start, self._n, self._dtype = space.start, space.n, space.dtype.type
            self._start = None if start == 0 and type(start) is self._dtype else start
        self._batching = self._batchable
        self._picks: Iterator[Any] = iter(())  # what is left of the batch
        self._before: Any = None  # the generator before the batch: its state, or its seed
        self._fresh: int | None = None  # the seed of a generator not drawn from yet
        self._seeded = True  # a reset(None) after this draws fresh entropy

    def reset(self, seed: int | None = None) -> None:
        seed = agent_seed(seed, self._agent)
        if seed is not None or self._seeded:  # unseeded already: the stream goes on
            self._space.seed(seed)
            self._seeded = seed is not None
            self._picks, self._before = iter(()), None  # drawn from the stream replaced
            self._fresh = seed
        self._batching = self._batchable

    def select_action(self, observation: Any, info: Mapping[str, Any]) -> Any:
        if info:  # most environments give none: no list to look for
            legal = legal_actions_of(info)
            if legal:  # actions a mask cannot list, such as a text game's commands
                return legal[int(self._generator().integers(len(legal)))]
        mask = action_mask_of(observation, info)
        if mask is not None and hasattr(self._space, "n"):
            self._generator()
            return self._space.sample(mask=self._np.asarray(mask, dtype=self._np.int8))
        if self._batching:
            drawn = next(self._picks, None)
            if drawn is None:
                drawn = self._batch()
            return drawn if self._start is None else self._start + drawn
        return self._space.sample()

    def _batch(self) -> Any:
        """The first of ``BATCH`` new picks."""
        generator = self._space.np_random
        fresh, self._fresh = self._fresh, None
        self._before = generator.bit_generator.state if fresh is None else fresh
        self._picks = iter(generator.integers(self._n, size=BATCH, dtype=self._dtype))
        return next(self._picks)

    def _generator(self) -> Any:
        """The space's generator, where the picks taken from the batch leave it."""
        generator, before, self._fresh = self._space.np_random, self._before, None
        if before is not None:
            taken = BATCH - operator.length_hint(self._picks)
            if isinstance(before, dict):
                generator.bit_generator.state = before
            else:  # the seed of the generator the batch was drawn from
                self._space.seed(before)
                generator = self._space.np_random
            generator.integers(self._n, size=taken, dtype=self._dtype)  # the same draws again
            self._picks, self._before, self._batching = iter(()), None, False
        return generator

    def close(self) -> None:
        return None


def legal_actions_of(info: Mapping[str, Any] | None) -> list[Any] | None:
    """``info["legal_actions"]``: the legal actions themselves, for spaces (text) that an
    action mask cannot describe; None when the environment gives no such list."""
    legal = info.get("legal_actions") if info else None
    return list(legal) if isinstance(legal, (list, tuple)) else None


class HumanOperator:
    """Actions typed at a terminal: a key of the task's key map, a number, an action's name,
    a text command, or ``r`` for a random one.

    With a key map (:class:`~mosaic_core.KeyMap`, from the task's environment
    family) a person presses the family's keys, then Enter: arrow keys, a
    letter, Space, or Enter alone. Text observations (a text game) are
    shown before each prompt, with the legal commands. It reads
    ``/dev/tty`` when there is one (standard input may be the step
    protocol's channel), else standard input; ``input``/``output`` replace
    both, for tests and front ends.
    """

    def __init__(
        self,
        context: OperatorContext,
        *,
        input: IO[str] | None = None,
        output: IO[str] | None = None,
        keys_at_once: bool | None = None,
    ) -> None:
        self._space = need_space(context, "human")
        self._np = require("numpy", "the human operator")
        self._agent = context.agent
        self._keys: KeyMap | None = context.key_map
        names = context.action_meanings or (self._keys.labels if self._keys else ())
        self._meanings = tuple(m.lower() for m in names)
        self._names = tuple(names)
        self._own: IO[str] | None = None
        if input is None or output is None:
            with contextlib.suppress(OSError):
                self._own = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115
        self._in = input or self._own or sys.stdin
        self._out = output or self._own or sys.stderr
        # On a terminal, with a key map, a key acts when pressed (no Enter), where the
        # terminal allows it; elsewhere a line is read.
        if keys_at_once is None:
            keys_at_once = self._keys is not None and _is_terminal(self._in)
        self._at_once = keys_at_once and self._keys is not None

    def reset(self, seed: int | None = None) -> None:
        self._space.seed(agent_seed(seed, self._agent))

    def _prompt(self, mask: Any, legal: list[Any] | None) -> str:
        who = f" for {self._agent}" if self._agent else ""
        space = self._space
        if legal is not None:
            return f"command{who} (a number below, or any text; r=random): "
        if hasattr(space, "n"):
            start = int(getattr(space, "start", 0))
            allowed = [start + i for i in range(int(space.n)) if mask is None or mask[i]]
            if self._keys is not None:
                shown = [
                    f"{'/'.join(self._keys.keys_for(a))}={self._keys.label(a)}"
                    for a in allowed
                    if self._keys.keys_for(a)
                ]
                return f"key{who} [{' '.join(shown)}; r=random]: "
            named = [f"{a}={self._names[a - start]}" if self._names else str(a) for a in allowed]
            return f"action{who} [{' '.join(named)}; r=random]: "
        return f"action{who} ({space}; numbers separated by spaces, r=random): "

    def _show(self, observation: Any, legal: list[Any] | None) -> None:
        if isinstance(observation, str):
            self._out.write(observation.rstrip() + "\n")
        elif isinstance(observation, dict) and isinstance(observation.get("mission"), str):
            self._out.write(f"mission: {observation['mission']}\n")
        for number, action in enumerate(legal or ()):
            self._out.write(f"  {number}: {action}\n")

    def select_action(self, observation: Any, info: Mapping[str, Any]) -> Any:
        mask = action_mask_of(observation, info)
        legal = legal_actions_of(info)
        self._show(observation, legal)
        at_once = self._at_once and legal is None
        while True:
            self._out.write(self._prompt(mask, legal))
            self._out.flush()
            line = read_key(self._in) if at_once else self._in.readline()
            if not line:
                raise ProtocolError("human operator: the terminal closed (end of input)")
            try:
                if at_once:
                    self._out.write(f"{key_name(line)}\n")
                    return self._pressed(line, mask)
                return self._parse(line.rstrip("\r\n"), mask, legal)
            except ValueError as exc:
                self._out.write(f"  {exc}\n")

    def _pressed(self, key: str, mask: Any) -> Any:
        """The action of one key pressed on a terminal in key-at-once mode."""
        assert self._keys is not None
        name = key_name(key)
        action = self._keys.action_for(name)
        if action is not None:
            return self._legal(action, mask)
        if name.lower() == "r":
            return self._random(mask, None)
        raise ValueError(f"{name} does nothing here; press one of the keys above, or r")

    def _random(self, mask: Any, legal: list[Any] | None) -> Any:
        np, space = self._np, self._space
        if legal:
            return legal[int(space.np_random.integers(len(legal)))]
        if mask is not None and hasattr(space, "n"):
            return space.sample(mask=np.asarray(mask, dtype=np.int8))
        return space.sample()

    def _parse(self, raw: str, mask: Any, legal: list[Any] | None) -> Any:
        text = raw.strip()
        bound = self._keys is not None and self._keys.action_for(text) is not None
        if text.lower() == "random" or (text.lower() == "r" and not bound):
            return self._random(mask, legal)
        if legal is not None:
            if text.isdigit() and int(text) < len(legal):
                return legal[int(text)]
            if not text:
                raise ValueError("type a command, or the number of one")
            return text
        if self._keys is not None:
            key = terminal_key(raw)
            action = self._keys.action_for(key) if key is not None else None
            if action is not None:
                return self._legal(action, mask)
        return self._typed(text, mask)

    def _legal(self, action: int, mask: Any) -> int:
        space = self._space
        start = int(getattr(space, "start", 0))
        if not space.contains(action) or (mask is not None and not mask[action - start]):
            label = f" ({self._keys.label(action)})" if self._keys is not None else ""
            raise ValueError(f"{action}{label} is not a legal action now")
        return action

    def _typed(self, text: str, mask: Any) -> Any:
        np, space = self._np, self._space
        if hasattr(space, "n"):
            start = int(getattr(space, "start", 0))
            if text.lower() in self._meanings:
                return self._legal(start + self._meanings.index(text.lower()), mask)
            try:
                return self._legal(int(text), mask)
            except ValueError as exc:
                if text.lstrip("-").isdigit():
                    raise
                what = (
                    "a key, an action number or a name"
                    if self._keys
                    else "an action number or name"
                )
                raise ValueError(f"{text!r} is not {what}") from exc
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


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


BUILTIN: Mapping[str, type[RandomOperator] | type[HumanOperator]] = {
    "random": RandomOperator,
    "human": HumanOperator,
}
