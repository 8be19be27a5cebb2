"""MOSAIC MultiGrid (``mosaic-multigrid`` 7.0.0): soccer, basketball, American football and
collect, every agent acting at once.

The library registers its tasks with Gymnasium as environments whose
actions, rewards and flags are dicts keyed by agent index;
:class:`ParallelGrid` presents one as a PettingZoo-style parallel
environment with agent ids ``agent_0`` ... ``agent_{n-1}`` (without
needing PettingZoo). Agent counts in the listing come from the task id
(``2v2`` is four agents) or, for ids without one, from the class the id
names (``CollectGame3H...`` is three); the family's tests hold every
listed count against the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from mosaic_core import EnvFamily, EnvTask, FamilySetting, KeyMap, hookimpl

__all__ = ["KEYS", "MULTIGRID", "ParallelGrid", "agent_count", "mosaic_register_env_families"]

#: Action 0 is the library's no-op, what a person who presses nothing plays.
KEYS = KeyMap(
    {
        "ArrowLeft": 1, "ArrowRight": 2, "ArrowUp": 3,
        "PageUp": 4, "Tab": 4, "p": 4,
        "PageDown": 5, "Shift": 5, "d": 5,
        "Space": 6, "t": 6,
        "Enter": 7,
    },
    labels=("no-op", "turn left", "turn right", "forward", "pick up", "drop / pass", "toggle",
            "done"),
    noop=0,
)  # fmt: skip
_SPORTS = {"S": "soccer", "BB": "basketball", "AF": "American football", "C": "collect"}
_FORMAT = re.compile(r"-(\d+)v(\d+)-")
_HEADS = re.compile(r"(\d+)H")


def agent_count(task: str, entry_point: Any = None) -> int:
    """The number of agents of ``task``, from its id (``NvM``) or its class name (``3H``)."""
    match = _FORMAT.search(task)
    if match:
        return int(match[1]) + int(match[2])
    name = getattr(entry_point, "__name__", str(entry_point or ""))
    heads = _HEADS.search(name)
    if heads:
        return int(heads[1])
    raise ValueError(f"cannot tell the agent count of {task!r} ({name})")


def _describe(task: str) -> str:
    sport = _SPORTS.get(task.split("-")[1], "a team game")
    match = _FORMAT.search(task)
    shape = f"{match[1]} vs {match[2]}" if match else "free for all"
    return f"{sport}, {shape}" + (
        ", each agent observes its own view" if "IndAgObs" in task else ""
    )


def _tasks() -> list[EnvTask]:
    import gymnasium
    import mosaic_multigrid  # noqa: F401 - registers the tasks

    tasks = []
    for key in gymnasium.registry:
        task = str(key)
        if not task.startswith("MosaicMultiGrid-"):
            continue
        count = agent_count(task, gymnasium.spec(task).entry_point)
        tasks.append(
            EnvTask(
                id=task,
                env="mosaic_envs.multigrid:parallel_env",
                kwargs={"task": task},
                agents=tuple(f"agent_{i}" for i in range(count)),
                stepping="parallel",
                key_map=KEYS,
                description=_describe(task),
            )
        )
    return tasks


class ParallelGrid:
    """A MultiGrid environment as a PettingZoo-style parallel environment.

    Agents that are done leave ``agents``; an agent given no action plays
    the no-op.
    """

    def __init__(self, env: Any) -> None:
        self._env = env
        count = int(env.unwrapped.num_agents)
        self.possible_agents = [f"agent_{i}" for i in range(count)]
        self.agents: list[str] = []
        self.metadata = getattr(env, "metadata", {})
        self.render_mode = env.render_mode
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}

    def action_space(self, agent: str) -> Any:
        return self._env.action_space[self._index[agent]]

    def observation_space(self, agent: str) -> Any:
        return self._env.observation_space[self._index[agent]]

    def _named(self, values: Any, default: Any = None) -> dict[str, Any]:
        if not isinstance(values, Mapping):
            return dict.fromkeys(self.agents, values if default is None else default)
        return {a: values.get(i, default) for a, i in self._index.items() if a in self.agents}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        obs, info = self._env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return self._named(obs), self._named(info, {})

    def step(self, actions: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
        chosen = {i: actions.get(a, KEYS.noop) for a, i in self._index.items()}
        obs, rewards, terms, truncs, info = self._env.step(chosen)
        out = (
            self._named(obs),
            {a: float(r) for a, r in self._named(rewards, 0.0).items()},
            {a: bool(v) for a, v in self._named(terms, False).items()},
            {a: bool(v) for a, v in self._named(truncs, False).items()},
            self._named(info, {}),
        )
        self.agents = [a for a in self.agents if not (out[2][a] or out[3][a])]
        return out

    def render(self) -> Any:
        return self._env.render()

    def close(self) -> None:
        self._env.close()


def parallel_env(
    task: str, render_mode: str | None = None, view_size: int = 3, tile_size: int = 32
) -> ParallelGrid:
    import gymnasium
    import mosaic_multigrid  # noqa: F401 - registers the tasks

    env = gymnasium.make(
        task,
        render_mode=render_mode,
        view_size=view_size,
        disable_env_checker=True,  # it warns that dict rewards are not floats
    )
    grid: Any = env.unwrapped
    grid.tile_size = tile_size  # read when rendering; no constructor takes it
    return ParallelGrid(env)


MULTIGRID = EnvFamily(
    name="multigrid",
    display_name="MOSAIC MultiGrid",
    description="Team sports and collecting on a grid (soccer, basketball, American football, "
    "collect), every agent acting at once.",
    requirement="mosaic-envs[multigrid]",
    modules=("mosaic_multigrid", "pygame"),
    tasks=_tasks,
    prefixes=("MosaicMultiGrid-",),
    settings=(
        FamilySetting(
            name="view_size",
            default=3,
            description="the side of the square each agent sees (odd, >= 3)",
            minimum=3,
            maximum=9,
        ),
        FamilySetting(
            name="tile_size",
            default=32,
            description="pixels per grid cell in rendered frames",
            minimum=8,
            maximum=64,
        ),
    ),
    parallel_only=True,
    homepage="https://pypi.org/project/mosaic-multigrid/",
)


@hookimpl
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    register(MULTIGRID)
