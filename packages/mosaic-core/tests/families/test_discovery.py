"""Finding families (isolated like workers), making their tasks, seating their agents."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import broken_families  # this directory is on sys.path: pytest's rootdir-relative import
import pytest

from mosaic_core import ConfigError, PluginError, find_env_task, make_env
from mosaic_core._arena import make_arena
from mosaic_core._family_registry import env_families, seats
from mosaic_core.plugins import discover_env_families


def fixture_module() -> Any:
    return importlib.import_module("mosaictest_families")


def test_every_broken_plugin_is_listed_and_the_good_one_still_loads() -> None:
    found = discover_env_families(
        plugins=[
            fixture_module(),
            broken_families.WRONG_TYPE,
            broken_families.REGISTERS_NOTHING,
            broken_families.BAD_DECLARATION,
            broken_families.NO_HOOK,
            broken_families.TWIN,
        ],
        strict=False,
        group="mosaic.no_entry_points_here",
    )
    assert set(found.families) == {"fixture", "listed", "absent"}
    errors = {b.name: b.error for b in found.broken}
    assert "register() got dict; expected a mosaic_core.EnvFamily" in errors["wrong_type"]
    assert "registered no environment family" in errors["registers_nothing"]
    assert "name 'Bad Name'" in errors["bad_declaration"]
    assert "defines no mosaic_register_env_families hook" in errors["no_hook"]
    assert "'fixture' is already provided by" in errors["twin"]
    assert all(b.hint for b in found.broken)


def test_strict_discovery_raises_at_the_first_broken_plugin() -> None:
    with pytest.raises(PluginError, match="environment family plugin 'no_hook'"):
        discover_env_families(
            plugins=[broken_families.NO_HOOK], strict=True, group="mosaic.no_entry_points_here"
        )


def test_families_come_from_entry_points_and_a_crashing_one_is_isolated(
    family_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(family_dist))
    found = discover_env_families(strict=False)
    assert found.origins["fixture"][1:] == ("mosaictest-families", "2.0.0")
    (crashed,) = [b for b in found.broken if b.name == "crashing"]
    assert crashed.error == "this family cannot start" and crashed.error_type == "RuntimeError"
    assert "mosaictest-families raised while loading" in crashed.hint
    with pytest.raises(PluginError, match="installed but broken: RuntimeError"):
        found.get("crashing")
    with pytest.raises(PluginError, match="did you mean 'fixture'"):
        found.get("fixtur")


def test_discovery_lists_no_task_and_imports_no_library(family_dist: Path) -> None:
    code = (
        "import sys, json; from mosaic_core.plugins import discover_env_families;"
        "f = discover_env_families(); "
        "print(json.dumps([sorted(f.families), 'gymnasium' in sys.modules,"
        " 'pettingzoo' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(family_dist), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # the fixture module imports gymnasium itself; pettingzoo is only imported on making
    names, _, pettingzoo_loaded = __import__("json").loads(done.stdout)
    assert {"fixture", "listed", "absent"} <= set(names) and pettingzoo_loaded is False


@pytest.fixture
def installed(family_dist: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(family_dist))
    yield env_families(refresh=True)
    env_families(refresh=True)


def test_make_env_makes_a_family_task_through_its_family_with_settings(installed: Any) -> None:
    module = fixture_module()
    env = make_env("Paint-v0", render_mode="rgb_array", shade=9)
    assert module.LAST_CALL == {"render_mode": "rgb_array", "shade": 9, "width": 6}
    env.close()
    with pytest.raises(ConfigError, match="did you mean 'shade'"):
        make_env("Paint-v0", shde=9)
    # module:Id of a task is the task; anything else is an EnvSpec as before
    assert make_env("mosaictest_families:Paint-v0").shade == 7
    assert make_env("CartPole-v1").spec.id == "CartPole-v1"


def test_find_env_task_tells_a_workers_config_check_what_a_task_is(installed: Any) -> None:
    task = find_env_task("Rps-v0")
    assert task is not None and task.family == "fixture"
    assert task.stepping == "parallel" and task.agents == ("player_0", "player_1")
    assert find_env_task("LunarLander-v3") is None  # no family here declares it
    assert find_env_task("Absent-v0") is None  # its family is not installed


def test_an_unknown_task_is_a_config_error_naming_the_nearest(installed: Any) -> None:
    with pytest.raises(ConfigError, match="did you mean 'Paint-v0'") as caught:
        installed.task("Paint-v1")
    assert caught.value.field == "env_id"


def test_seats_follow_the_declaration_and_a_wrong_one_is_the_familys_error(
    installed: Any,
) -> None:
    family, task = installed.task("Rps-v0")
    arena = make_arena(family.make(task), task.id)
    assert seats(arena, task) == ("player_0", "player_1")
    arena.close()
    for task_id, message in (
        ("WrongAgents-v0", r"declares agents \['alice', 'bob'\]; its environment has"),
        ("Stepping-v0", "declares stepping 'parallel'; its environment steps 'aec'"),
    ):
        family, task = installed.task(task_id)
        arena = make_arena(family.make(task), task.id)
        with pytest.raises(PluginError, match=message):
            seats(arena, task)
        arena.close()


def test_what_a_family_plugin_prints_while_loading_goes_to_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # `mosaic envs --json` prints JSON on stdout: a chatty plugin must not corrupt it.
    from mosaic_core.plugins import discover_env_families

    found = discover_env_families(plugins=[broken_families.CHATTY])
    out, err = capfd.readouterr()
    assert "chatty" in found.families and not found.broken
    assert out == "" and "loading chatty families" in err
