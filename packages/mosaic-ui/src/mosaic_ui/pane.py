"""One pane of the operators page: an operator process on the session's task, driven by a task.

Every pane has its own process (``mosaic_core.operator_main``) serving its
seats, and its own asyncio task that alone talks to it: commands from the
browser (step, reset, a person's action) queue up for that task, and while
the session runs the task steps at the session's pace. A person's seat is
served by the process's ``random`` operator but never asked: the pane always
gives that seat's action itself, so the pane waits while it is a person's
turn. A process that dies fails its pane only, with its reason.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mosaic_ui.operator_proc import OperatorGone, OperatorProcess, OperatorRefused

__all__ = ["Pane", "Seat"]

Agent = str | None
#: A pane keeps at most this many bytes of frames for its GIF (the episode's start, if longer).
GIF_BYTES = 96 << 20


class Seat:
    """An agent's operator: an operator spec, or ``human`` (a person in the browser)."""

    def __init__(self, agent: Agent, spec: str, python: str | None = None) -> None:
        self.agent, self.spec = agent, spec.strip()
        #: The interpreter this seat's operator needs (a ``mosaic env``'s), None for any:
        #: a built-in, or a worker installed beside the server.
        self.python = python

    @property
    def human(self) -> bool:
        return self.spec == "human"

    def argument(self) -> str:
        spec = "random" if self.human else self.spec
        return spec if self.agent is None else f"{self.agent}={spec}"

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "spec": self.spec, "human": self.human,
                "python": self.python}  # fmt: skip


class Pane:
    """One operator line-up on the session's task; its state is what the page shows."""

    def __init__(
        self, index: int, seats: Sequence[Seat], stepping: str, noop: int | None,
        notify: Callable[[], None],
    ) -> None:  # fmt: skip
        self.index, self.seats, self.stepping, self.noop = index, list(seats), stepping, noop
        self.humans = {s.agent for s in self.seats if s.human}
        #: The pane's one operator process runs in its seats' interpreter, or the server's.
        self.python = next((s.python for s in self.seats if s.python), None)
        self.notify = notify
        self.status = "starting"
        self.error: str | None = None
        self.notice: str | None = None
        self.proc: OperatorProcess | None = None
        self.commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.pending: dict[Agent, Any] = {}
        self.to_act: list[Agent] = [None] if stepping == "single" else []
        self.legal: dict[Agent, list[Any]] = {}
        self.steps = self.episode_steps = self.episodes = self.invalid = 0
        self.episode_return: Any = 0.0
        self.results: list[dict[str, Any]] = []
        self.actions: list[Any] = []  # this episode's actions, as the process reported them
        self.last_agent: Agent = None
        self.text: str | None = None
        self.frame: tuple[int, Any, float, int] | None = None  # number, rgb, stepped ms, step
        self.frame_count = 0
        self._times: collections.deque[float] = collections.deque(maxlen=240)
        self._reader: Any = None
        self._ring = ""
        self._last_step = 0.0
        self.task: asyncio.Task[None] | None = None
        self.seed: int | None = None
        #: The first episode's frames, kept for a GIF when the session records one.
        self.gif: list[Any] | None = None
        self._gif_bytes = 0
        #: Each seat's operator's last exchange (an LLM's prompt and reply), by agent.
        self.exchanges: dict[str, Any] = {}
        #: A recorded episode's actions: the pane replays them instead of asking anyone.
        self.script: list[Any] | None = None

    # -- what the page sees ----------------------------------------------------------

    @property
    def fps(self) -> float:
        now = time.monotonic()
        recent = [t for t in self._times if now - t <= 1.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    @property
    def waiting_for(self) -> Agent | None:
        """The person whose action the next step needs, if any (``""`` for one agent)."""
        for agent in self._needed():
            if agent not in self.pending:
                return agent if agent is not None else ""
        return None

    @property
    def replayed(self) -> bool:
        """A replay that has played its whole episode."""
        return self.script is not None and (
            self.episodes > 0 or self.episode_steps >= len(self.script)
        )

    def state(self) -> dict[str, Any]:
        waiting = self.waiting_for
        return {
            "index": self.index, "status": self.status, "error": self.error,
            "notice": self.notice, "seats": [s.to_dict() for s in self.seats],
            "pid": self.proc.pid if self.proc else None, "steps": self.steps,
            "episode_steps": self.episode_steps, "episodes": self.episodes,
            "return": self.episode_return, "invalid": self.invalid, "fps": round(self.fps, 1),
            "to_act": self.to_act, "legal": {str(k): v for k, v in self.legal.items()},
            "waiting_for": waiting, "last_agent": self.last_agent, "text": self.text,
            "results": [{k: v for k, v in r.items() if k != "actions"} for r in self.results[-50:]],
            "actions": self.actions[-500:],
            "frames": self.frame_count, "seed": self.seed, "replay": self.script is not None,
            "replayed": self.replayed, "exchanges": self.exchanges,
        }  # fmt: skip

    # -- the pane's task -------------------------------------------------------------

    def start(self, argv: Sequence[str], environ: Mapping[str, str], seed: int | None,
              clock: Callable[[], tuple[bool, float]]) -> None:  # fmt: skip
        """``clock()`` says whether the session runs and its step interval in seconds."""
        self.seed = seed
        self.task = asyncio.get_running_loop().create_task(self._run(argv, environ, seed, clock))

    async def _run(self, argv: Sequence[str], environ: Mapping[str, str], seed: int | None,
                   clock: Callable[[], tuple[bool, float]]) -> None:  # fmt: skip
        try:
            self.proc = await OperatorProcess.start(argv, environ)
            await self._reset(seed)
            while True:
                running, interval = clock()
                command: tuple[Any, ...] | None = None
                if not self.commands.empty():
                    command = self.commands.get_nowait()
                elif running and self.waiting_for is None and not self.replayed:
                    due = self._last_step + interval - time.monotonic()
                    if due > 0:
                        with contextlib.suppress(asyncio.TimeoutError):
                            command = await asyncio.wait_for(self.commands.get(), due)
                    if command is None:
                        await self._step()
                        await asyncio.sleep(0)  # the sender and the others get their turn
                        continue
                else:
                    command = await self.commands.get()
                if command[0] == "stop":
                    break
                await self._handle(command, running)
        except (OperatorGone, OperatorRefused) as exc:
            self._fail(str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the pane fails, the server goes on
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            await self._close()

    async def _handle(self, command: tuple[Any, ...], running: bool) -> None:
        kind = command[0]
        if kind == "reset":
            await self._reset(command[1])
        elif kind == "step":
            if self.replayed:
                self.notice = "the recorded episode has ended; Reset replays it again"
                self.notify()
            elif self.waiting_for is None:
                await self._step()
            else:
                self.notice = "waiting for a person's move"
                self.notify()
        elif kind == "human":
            agent, action = command[1], command[2]
            self.pending[agent] = action
            # A turn-taking game or one agent: the move is the step. Several agents acting
            # together while running: the move waits for the next tick with the others'.
            if self.waiting_for is None and (self.stepping != "parallel" or not running):
                await self._step()
            else:
                self.notify()
        # "wake": the loop looks at the clock again

    def _needed(self) -> list[Agent]:
        if self.stepping == "parallel":
            return [a for a in self.to_act if a in self.humans and self.noop is None]
        return [a for a in self.to_act[:1] if a in self.humans]

    def _action(self) -> Any:
        if self.script is not None:
            return self.script[self.episode_steps]
        if self.stepping == "parallel":
            given = {a: self.pending.pop(a, self.noop) for a in self.to_act if a in self.humans}
            return {str(a): v for a, v in given.items() if v is not None} or None
        agent = self.to_act[0] if self.to_act else None
        return self.pending.pop(agent) if agent in self.humans else None

    async def _reset(self, seed: int | None) -> None:
        assert self.proc is not None
        self.pending.clear()
        ready = await self.proc.call("reset", seed=seed)
        self.steps = self.episode_steps = self.episodes = self.invalid = 0
        self.results, self.actions = [], []
        self.episode_return = 0.0
        self._follow(ready)
        self.status = "ready"
        self.notify()

    async def _step(self) -> None:
        assert self.proc is not None
        fields: dict[str, Any] = {}
        action = self._action()
        if action is not None:
            fields["action"] = action
        record = await self.proc.call("step", **fields)
        now = time.monotonic()
        self._last_step = now
        self._times.append(now)
        self.steps += 1
        self.episode_steps += 1
        self.notice = None
        self.last_agent = record.get("agent")
        exchange = record.get("exchange")
        if isinstance(exchange, dict):
            multi = self.stepping != "single"
            self.exchanges.update(exchange if multi else {"": exchange})
        self.actions.append(record.get("action"))
        if record.get("invalid_action"):
            self.invalid += 1
        self.episode_return = record.get("episode_reward", 0.0)
        end = record.get("episode_end")
        if end is not None:
            self.episodes += 1
            self.episode_steps = 0
            self.results.append({
                "episode": end.get("episode"), "seed": end.get("seed"),
                "return": end.get("total_reward"), "length": end.get("episode_length"),
                "invalid_actions": end.get("invalid_actions", 0), "actions": self.actions,
            })  # fmt: skip
            self.actions = []
            self.episode_return = 0.0
        self._follow(record)
        self.status = "running"
        self.notify()

    def _follow(self, record: Mapping[str, Any]) -> None:
        """Who acts next, what is legal, and the frame the record points at."""
        if self.stepping != "single":
            self.to_act = list(record.get("to_act") or [])
        legal = record.get("legal")
        if isinstance(legal, dict):
            self.legal = dict(legal.items())
        elif isinstance(legal, list):
            self.legal = {None: legal}
        else:
            self.legal = {}
        render = record.get("render")
        if not isinstance(render, dict):
            return
        if render.get("mode") == "ansi":
            self.text = str(render.get("text"))
            return
        ring = render.get("fastlane")
        if not isinstance(ring, str):
            return
        from mosaic_core.operators import FastlaneReader

        if self._reader is None or ring != self._ring:
            self._close_reader()
            self._reader, self._ring = FastlaneReader(ring), ring
        frame = self._reader.read(int(render["frame"])) or self._reader.latest()
        if frame is not None:
            self.frame_count += 1
            stepped = time.time() * 1000.0
            self.frame = (self.frame_count, frame.to_array(), stepped, self.steps)
            if self.gif is not None and self.episodes == 0 and self._gif_bytes < GIF_BYTES:
                self.gif.append(frame)
                self._gif_bytes += len(frame.pixels)

    def _fail(self, reason: str) -> None:
        self.status, self.error = "failed", reason
        self.notify()

    def _close_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(Exception):
                self._reader.close()
            self._reader = None

    async def _close(self) -> None:
        self._close_reader()
        if self.proc is not None:
            await self.proc.close()
        if self.status != "failed":
            self.status = "stopped"
        self.notify()

    def submit(self, *command: Any) -> None:
        if self.task is not None and not self.task.done():
            self.commands.put_nowait(command)
