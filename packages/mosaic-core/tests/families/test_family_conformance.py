"""The conformance kit's family check: what a family declares is what it makes."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from mosaic_core.conformance import CheckFailed, check_env_task, env_task_cases
from mosaic_core.plugins import discover_env_families


@pytest.fixture
def families() -> Any:
    module = importlib.import_module("mosaictest_families")
    return discover_env_families(plugins=[module], group="mosaic.no_entry_points_here")


@pytest.mark.parametrize("task", ["Paint-v0", "Rps-v0", "Ttt-v0", "Words-v0"])
def test_the_check_passes_tasks_that_keep_their_declaration(families: Any, task: str) -> None:
    check_env_task(families.get("fixture"), task, steps=12)


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("WrongAgents-v0", r"declares agents \['alice', 'bob'\]; its environment has"),
        ("Stepping-v0", "declares stepping 'parallel'; its environment steps 'aec'"),
        ("BadKeys-v0", r"binds actions \[9\] but the agent plays Discrete\(4\)"),
        ("NoMask-v0", "declares legal_actions, but the agent is given neither an action mask"),
        ("NotRgb-v0", "renders str ; render='rgb_array' wants an RGB array"),
        ("Nope-v0", "lists no task 'Nope-v0'"),
    ],
)
def test_the_check_says_what_a_declaration_gets_wrong(
    families: Any, task: str, message: str
) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_env_task(families.get("listed"), task)


def test_the_cases_are_one_parameter_per_task_of_the_named_families(families: Any) -> None:
    cases = env_task_cases(["fixture"], families=families)
    assert [c.id for c in cases] == ["Paint-v0", "Rps-v0", "Ttt-v0", "Words-v0"]
    assert all(c.values[0].name == "fixture" for c in cases)
