"""``EnvSpec``: one grammar for environment names, one way to make them, one error field."""

from __future__ import annotations

import pathlib

import pytest

from mosaic_core import ConfigError, EnvSpec


@pytest.mark.parametrize(
    ("text", "module", "name", "factory"),
    [
        ("CartPole-v1", None, "CartPole-v1", False),
        ("minigrid:BabyAI-GoTo-v0", "minigrid", "BabyAI-GoTo-v0", False),
        (
            "pettingzoo.classic.rps_v2:parallel_env",
            "pettingzoo.classic.rps_v2",
            "parallel_env",
            True,
        ),
        (
            "gymnasium.envs.classic_control:CartPoleEnv",
            "gymnasium.envs.classic_control",
            "CartPoleEnv",
            True,
        ),
    ],
)
def test_the_grammar(text: str, module: str | None, name: str, factory: bool) -> None:
    spec = EnvSpec.parse(text)
    assert (spec.module, spec.name, spec.is_factory, str(spec)) == (module, name, factory, text)


@pytest.mark.parametrize("text", ["", " CartPole-v1", "bad module:thing", "a b", 5, None, "mod:"])
def test_malformed_names_are_config_errors_on_env_id(text: object) -> None:
    with pytest.raises(ConfigError) as caught:
        EnvSpec.parse(text)
    assert caught.value.field == "env_id"


def test_a_gymnasium_id_is_made_with_its_render_mode() -> None:
    env = EnvSpec.parse("CartPole-v1").make(render_mode="rgb_array")
    try:
        assert env.render_mode == "rgb_array"
    finally:
        env.close()
    assert "rgb_array" in (EnvSpec.parse("CartPole-v1").render_modes() or ())


def test_a_factory_is_called_and_given_render_mode_when_it_takes_it() -> None:
    env = EnvSpec.parse("pettingzoo.classic.rps_v2:parallel_env").make(render_mode="ansi")
    try:
        assert env.possible_agents == ["player_0", "player_1"]
    finally:
        env.close()


def test_an_unknown_id_suggests_a_registered_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'CartPole-v1'") as caught:
        EnvSpec.parse("CartPole-v9").make()
    assert caught.value.field == "env_id"


def test_a_missing_module_or_callable_is_named() -> None:
    with pytest.raises(ConfigError, match="module 'no_such_module' is installed"):
        EnvSpec.parse("no_such_module:Thing-v0").make()
    with pytest.raises(ConfigError, match="mosaic_core has no callable 'nope'"):
        EnvSpec.parse("mosaic_core:nope").make()


def test_bad_keyword_arguments_name_env_config() -> None:
    with pytest.raises(ConfigError) as caught:
        EnvSpec.parse("CartPole-v1").make(no_such_argument=1)
    assert caught.value.field == "env_config"


def test_render_modes_of_an_id_import_the_module_that_registers_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mosaictest_registers_ansi.py").write_text(
        "import gymnasium\n"
        "gymnasium.register('MosaicTestAnsiLake-v0',"
        " entry_point='gymnasium.envs.toy_text.frozen_lake:FrozenLakeEnv')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = EnvSpec.parse("mosaictest_registers_ansi:MosaicTestAnsiLake-v0")
    assert "ansi" in (spec.render_modes() or ())
    with pytest.raises(ConfigError, match="module 'no_such_module' is installed"):
        EnvSpec.parse("no_such_module:Thing-v0").render_modes()
