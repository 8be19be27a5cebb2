"""XuanCe configs: a typed class per algorithm, XuanCe's names, a doc and constraints on every
field, clear errors before XuanCe starts."""

from __future__ import annotations

import json
import typing
from typing import Any

import jsonschema
import pytest

from mosaic_core import ConfigError
from mosaic_xuance.config import (
    ALGORITHMS,
    CLASSIC_CONTROL,
    MPE_SCENARIOS,
    ClassicControlTask,
    MPEScenario,
    XuanCeConfig,
)

from .conftest import mosaic


def test_algorithm_picks_its_config_class() -> None:
    config = XuanCeConfig.from_dict({"run_id": "r1", "algorithm": "dqn"})
    assert type(config) is ALGORITHMS["dqn"] and config.env_id == "CartPole-v1"
    assert type(XuanCeConfig.from_dict({"run_id": "r1"})) is ALGORITHMS["mappo"]
    assert set(ALGORITHMS) == set(XuanCeConfig.variants()) == {
        "mappo", "qmix", "maddpg", "vdn", "coma", "ippo", "iql", "dqn", "ppo",
    }  # fmt: skip


def test_the_env_id_choices_are_the_tasks_the_worker_knows() -> None:
    assert set(typing.get_args(MPEScenario)) == set(MPE_SCENARIOS)
    assert set(typing.get_args(ClassicControlTask)) == set(CLASSIC_CONTROL)


def test_round_trip_for_every_algorithm() -> None:
    for name, cls in ALGORITHMS.items():
        config = XuanCeConfig.from_dict({"run_id": "r1", "algorithm": name, "seed": 4})
        assert type(config) is cls
        assert XuanCeConfig.from_dict(config.to_dict()) == config


def test_xuance_args_override_the_yaml_under_xuances_names() -> None:
    config = XuanCeConfig.from_dict(
        {"run_id": "r1", "algorithm": "mappo", "total_steps": 5000, "parallels": 4,
         "learning_rate": 1e-3, "seed": 7, "parser_args": {"actor_hidden_size": [32]}}
    )  # fmt: skip
    args = config.xuance_args()
    assert args["running_steps"] == 5000 and args["parallels"] == 4
    assert args["learning_rate"] == 1e-3 and args["seed"] == args["env_seed"] == 7
    assert args["vectorize"] == "DummyVecMultiAgentEnv" and args["device"] == "cpu"
    assert args["policy"] == "Categorical_MAAC_Policy" and args["actor_hidden_size"] == [32]
    assert "gamma" not in args  # None keeps XuanCe's YAML value
    continuous = config.replace(continuous_action=True).xuance_args()
    assert continuous["policy"] == "Gaussian_MAAC_Policy"
    dqn = XuanCeConfig.from_dict({"run_id": "r1", "algorithm": "dqn"})
    assert dqn.xuance_args()["vectorize"] == "DummyVecEnv"


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"algorithm": "mapo"}, "algorithm", "did you mean 'mappo'"),
        ({"algorithm": "qmix", "continuous_action": True}, "continuous_action",
         "qmix learns discrete actions only"),
        ({"algorithm": "maddpg", "continuous_action": False}, "continuous_action",
         "maddpg learns continuous actions only"),
        ({"algorithm": "dqn", "env_id": "Pendulum-v1"}, "algorithm", "use ppo"),
        ({"algorithm": "mappo", "env_id": "simple_sprad_v3"}, "env_id",
         "did you mean 'simple_spread_v3'"),
        ({"algorithm": "mappo", "env_id": "CartPole-v1"}, "env_id",
         "one of 'simple_spread_v3', 'simple_reference_v3'"),
        ({"algorithm": "ppo", "env_id": "CartPole-v0"}, "env_id", "did you mean 'CartPole-v1'"),
        ({"algorithm": "mappo", "env": "classic_control"}, "env", "MAPPO trains on mpe"),
        ({"algorithm": "mappo", "batch_size": 64}, "batch_size", "buffer_size and n_minibatch"),
        ({"algorithm": "ppo", "batch_size": 64}, "batch_size", "horizon_size"),
        ({"algorithm": "qmix", "learning_rat": 0.1}, "learning_rat",
         "did you mean 'learning_rate'"),
        ({"algorithm": "maddpg", "learning_rate": 0.1}, "learning_rate", "unknown config key"),
        ({"algorithm": "vdn", "parallels": 0}, "parallels", "an integer >= 1"),
        ({"algorithm": "iql", "gamma": 1.5}, "gamma", "a number >= 0 and <= 1"),
        ({"algorithm": "coma", "end_greedy": -0.5}, "end_greedy", "a number >= 0 and <= 1"),
        ({"algorithm": "maddpg", "learning_rate_actor": 0}, "learning_rate_actor",
         "a number > 0"),
        ({"algorithm": "ppo", "horizon_size": 0}, "horizon_size", "an integer >= 1"),
        ({"algorithm": "dqn", "device": "gpu"}, "device", "'cpu', 'cuda' or 'cuda:N'"),
        ({"algorithm": "dqn", "parser_args": {"running_steps": 5}}, "parser_args.running_steps",
         "the worker sets it"),
        ({"algorithm": "dqn", "parser_args": {"batch_size": 5}}, "parser_args.batch_size",
         "the field 'batch_size' instead"),
        ({"algorithm": "coma", "total_steps": 0}, "total_steps", "an integer >= 1"),
    ],
)  # fmt: skip
def test_bad_values_name_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        XuanCeConfig.from_dict({"run_id": "r1", **data})
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_subclass_refuses_another_algorithms_name() -> None:
    with pytest.raises(ConfigError, match="algorithm"):
        ALGORITHMS["dqn"].from_dict({"run_id": "r1", "algorithm": "ppo"})


def test_schema_from_mosaic_config_json_documents_and_constrains_every_field() -> None:
    done = mosaic("config", "xuance", "--json")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    variants = {v["properties"]["algorithm"]["const"]: v for v in schema["oneOf"]}
    assert set(variants) == set(ALGORITHMS)
    for name, variant in variants.items():
        undocumented = [k for k, p in variant["properties"].items() if not p.get("description")]
        assert not undocumented, (name, undocumented)
    qmix = variants["qmix"]["properties"]
    assert qmix["env_id"]["enum"] == ["simple_spread_v3", "simple_reference_v3"]
    assert qmix["learning_rate"]["exclusiveMinimum"] == 0
    assert (qmix["gamma"]["minimum"], qmix["gamma"]["maximum"]) == (0, 1)
    assert qmix["parallels"]["minimum"] == 1
    assert "CartPole-v1" in variants["ppo"]["properties"]["env_id"]["enum"]
    validator = jsonschema.Draft202012Validator(schema)
    for name in ALGORITHMS:
        config = XuanCeConfig.from_dict({"run_id": "r1", "algorithm": name}).to_dict()
        assert not list(validator.iter_errors(config)), name
    assert list(validator.iter_errors({"run_id": "r1", "algorithm": "vdn", "parallels": 0}))
    assert list(validator.iter_errors({"run_id": "r1", "algorithm": "dqn", "env_id": "Foo-v0"}))


def test_mosaic_config_prints_each_fields_help() -> None:
    done = mosaic("config", "xuance", "--algorithm", "qmix")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "xuance config, algorithm 'qmix'" in text
    assert "total_steps integer >= 1 default 100000 XuanCe's running_steps" in text
    assert "learning_rate number | null > 0 default null the learning rate" in text
    assert "double Q-learning (null: XuanCe's YAML value)" in text
