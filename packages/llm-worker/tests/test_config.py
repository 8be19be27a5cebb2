"""The config: defaults, checks, and no secret ever accepted in it."""

from __future__ import annotations

import pytest

from mosaic_core import ConfigError
from mosaic_llm.config import LLMConfig


def config(**fields: object) -> LLMConfig:
    return LLMConfig.from_dict({"run_id": "r1", "model": "m", **fields})


def test_defaults_play_babyai_directly_and_ask_in_the_strongest_form() -> None:
    c = config()
    assert (c.env_id, c.algorithm, c.action_format) == (
        "BabyAI-GoToRedBallNoDists-v0",
        "direct",
        "auto",
    )
    assert c.reply_tokens == 48 and config(algorithm="cot").reply_tokens == 384
    assert c.all_tasks == ("BabyAI-GoToRedBallNoDists-v0",)


def test_tasks_follow_env_id_without_repeats_and_episodes_use_seed_plus_k() -> None:
    c = config(env_id="FrozenLake-v1", tasks=["Taxi-v3", "FrozenLake-v1"], seed=10)
    assert c.all_tasks == ("FrozenLake-v1", "Taxi-v3")
    assert [c.episode_seed(k) for k in range(3)] == [10, 11, 12]


def test_the_model_is_required() -> None:
    with pytest.raises(ConfigError, match="missing required field 'model'"):
        LLMConfig.from_dict({"run_id": "r1"})


@pytest.mark.parametrize("key", ["api_key", "token", "API_KEY"])
def test_a_secret_in_the_config_is_refused_without_repeating_it(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(**{key: "sk-live-do-not-print"})
    assert "sk-live-do-not-print" not in str(caught.value)
    assert caught.value.value is None and "api_key_env" in str(caught.value)


def test_api_key_env_must_be_a_variable_name_and_a_pasted_key_is_not_repeated() -> None:
    assert config(api_key_env="OPENAI_API_KEY").api_key_env == "OPENAI_API_KEY"
    with pytest.raises(ConfigError) as caught:
        config(api_key_env="sk-proj-12345-secret")
    assert "sk-proj-12345-secret" not in str(caught.value)
    assert caught.value.field == "api_key_env"


@pytest.mark.parametrize(
    ("field", "value"),
    [("episodes", 0), ("timeout", 0), ("temperature", 3.0), ("base_url", "localhost:8000"),
     ("algorithm", "react"), ("action_format", "xml"), ("history", -1), ("tasks", [" "]),
     ("env_id", "bad module:Thing-v0"), ("env_id", "textworld:"), ("max_tokens", 0)],
)  # fmt: skip
def test_bad_values_name_their_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        config(**{field: value})
    assert field in str(caught.value)


def test_a_bad_task_is_named_by_its_index() -> None:
    with pytest.raises(ConfigError) as caught:
        config(tasks=["Taxi-v3", "no such env"])
    assert caught.value.field == "tasks[1]"


def test_a_textworld_game_path_is_this_workers_own_env_id() -> None:
    assert config(env_id="textworld:/games/my game.z8").env_id == "textworld:/games/my game.z8"


def test_every_field_is_documented_and_bounded_in_the_schema() -> None:
    properties = LLMConfig.json_schema()["properties"]
    assert [name for name, p in properties.items() if not p.get("description")] == []
    assert properties["temperature"]["minimum"] == 0 and properties["temperature"]["maximum"] == 2
    assert properties["episodes"]["minimum"] == 1 and properties["timeout"]["exclusiveMinimum"] == 0
