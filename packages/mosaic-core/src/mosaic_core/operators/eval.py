"""Evaluating operators side by side on the same seeded episodes (``mosaic eval``).

Every operator plays ``episodes`` episodes; episode ``k`` is reset with
seed ``seed + k`` for all of them (see :mod:`mosaic_core._session`), so
their returns are comparable episode by episode. An operator runs in this
process when it can, or in its own operator process
(:class:`~mosaic_core.operators.client.OperatorClient`) when it must: with
``parallel``, or when its worker lives in another environment's Python.
Recording renders the first ``record_episodes`` episodes into fastlane and
writes each as a GIF.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import pathlib
import re
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from mosaic_core._errors import ConfigError, MosaicError, did_you_mean
from mosaic_core._fastlane import FastlaneReader, Frame, segment_name
from mosaic_core._operator import OperatorContext
from mosaic_core.operators.specs import OperatorSpec, build_operator

__all__ = ["ContenderResult", "EpisodeResult", "evaluate", "write_gif"]

OnEpisode = Callable[["ContenderResult", "EpisodeResult"], None]
_PIPELINE = 32
_PIPELINE_RECORDING = 4  # below the ring's capacity, so no recorded frame is overwritten unread


@attrs.frozen
class EpisodeResult:
    episode: int
    seed: int | None
    total_reward: float | dict[str, float]
    length: int
    invalid_actions: int

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.define
class ContenderResult:
    """One operator's episodes, and what went wrong if it could not finish them."""

    index: int
    spec: OperatorSpec
    #: The spec as given, made unique (``random#2``) when one spec is evaluated twice.
    label: str = ""
    episodes: list[EpisodeResult] = attrs.field(factory=list)
    seconds: float = 0.0
    error: str | None = None
    recordings: list[str] = attrs.field(factory=list)
    where: str = "in-process"
    #: Agents seated with another operator (``--seat AGENT=SPEC``); this one plays the rest.
    seats: dict[str, OperatorSpec] = attrs.field(factory=dict)

    @property
    def steps(self) -> int:
        return sum(e.length for e in self.episodes)

    def returns(self) -> dict[str | None, list[float]]:
        """Episode returns per agent (``None`` for a single-agent environment)."""
        out: dict[str | None, list[float]] = {}
        for episode in self.episodes:
            total = episode.total_reward
            items = total.items() if isinstance(total, dict) else [(None, total)]
            for agent, value in items:
                out.setdefault(agent, []).append(float(value))
        return out

    def summary(self) -> dict[str, Any]:
        stats = {
            agent: {"mean": _mean(values), "std": _std(values)}
            for agent, values in self.returns().items()
        }
        single = stats.get(None)
        return {
            "operator": self.label,
            "seats": {agent: spec.text for agent, spec in self.seats.items()} or None,
            "worker": None if self.spec.builtin else self.spec.name,
            "run_id": self.spec.run_id,
            "where": self.where,
            "episodes": len(self.episodes),
            "mean_return": single["mean"] if single else None,
            "std_return": single["std"] if single else None,
            "returns_by_agent": None if single else {str(a): s for a, s in stats.items()},
            "mean_length": _mean([e.length for e in self.episodes]),
            "invalid_actions": sum(e.invalid_actions for e in self.episodes),
            "steps": self.steps,
            "steps_per_second": self.steps / self.seconds if self.seconds > 0 else None,
            "error": self.error,
            "recordings": list(self.recordings),
            "episode_results": [e.to_dict() for e in self.episodes],
        }


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _std(values: Sequence[float]) -> float | None:
    return statistics.pstdev(values) if values else None


class _Recorder:
    """Collects fastlane frames of the episodes being recorded and writes them as GIFs."""

    def __init__(self, directory: pathlib.Path | None, episodes: int, label: str) -> None:
        self.directory = directory
        self.episodes = episodes if directory is not None else 0
        self.stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "operator"
        self.frames: list[Frame] = []
        self.readers: dict[str, FastlaneReader] = {}
        self.written: list[str] = []
        #: Time spent writing GIFs, which steps per second leave out.
        self.seconds = 0.0

    def wants(self, episode: int) -> bool:
        return episode < self.episodes

    def take(self, ref: Any) -> None:
        if not isinstance(ref, dict) or not isinstance(ref.get("fastlane"), str):
            return
        name = ref["fastlane"]
        reader = self.readers.get(name)
        if reader is None:
            reader = self.readers[name] = FastlaneReader(name)
        frame = reader.read(int(ref.get("frame", -1)))
        if frame is not None:
            self.frames.append(frame)

    def episode_done(self, episode: int, seed: int | None) -> None:
        if self.wants(episode) and self.frames and self.directory is not None:
            started = time.perf_counter()
            path = self.directory / f"{self.stem}-episode{episode}-seed{seed}.gif"
            self.written.append(write_gif(self.frames, path))
            self.seconds += time.perf_counter() - started
        self.frames = []

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()


def write_gif(frames: Sequence[Frame], path: pathlib.Path, fps: float = 30.0) -> str:
    """Write frames as an animated GIF (needs Pillow); returns the path."""
    from mosaic_core._operator import require

    image = require("PIL.Image", "recording GIFs")
    pictures = [
        image.frombytes("RGB" if f.channels == 3 else "RGBA", (f.width, f.height), f.pixels)
        for f in frames
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures[0].save(
        path,
        save_all=True,
        append_images=pictures[1:],
        duration=max(int(1000 / fps), 20),
        loop=0,
    )
    return str(path)


def _run_local(
    result: ContenderResult,
    env_id: str,
    episodes: int,
    seed: int | None,
    recorder: _Recorder,
    run_id: str,
    on_episode: OnEpisode,
) -> None:
    from mosaic_core._arena import make_arena
    from mosaic_core._family_registry import find_env_task, make_env, seats
    from mosaic_core._session import Session

    render = recorder.episodes > 0
    arena = make_arena(make_env(env_id, render_mode="rgb_array" if render else None), env_id)
    task = find_env_task(env_id)
    operators: dict[str | None, Any] = {}
    session = None
    try:
        # One seat per agent of the family's list (the environment's own when it has none).
        agents = seats(arena, task)
        check_seats(result.seats, agents, env_id)
        for agent in agents:
            context = OperatorContext.for_seat(arena, agent, env_id, task)
            spec = result.seats.get(agent, result.spec) if agent is not None else result.spec
            operators[agent] = build_operator(spec, context)
        session = Session(
            arena,
            operators,
            run_id=run_id,
            render="fastlane" if render else "none",
            fastlane_name=segment_name(run_id, result.index),
        )
        ready = session.reset(seed)
        started = time.perf_counter()
        if recorder.wants(0):
            recorder.take(ready.get("render"))
        while len(result.episodes) < episodes:
            record, end = session.step(render=recorder.wants(session.episode))
            recorder.take(record.get("render"))
            if end is not None:
                _finish_episode(result, end, recorder, on_episode, started)
    finally:
        recorder.close()
        if session is not None:
            session.close()
        else:
            for operator in operators.values():
                operator.close()
            arena.close()


def _run_remote(
    result: ContenderResult,
    env_id: str,
    episodes: int,
    seed: int | None,
    recorder: _Recorder,
    run_id: str,
    on_episode: OnEpisode,
) -> None:
    from mosaic_core.operators.client import OperatorClient

    render = recorder.episodes > 0
    lineup = [result.spec.text] + [f"{agent}={spec.text}" for agent, spec in result.seats.items()]
    client = OperatorClient.spawn(
        lineup if result.seats else result.spec.text,
        env_id,
        python=result.spec.python,
        render="fastlane" if render else "none",
        run_id=f"{run_id}-{result.index}",
        timeout=120.0,
    )
    result.where = f"process {client.pid}"
    try:
        window = _PIPELINE_RECORDING if render else _PIPELINE
        ready = client.reset(seed)
        started = time.perf_counter()
        if recorder.wants(0):
            recorder.take(ready.get("render"))
        in_flight: list[int] = []
        while len(result.episodes) < episodes:
            if len(in_flight) < window:
                fields = {"render": recorder.wants(len(result.episodes))} if render else {}
                count = window - len(in_flight)
                last = client.send("step", count, **fields)
                in_flight.extend(range(last - count + 1, last + 1))
            response = client.receive(in_flight.pop(0), "step")
            recorder.take(response.get("render"))
            if "episode_end" in response:
                _finish_episode(result, response["episode_end"], recorder, on_episode, started)
    finally:
        recorder.close()
        client.close()


def _finish_episode(
    result: ContenderResult,
    end: dict[str, Any],
    recorder: _Recorder,
    on_episode: OnEpisode,
    started: float,
) -> None:
    episode = EpisodeResult(
        episode=int(end["episode"]),
        seed=end.get("seed"),
        total_reward=end["total_reward"],
        length=int(end["episode_length"]),
        invalid_actions=int(end.get("invalid_actions") or 0),
    )
    result.episodes.append(episode)
    recorder.episode_done(episode.episode, episode.seed)
    result.seconds = time.perf_counter() - started - recorder.seconds
    on_episode(result, episode)


def check_seats(
    fixed: Mapping[str, OperatorSpec], agents: Sequence[str | None], env_id: str
) -> None:
    """``--seat`` names agents of the environment, and leaves the operator at least one."""
    known = [a for a in agents if a is not None]
    for agent in fixed:
        if agent not in known:
            raise ConfigError(
                f"--seat {agent}=...: {env_id} has no agent {agent!r}"
                + (f"; its agents: {', '.join(known)}" if known else " (it has one agent)")
                + did_you_mean(agent, known),
                field="--seat",
                value=agent,
            )
    if known and set(known) <= set(fixed):
        raise ConfigError(
            f"--seat seats every agent of {env_id}, so the operators under evaluation play "
            "none; leave at least one agent to them",
            field="--seat",
        )


def evaluate(
    env_id: str,
    specs: Sequence[OperatorSpec],
    *,
    episodes: int,
    seed: int | None = 0,
    parallel: bool = False,
    record_dir: str | os.PathLike[str] | None = None,
    record_episodes: int = 1,
    run_id: str = "eval",
    on_episode: OnEpisode | None = None,
    seats: Mapping[str, OperatorSpec] | None = None,
) -> list[ContenderResult]:
    """Play ``episodes`` seeded episodes with each operator; one result per spec, in order.

    In a multi-agent environment each operator takes every agent's seat,
    except those ``seats`` gives to another operator (the same for every
    contender: an opponent, or a person). An operator that fails is reported
    in its result's ``error``; the others go on. ``on_episode(result,
    episode)`` is called as each episode ends (from worker threads when
    ``parallel``).
    """
    if episodes < 1:
        raise MosaicError(f"--episodes: got {episodes}; expected at least 1")
    directory = pathlib.Path(record_dir) if record_dir is not None else None
    lock = threading.Lock()

    def report(result: ContenderResult, episode: EpisodeResult) -> None:
        if on_episode is not None:
            with lock:
                on_episode(result, episode)

    def play(result: ContenderResult) -> ContenderResult:
        remote = parallel or result.spec.python is not None
        runner = _run_remote if remote else _run_local
        recorder = _Recorder(directory, record_episodes, f"{result.index}-{result.label}")
        try:
            runner(result, env_id, episodes, seed, recorder, run_id, report)
        except MosaicError as exc:
            result.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one failing operator ends only its own row
            result.error = f"{type(exc).__name__}: {exc}"
        result.recordings = recorder.written
        return result

    texts = [spec.text for spec in specs]
    results = []
    for i, spec in enumerate(specs):
        label = spec.text
        if texts.count(spec.text) > 1:
            label += f"#{texts[: i + 1].count(spec.text)}"
        results.append(ContenderResult(index=i, spec=spec, label=label, seats=dict(seats or {})))
    if not parallel or len(results) == 1:
        return [play(r) for r in results]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(results)) as pool:
        return list(pool.map(play, results))


def format_return(mean: float | None, std: float | None) -> str:
    if mean is None or std is None or not math.isfinite(mean):
        return "-"
    return f"{mean:.2f} ± {std:.2f}"
