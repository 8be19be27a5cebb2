"""The contract of an environment family, checked on its tasks: what it declares is what it makes.

:func:`check_env_task` makes one task through its family, seats a random
operator on every agent, as ``mosaic eval`` does, plays a few steps
through the session loop and renders a frame; a declaration that does not
match the environment is a :class:`CheckFailed` saying what to fix. A
family's test suite runs it on every task::

    @pytest.mark.parametrize(("family", "task"), env_task_cases(["my_family"]))
    def test_task(family, task):
        check_env_task(family, task)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mosaic_core._errors import MosaicError, PluginError
from mosaic_core._families import EnvFamily, EnvTask
from mosaic_core.conformance._outcomes import CheckFailed

__all__ = ["check_env_task", "env_task_cases"]


def env_task_cases(names: Iterable[str] | None = None, families: Any = None) -> list[Any]:
    """``pytest.param(family, task, id=task.id)`` for every task of the installed families
    ``names`` (all of them when None)."""
    import pytest

    from mosaic_core._family_registry import discover_env_families

    found = families if families is not None else discover_env_families(strict=True)
    wanted = set(names) if names is not None else set(found.families)
    return [
        pytest.param(family, task, id=task.id)
        for name, family in found.families.items()
        if name in wanted
        for task in family.list_tasks()
    ]


def check_env_task(
    family: EnvFamily, task: EnvTask | str, *, steps: int = 6, seed: int | None = 1
) -> None:
    """Make, seat, step with random legal actions and render ``task``; CheckFailed if its
    declaration (agents, stepping, key map, legal actions, render) does not hold."""
    from mosaic_core._arena import make_arena
    from mosaic_core._family_registry import seats
    from mosaic_core._operator import OperatorContext
    from mosaic_core._session import Session
    from mosaic_core.operators.builtin import RandomOperator, legal_actions_of

    found = family.task(task) if isinstance(task, str) else task
    if found is None:
        raise CheckFailed(f"family {family.name!r} lists no task {task!r}")
    where = f"task {found.id!r} of family {family.name!r}"
    try:
        env = family.make(found, render_mode=found.render)
    except MosaicError as exc:
        raise CheckFailed(f"{where} cannot be made: {exc}") from exc
    arena = make_arena(env, found.id)
    try:
        try:
            agents = seats(arena, found)
        except PluginError as exc:
            raise CheckFailed(f"{exc}; declare what the environment has") from None
        operators: dict[str | None, Any] = {}
        for agent in agents:
            space = arena.action_space(agent)
            if found.key_map is not None and not found.key_map.fits(space):
                raise CheckFailed(
                    f"{where}: its key map binds actions {sorted(set(found.key_map.keys.values()))}"
                    f" but {agent or 'the agent'} plays {space}; give the task a key map that "
                    "fits, or none"
                )
            operators[agent] = RandomOperator(OperatorContext.for_seat(arena, agent, found.id))
        session = Session(arena, operators)
        session.reset(seed)
        for _ in range(steps):
            acting = arena.to_act()
            if found.legal_actions and acting:
                info = arena.info(acting[0])
                if info.get("action_mask") is None and legal_actions_of(info) is None:
                    raise CheckFailed(
                        f"{where} declares legal_actions, but {acting[0] or 'the agent'} is "
                        "given neither an action mask nor info['legal_actions']"
                    )
            record, end = session.step()
            if "invalid_action" in record:
                raise CheckFailed(f"{where}: a random legal action was refused: {record}")
            if end is not None:
                break
        _check_frame(where, found, arena.render())
    finally:
        arena.close()


def _check_frame(where: str, task: EnvTask, frame: Any) -> None:
    if task.render == "ansi":
        if not isinstance(frame, str) or not frame.strip():
            raise CheckFailed(f"{where} renders {type(frame).__name__}; render='ansi' wants text")
        return
    shape = tuple(getattr(frame, "shape", ()))
    if len(shape) != 3 or shape[2] not in (3, 4) or str(getattr(frame, "dtype", "")) != "uint8":
        raise CheckFailed(
            f"{where} renders {type(frame).__name__} {shape or ''}; render='rgb_array' wants an "
            "RGB array (height x width x 3, uint8)"
        )
