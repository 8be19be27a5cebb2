"""The family types a plugin declares with: each mistake is a PluginError naming it."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest

from mosaic_core import ConfigError, EnvFamily, EnvTask, FamilySetting, KeyMap, PluginError


def test_a_key_map_normalises_letters_and_finds_keys_by_name() -> None:
    keys = KeyMap({"W": 2, "ArrowLeft": 0, "Space": 1}, labels=("left", "wait", "up"))
    assert keys.keys == {"w": 2, "ArrowLeft": 0, "Space": 1}
    assert keys.action_for("w") == keys.action_for("W") == 2
    assert keys.action_for("arrowleft") == 0 and keys.action_for("space") == 1
    assert keys.action_for("x") is None
    assert keys.keys_for(2) == ("w",) and keys.label(1) == "wait" and keys.label(9) == "9"
    assert KeyMap.from_dict(json.loads(json.dumps(keys.to_dict()))).to_dict() == keys.to_dict()


@pytest.mark.parametrize(
    ("keys", "options", "message"),
    [
        ({"Up": 0}, {}, "key 'Up' is not a key name"),
        ({"ab": 0}, {}, "key 'ab' is not a key name"),
        ({" ": 0}, {}, "key ' ' is not a key name"),
        ({"a": -1}, {}, "bound to -1; expected an action >= 0"),
        ({"a": True}, {}, "bound to True"),
        ({"a": 0, "A": 1}, {}, "key 'A' is bound twice"),
        ({"a": 3}, {"labels": ("x", "y")}, "action 3 has no label"),
        ({"a": 0}, {"noop": "0"}, "noop '0'"),
        ({"a": 0}, {"labels": ("x", "")}, "expected one non-empty string per action"),
    ],
)
def test_a_bad_key_map_names_its_mistake(keys: Any, options: Any, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        KeyMap(keys, **options)


def test_a_key_map_fits_only_a_discrete_space_holding_its_actions() -> None:
    keys = KeyMap({"a": 0, "b": 4}, noop=1)
    assert keys.fits(gym.spaces.Discrete(5))
    assert not keys.fits(gym.spaces.Discrete(4))
    assert not keys.fits(gym.spaces.Discrete(5, start=1))
    assert not keys.fits(gym.spaces.Box(0, 1, (2,)))
    assert not keys.fits(None)


def test_a_setting_parses_command_line_text_and_checks_its_bounds() -> None:
    size = FamilySetting(name="size", default=7, description="d", minimum=3, maximum=9)
    assert size.check("5") == 5 and size.kind == "integer"
    for bad, expected in (
        ("x", "expected an integer"),
        (2, ">= 3"),
        (11, "<= 9"),
        (5.0, "got 5.0"),
    ):
        with pytest.raises(ConfigError, match=expected) as caught:
            size.check(bad)
        assert caught.value.field == "setting 'size'"
    flag = FamilySetting(name="fast", default=False, description="d")
    assert flag.check("yes") is True and flag.check("off") is False
    with pytest.raises(ConfigError):
        flag.check("maybe")
    mode = FamilySetting(name="mode", default="a", description="d", choices=("a", "b"))
    with pytest.raises(ConfigError, match=r"one of \['a', 'b'\]"):
        mode.check("c")
    assert FamilySetting(name="k", default=1.5, description="d").check(2) == 2.0
    assert mode.to_dict()["choices"] == ["a", "b"] and size.to_dict()["type"] == "integer"


def test_a_bad_setting_declaration_is_refused() -> None:
    with pytest.raises(PluginError, match="default \\[1\\]"):
        FamilySetting(name="x", default=[1], description="d")  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="'not valid'"):
        FamilySetting(name="not valid", default=1, description="d")
    with pytest.raises(ConfigError, match="one of"):
        FamilySetting(name="x", default="c", description="d", choices=("a", "b"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": ""}, "expected a non-empty name"),
        ({"id": " x"}, "expected a non-empty name"),
        ({"agents": ("a",)}, "with stepping 'single'"),
        ({"stepping": "aec"}, "needs the agent ids"),
        ({"stepping": "turns", "agents": ("a",)}, "stepping 'turns'"),
        ({"stepping": "parallel", "agents": ("a", "a")}, "repeat an id"),
        ({"render": "human"}, "render 'human'"),
        ({"key_map": {"a": 0}}, "expected a mosaic_core.KeyMap"),
    ],
)
def test_a_bad_task_names_its_mistake(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginError, match=message):
        EnvTask(**{"id": "T-v0", **fields})


def test_a_task_made_from_a_gymnasium_id_defaults_its_env_to_the_id() -> None:
    task = EnvTask(id="CartPole-v1")
    assert task.env == "CartPole-v1" and task.agent_count == 1
    assert task.to_dict()["stepping"] == "single"
    assert json.loads(json.dumps(task.to_dict())) == task.to_dict()


def family(**fields: Any) -> EnvFamily:
    return EnvFamily(**{"name": "f", "display_name": "F", "requirement": "f", **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "Fam"}, "name 'Fam'"),
        ({"name": "show"}, "not show or preview"),
        ({"display_name": ""}, "must not be empty"),
        ({"tasks": (EnvTask(id="a"), EnvTask(id="a"))}, r"task ids \['a'\] appear twice"),
        ({"tasks": ["a"]}, "expected a tuple of mosaic_core.EnvTask"),
        (
            {"parallel_only": True, "tasks": (EnvTask(id="a", agents=("x",), stepping="aec"),)},
            "'aec' in a parallel-only family",
        ),
        (
            {"settings": (FamilySetting(name="s", default=1, description="d"),) * 2},
            r"settings \['s', 's'\] repeat a name",
        ),
    ],
)
def test_a_bad_family_names_its_mistake(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginError, match=message):
        family(**fields)


def test_a_task_function_runs_once_and_its_mistakes_surface_when_listed() -> None:
    calls = []

    def tasks() -> list[EnvTask]:
        calls.append(1)
        return [EnvTask(id="a-v0"), EnvTask(id="b-v0")]

    listed = family(tasks=tasks, prefixes=("a-", "b-"))
    assert not calls  # declaring lists nothing
    assert listed.might_have("a-v0") and not listed.might_have("c-v0")
    assert [t.id for t in listed.list_tasks()] == ["a-v0", "b-v0"]
    assert listed.task("b-v0") is not None and listed.task("c-v0") is None
    assert listed.list_tasks()[0].family == "f" and len(calls) == 1
    with pytest.raises(PluginError, match="tasks gave 'x'"):
        family(tasks=lambda: ["x"]).list_tasks()


def test_settings_are_checked_against_the_family() -> None:
    declared = family(settings=(FamilySetting(name="size", default=3, description="d"),))
    assert declared.check_settings(None) == {"size": 3}
    assert declared.check_settings({"size": "5"}) == {"size": 5}
    with pytest.raises(ConfigError, match="did you mean 'size'") as caught:
        declared.check_settings({"sise": 4})
    assert caught.value.field == "setting"
    with pytest.raises(ConfigError, match="it has none"):
        family().check_settings({"size": 1})


def test_a_family_whose_library_is_missing_says_what_to_install() -> None:
    absent = family(modules=("no_such_module_anywhere", "gymnasium"), tasks=(EnvTask(id="a"),))
    assert absent.missing() == ("no_such_module_anywhere",) and not absent.installed()
    with pytest.raises(ConfigError, match="pip install 'f'"):
        absent.make("a")
    described = absent.to_dict()
    assert described["installed"] is False and described["install"] == "pip install 'f'"
    assert [t["id"] for t in described["tasks"]] == ["a"]  # a fixed list is known anyway
    listed_later = family(modules=("no_such_module_anywhere",), tasks=list)
    assert listed_later.to_dict()["tasks"] is None
    assert family(modules=("no_such_module_anywhere|gymnasium",)).installed()
