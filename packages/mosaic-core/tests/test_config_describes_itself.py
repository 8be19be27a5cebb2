"""Configs that describe themselves: constraints, per-algorithm classes, docs, JSON Schema."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Annotated, Literal

import jsonschema
import pytest
from annotated_types import Ge, Gt, Interval, Le, MaxLen, MinLen, doc
from hypothesis import given
from hypothesis import strategies as st

from mosaic_core import ConfigError, Secret, TrainingConfigBase, load_worker_config


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentConfig(TrainingConfigBase, per_algorithm=True):
    """Every algorithm's fields."""

    env_id: str = "CartPole-v1"
    algorithm: str = "ppo"
    gamma: Annotated[float, Interval(ge=0, le=1)] = 0.99
    """the discount factor gamma"""
    api_key: Annotated[str | None, Secret] = None
    """a key for the tracking service"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPO(AgentConfig):
    """Proximal policy optimisation."""

    algorithm: str = "ppo"
    #: the learning rate of the optimizer
    learning_rate: Annotated[float, Gt(0)] = 2.5e-4
    num_envs: Annotated[int, Ge(1), Le(64)] = 4
    """the number of parallel game environments"""
    layers: Annotated[tuple[int, ...], MinLen(1), MaxLen(3)] = (64, 64)
    target_kl: Annotated[float | None, Gt(0)] = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class _OffPolicy(AgentConfig):
    buffer_size: Annotated[int, Ge(1)] = 10_000
    """the replay memory buffer size"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DQN(_OffPolicy):
    algorithm: str = "dqn"
    tau: Annotated[float, Interval(ge=0, le=1), doc("the target network update rate")] = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Single(TrainingConfigBase):
    env_id: str = "CartPole-v1"
    algorithm: Literal["a2c"] = "a2c"
    steps: int = dataclasses.field(default=5, metadata={"doc": "steps per update"})


def test_the_base_picks_the_class_of_the_algorithm() -> None:
    assert type(AgentConfig.from_dict({"run_id": "r"})) is PPO
    assert type(AgentConfig.from_dict({"run_id": "r", "algorithm": "dqn"})) is DQN
    assert AgentConfig.variants() == {"ppo": PPO, "dqn": DQN}


def test_an_unknown_algorithm_names_the_choices_with_a_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"one of ppo, dqn \(did you mean 'dqn'\?\)") as caught:
        AgentConfig.from_dict({"run_id": "r", "algorithm": "dqm"})
    assert caught.value.field == "algorithm"


def test_a_class_refuses_another_algorithms_name() -> None:
    with pytest.raises(ConfigError, match="'ppo' for PPO"):
        PPO.from_dict({"run_id": "r", "algorithm": "dqn"})


def test_fields_of_another_algorithm_are_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'buffer_size' for PPO"):
        AgentConfig.from_dict({"run_id": "r", "buffer_size": 5})


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"learning_rate": 0}, "learning_rate", "a number > 0"),
        ({"learning_rate": -1e-3}, "learning_rate", "a number > 0"),
        ({"num_envs": 0}, "num_envs", "an integer >= 1 and <= 64"),
        ({"num_envs": 65}, "num_envs", "an integer >= 1 and <= 64"),
        ({"gamma": 1.5}, "gamma", "a number >= 0 and <= 1"),
        ({"layers": []}, "layers", "with 1 to 3 items"),
        ({"layers": [1, 2, 3, 4]}, "layers", "with 1 to 3 items"),
        ({"target_kl": 0.0}, "target_kl", "a number > 0"),
    ],
)
def test_constraints_on_fields_are_checked_by_the_base(
    data: dict[str, object], field: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        PPO.from_dict({"run_id": "r", **data})
    assert caught.value.field == field


def test_none_passes_a_constraint_on_an_optional_field() -> None:
    assert PPO.from_dict({"run_id": "r", "target_kl": None}).target_kl is None


def test_integral_floats_are_integers_and_others_are_refused() -> None:
    config = PPO.from_dict({"run_id": "r", "total_steps": 1e4, "num_envs": 8.0})
    assert config.total_steps == 10_000 and type(config.total_steps) is int
    with pytest.raises(ConfigError, match="an integer"):
        PPO.from_dict({"run_id": "r", "total_steps": 1e4 + 0.5})


@pytest.mark.parametrize("big", [2**63, -(2**63) - 1, 18446744073709551616])
def test_integers_beyond_64_bits_are_a_config_error(big: int) -> None:
    with pytest.raises(ConfigError, match="fits in 64 bits") as caught:
        PPO.from_dict({"run_id": "r", "seed": big})
    assert caught.value.field == "seed"


def test_docs_come_from_docstrings_comments_doc_markers_and_field_metadata() -> None:
    schema = AgentConfig.json_schema("dqn")
    props = schema["properties"]
    assert props["gamma"]["description"] == "the discount factor gamma"
    assert props["buffer_size"]["description"] == "the replay memory buffer size"
    assert props["tau"]["description"] == "the target network update rate"
    ppo = AgentConfig.json_schema("ppo")["properties"]
    assert ppo["learning_rate"]["description"] == "the learning rate of the optimizer"
    assert Single.json_schema()["properties"]["steps"]["description"] == "steps per update"


def test_the_schema_is_draft_2020_12_with_types_defaults_and_constraints() -> None:
    schema = AgentConfig.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    ppo = next(v for v in schema["oneOf"] if v["title"] == "PPO")
    assert ppo["description"] == "Proximal policy optimisation."
    assert ppo["properties"]["num_envs"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 64,
        "description": "the number of parallel game environments",
        "default": 4,
    }
    assert ppo["properties"]["learning_rate"]["exclusiveMinimum"] == 0
    assert ppo["properties"]["layers"]["minItems"] == 1
    assert ppo["properties"]["algorithm"]["const"] == "ppo"
    assert ppo["additionalProperties"] is False


def test_secret_fields_are_write_only_without_a_default() -> None:
    prop = AgentConfig.json_schema("ppo")["properties"]["api_key"]
    assert prop["writeOnly"] is True and "default" not in prop


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        ({"run_id": "r"}, True),
        ({"run_id": "r", "algorithm": "dqn", "buffer_size": 7}, True),
        ({"run_id": "r", "algorithm": "dqn", "learning_rate": 0.1}, False),
        ({"run_id": "r", "num_envs": 0}, False),
        ({"run_id": "r", "algorithm": "a3c"}, False),
        ({"run_id": "r", "gamma": 2}, False),
    ],
)
def test_the_schema_accepts_what_the_loader_accepts(
    document: dict[str, object], valid: bool
) -> None:
    validator = jsonschema.Draft202012Validator(AgentConfig.json_schema())
    assert validator.is_valid(document) is valid
    if valid:
        AgentConfig.from_dict(document)
    else:
        with pytest.raises(ConfigError):
            AgentConfig.from_dict(document)


@given(
    learning_rate=st.floats(min_value=-1, max_value=1, allow_nan=False),
    num_envs=st.integers(min_value=-5, max_value=100),
    gamma=st.floats(min_value=-1, max_value=2, allow_nan=False),
)
def test_schema_and_loader_agree_on_numbers(
    learning_rate: float, num_envs: int, gamma: float
) -> None:
    document = {"run_id": "r", "learning_rate": learning_rate, "num_envs": num_envs, "gamma": gamma}
    schema_ok = jsonschema.Draft202012Validator(AgentConfig.json_schema()).is_valid(document)
    try:
        AgentConfig.from_dict(document)
        loader_ok = True
    except ConfigError:
        loader_ok = False
    assert schema_ok == loader_ok


def test_a_schema_for_an_algorithm_it_does_not_have_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"no algorithm 'dqm'.*did you mean 'dqn'"):
        AgentConfig.json_schema("dqm")
    with pytest.raises(ConfigError, match="only the one config class"):
        Single.json_schema("a2c")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("config.json", '{"algorithm": "dqn", "buffer_size": 9}'),
        ("config.yaml", "algorithm: dqn\nbuffer_size: 9\n"),
        (
            "config.yml",
            "metadata:\n  worker:\n    config:\n      algorithm: dqn\n      buffer_size: 9\n",
        ),
        ("config.toml", 'algorithm = "dqn"\nbuffer_size = 9\n'),
    ],
)
def test_json_yaml_and_toml_files_load_alike(tmp_path: pathlib.Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    config = load_worker_config(path, AgentConfig, defaults={"run_id": "r"})
    assert isinstance(config, DQN) and config.buffer_size == 9


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", "a: [1, 2\n", r"bad.yaml: malformed YAML at line 2"),
        ("bad.toml", "a = \n", r"bad.toml: malformed TOML"),
        ("bad.json", "[" * 100_000, r"bad.json: JSON nested too deeply"),
    ],
)
def test_malformed_files_name_the_file(
    tmp_path: pathlib.Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_worker_config(path, AgentConfig, defaults={"run_id": "r"})


def test_a_variant_registered_twice_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="algorithm 'dqn' is already DQN"):

        @dataclasses.dataclass(frozen=True, kw_only=True)
        class Another(AgentConfig):
            algorithm: str = "dqn"

    json.dumps(AgentConfig.json_schema())  # the registry is unchanged


@dataclasses.dataclass(frozen=True, kw_only=True)
class Wrapped(TrainingConfigBase):
    env_id: str = "CartPole-v1"
    algorithm: str = "x"
    horizon: int = 5
    """the number of steps a rollout lasts before the learner
    updates, long enough to see an episode end

    a second paragraph"""


def test_a_docstring_over_several_lines_reads_as_one_paragraph_per_paragraph() -> None:
    description = Wrapped.json_schema()["properties"]["horizon"]["description"]
    assert description == (
        "the number of steps a rollout lasts before the learner updates, long enough to see "
        "an episode end\n\na second paragraph"
    )


def test_a_bad_secret_value_is_named_by_its_field_never_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        AgentConfig.from_dict({"run_id": "r", "api_key": 9876543210})
    assert str(caught.value) == (
        "config field 'api_key': got *** (a secret, not shown: a value of type int); "
        "expected a string or null"
    )
    assert caught.value.field == "api_key" and caught.value.value == "***"
    assert "9876543210" not in repr(caught.value.to_dict())
