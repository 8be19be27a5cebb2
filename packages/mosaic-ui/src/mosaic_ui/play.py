"""Play sessions: panes side by side on one task and seed, each recorded as an eval run.

A session is made from ``{"task", "settings", "seed", "panes": [{"seats": {AGENT: SPEC}}]}``:
the task comes from the environment families, every seat's spec is checked
as ``mosaic eval`` checks it (a bad one is a 422 naming it and nothing
starts), then every pane starts its operator process: with the server's
Python, or with the ``mosaic env`` its seats' worker is installed in (an
LLM worker or a run made in another environment; one pane, one Python). The session's clock
(running or paused, and the pace) is shared; Reset gives every pane the same
seed, so the panes meet the same episodes. When the session is closed its
episodes are written to the run store as a run of worker type ``eval``, with
one ``metrics`` event per pane and episode and the report as its summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mosaic_core import ConfigError
from mosaic_ui.pane import Pane, Seat

if TYPE_CHECKING:
    from mosaic_core.operators import OperatorSpec

__all__ = ["PlayManager", "PlaySession"]

MAX_PANES = 6
MAX_SESSIONS = 8


def check_seat(text: Any, store: Any) -> OperatorSpec:
    """A spec the browser may name: a built-in, a run of this store or an LLM endpoint,
    resolved (its ``python`` is the ``mosaic env`` its operator must run in, if any)."""
    import pathlib

    from mosaic_core.operators import parse_operator_spec

    if not isinstance(text, str) or not text.strip():
        raise ConfigError.bad_value("seat", text, "an operator spec such as 'random' or 'human'")
    spec = parse_operator_spec(text.strip(), store)
    if spec.checkpoint is not None and spec.run_id is None:
        runs = pathlib.Path(store.runs_dir).resolve()
        if not pathlib.Path(spec.checkpoint).resolve().is_relative_to(runs):
            raise ConfigError.bad_value("seat", text, "a run of this store, not a path")
    return spec


class PlaySession:
    """Panes on one task; the shared clock; the recording."""

    def __init__(self, session_id: str, task: Mapping[str, Any], seed: int | None,
                 panes: list[list[Seat]], home: str) -> None:  # fmt: skip
        self.id, self.task, self.seed, self.home = session_id, dict(task), seed, home
        self.running = False
        self.pace = 10.0  # steps per second; 0 for as fast as the operators go
        self.created = time.time()
        self.listeners: set[asyncio.Event] = set()
        key_map = self.task.get("key_map") or {}
        noop = key_map.get("noop")
        stepping = str(self.task.get("stepping", "single"))
        self.panes = [Pane(i, seats, stepping, noop, self.notify) for i, seats in enumerate(panes)]
        self.version = 0
        self.run_id: str | None = None

    def notify(self) -> None:
        self.version += 1
        for event in list(self.listeners):
            event.set()

    def clock(self) -> tuple[bool, float]:
        return self.running, 1.0 / self.pace if self.pace > 0 else 0.0

    def start(self) -> None:
        from mosaic_core.operators.client import operator_command

        environ = dict(os.environ, MOSAIC_HOME=self.home, SDL_VIDEODRIVER="dummy",
                       SDL_AUDIODRIVER="dummy", PYTHONUNBUFFERED="1")  # fmt: skip
        for pane in self.panes:
            specs = [s.argument() for s in pane.seats]
            run_id = f"ui{self.id}p{pane.index}"
            chosen = self.task.get("chosen_settings") or {}
            extra = [f"--setting={name}={json.dumps(value)}" for name, value in chosen.items()]
            argv = operator_command(
                specs,
                self.task["id"],
                python=pane.python or sys.executable,
                run_id=run_id,
                extra=extra,
            )
            pane.start(argv, environ, self.seed, self.clock)

    def control(self, cmd: str, *, seed: Any = None, pace: Any = None, pane: Any = None) -> None:
        """``run``, ``pause``, ``step``, ``reset`` (every pane on ``seed``, or only pane
        ``pane`` on its own seed), ``pace``."""
        if pace is not None:
            if (
                isinstance(pace, bool)
                or not isinstance(pace, (int, float))
                or not 0 <= pace <= 1000
            ):
                raise ConfigError.bad_value("pace", pace, "steps per second from 0 to 1000")
            self.pace = float(pace)
        if cmd == "run":
            self.running = True
        elif cmd == "pause":
            self.running = False
        elif cmd == "reset":
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise ConfigError.bad_value("seed", seed, "an integer")
            if pane is not None:
                if isinstance(pane, bool) or not isinstance(pane, int):
                    raise ConfigError.bad_value("pane", pane, "a pane's index")
                if not 0 <= pane < len(self.panes):
                    raise ConfigError.bad_value("pane", pane, f"0 to {len(self.panes) - 1}")
                chosen = seed if seed is not None else self.seed
                self.panes[pane].seed = chosen
                self.panes[pane].submit("reset", chosen)
            else:
                self.seed = seed if seed is not None else self.seed
                self.running = False
                for each in self.panes:
                    each.seed = self.seed
                    each.submit("reset", self.seed)
        elif cmd == "step":
            self.running = False
            for each in self.panes:
                each.submit("step")
        elif cmd != "pace":
            raise ConfigError.bad_value("cmd", cmd, "run, pause, step, reset or pace")
        for each in self.panes:
            each.submit("wake")
        self.notify()

    def human(self, pane_index: Any, agent: Any, *, key: Any = None, action: Any = None) -> str:
        """A person's key or chosen move for ``agent`` (default: the person whose turn it is)
        in pane ``pane_index``; returns what was done, or raises ConfigError saying why not."""
        if not isinstance(pane_index, int) or not 0 <= pane_index < len(self.panes):
            raise ConfigError.bad_value("pane", pane_index, f"0 to {len(self.panes) - 1}")
        pane = self.panes[pane_index]
        if not pane.humans:
            raise ConfigError(f"pane {pane_index} has no person's seat", field="pane")
        if agent is None:
            waiting = pane.waiting_for
            agent = (waiting or None) if waiting is not None else sorted(
                pane.humans, key=lambda a: a or "")[0]  # fmt: skip
        if agent not in pane.humans:
            raise ConfigError.bad_value(
                "agent", agent, f"a person's seat: {sorted(map(str, pane.humans))}"
            )
        if key is not None:
            keys = (self.task.get("key_map") or {}).get("keys") or {}
            action = keys.get(key) if isinstance(key, str) else None
            if action is None and isinstance(key, str) and len(key) == 1:
                action = keys.get(key.lower())
            if action is None:
                raise ConfigError.bad_value("key", key, "one of " + " ".join(keys))
        if isinstance(action, bool) or not isinstance(action, int):
            raise ConfigError.bad_value("action", action, "an action number")
        legal = pane.legal.get(agent)
        if legal is not None and agent in pane.to_act[:1] and action not in legal:
            raise ConfigError.bad_value("action", action, f"a legal move now: {legal}")
        pane.submit("human", agent, action)
        return f"{agent or 'agent'}: {action}"

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id, "task": self.task, "seed": self.seed, "running": self.running,
            "pace": self.pace, "panes": [p.state() for p in self.panes], "run_id": self.run_id,
        }  # fmt: skip

    async def close(self) -> None:
        self.running = False
        for pane in self.panes:
            pane.submit("stop")
        tasks = [p.task for p in self.panes if p.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=15)
        await asyncio.to_thread(self.record)

    def record(self) -> str | None:
        """The session's episodes as an eval run of the store; its id (None without any, and
        for a replay, which adds nothing)."""
        if self.task.get("replay") or not any(p.results or p.steps for p in self.panes):
            return self.run_id
        if self.run_id is not None:
            return self.run_id
        from mosaic_core import TelemetryEmitter
        from mosaic_core.runs import RunStore

        store = RunStore(self.home)
        try:
            run_id = _new_id()
            labels = [pane_label(p) for p in self.panes]
            config = {"env_id": self.task["id"], "algorithm": "eval", "seed": self.seed,
                      "operators": labels, "episodes": max(len(p.results) for p in self.panes),
                      "source": "mosaic ui"}  # fmt: skip
            run_dir = store.create_run(run_id, "eval", config, python=sys.executable)
            store.update(run_id, status="running", started_at=self.created)
            with open(run_dir / "events.jsonl", "ab") as events:
                emitter = TelemetryEmitter(run_id, stream=events)
                emitter.run_started(worker_type="eval", algorithm="eval", env_id=self.task["id"],
                                    seed=self.seed, operators=labels)  # fmt: skip
                for pane, label in zip(self.panes, labels, strict=True):
                    for result in pane.results:
                        values = _episode_metrics(label, result)
                        emitter.metrics(int(result["episode"] or 0), values)
                report = {"operators": [pane_report(p, label) for p, label in
                                        zip(self.panes, labels, strict=True)]}  # fmt: skip
                for pane, entry in zip(self.panes, report["operators"], strict=True):
                    if pane.gif:
                        from mosaic_core.operators import write_gif

                        path = run_dir / "videos" / f"pane{pane.index}-episode0.gif"
                        entry["recordings"] = [write_gif(pane.gif, path)]
                        pane.gif = []
                emitter.run_completed(report)
            store.catch_up(run_id, final=True)
            store.update(run_id, status="completed", ended_at=time.time())
            self.run_id = run_id
            return run_id
        finally:
            store.close()


def _new_id() -> str:
    from mosaic_core.runs import new_run_id

    return str(new_run_id())


def pane_label(pane: Pane) -> str:
    return ", ".join(s.argument().replace("=random", "=human") if s.human else s.argument()
                     for s in pane.seats) if pane.seats else "?"  # fmt: skip


def _episode_metrics(label: str, result: Mapping[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {f"{label}/episode_length": float(result["length"] or 0)}
    total = result["return"]
    if isinstance(total, dict):
        for agent, value in total.items():
            values[f"{label}/{agent}/episodic_return"] = float(value)
    else:
        values[f"{label}/episodic_return"] = float(total or 0.0)
    return values


def pane_report(pane: Pane, label: str) -> dict[str, Any]:
    returns = [r["return"] for r in pane.results]
    single = [float(r) for r in returns if not isinstance(r, dict)]
    mean = sum(single) / len(single) if single else None
    return {
        "operator": label, "episodes": len(pane.results), "mean_return": mean,
        "steps": pane.steps, "invalid_actions": pane.invalid, "error": pane.error,
        "episode_results": pane.results,
    }  # fmt: skip


class PlayManager:
    """The server's play sessions, by id."""

    def __init__(self) -> None:
        self.sessions: dict[str, PlaySession] = {}

    def get(self, session_id: str) -> PlaySession:
        from mosaic_ui.http import ApiError

        found = self.sessions.get(session_id)
        if found is None:
            raise ApiError(404, f"no play session {session_id!r}")
        return found

    def add(self, session: PlaySession) -> None:
        from mosaic_ui.http import ApiError

        if len(self.sessions) >= MAX_SESSIONS:
            raise ApiError(409, f"{MAX_SESSIONS} play sessions are open; stop one first")
        self.sessions[session.id] = session
        session.start()

    async def remove(self, session_id: str) -> PlaySession:
        session = self.get(session_id)
        del self.sessions[session_id]
        await session.close()
        return session

    async def close(self) -> None:
        for session_id in list(self.sessions):
            await self.remove(session_id)
