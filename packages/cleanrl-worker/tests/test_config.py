"""CleanRL configs: one typed class per algorithm, CleanRL's defaults, clear errors."""

from __future__ import annotations

import pytest

from mosaic_cleanrl.config import ALGORITHMS, CleanRLConfig, DQNConfig, PPOConfig, SACConfig
from mosaic_core import ConfigError


def test_algorithm_picks_its_config_class_with_cleanrl_defaults() -> None:
    config = CleanRLConfig.from_dict({"run_id": "r1", "algorithm": "dqn"})
    assert type(config) is DQNConfig
    assert (config.learning_rate, config.buffer_size, config.learning_starts) == (
        2.5e-4,
        10_000,
        10_000,
    )
    assert type(CleanRLConfig.from_dict({"run_id": "r1"})) is PPOConfig


def test_flags_are_the_scripts_own_flag_names() -> None:
    config = CleanRLConfig.from_dict(
        {"run_id": "r1", "algorithm": "ppo", "total_steps": 5000, "seed": 3, "anneal_lr": False}
    )
    flags = config.flags()
    pairs = dict(zip(flags[::2], flags[1::2], strict=True))
    assert pairs["--total-timesteps"] == "5000" and pairs["--seed"] == "3"
    assert pairs["--anneal-lr"] == "False" and pairs["--learning-rate"] == "0.00025"
    assert pairs["--env-id"] == "CartPole-v1" and pairs["--cuda"] == "False"
    assert "--target-kl" not in pairs  # None means: the script's default


def test_seed_defaults_to_cleanrls_own_default() -> None:
    assert CleanRLConfig.from_dict({"run_id": "r1"}).effective_seed == 1


def test_round_trip_for_every_algorithm() -> None:
    for name, cls in ALGORITHMS.items():
        config = CleanRLConfig.from_dict({"run_id": "r1", "algorithm": name})
        assert type(config) is cls
        assert CleanRLConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"algorithm": "ppg"}, "algorithm", "did you mean 'ppo'"),
        ({"algorithm": "sac", "learning_rate": 0.1}, "learning_rate", "unknown config key"),
        (
            {"algorithm": "ppo", "learnign_rate": 0.1},
            "learnign_rate",
            "did you mean 'learning_rate'",
        ),
        ({"algorithm": "ppo", "num_envs": 0}, "num_envs", "an integer >= 1"),
        ({"algorithm": "ppo", "gamma": 1.5}, "gamma", "between 0 and 1"),
        ({"algorithm": "ppo", "learning_rate": "fast"}, "learning_rate", "a number"),
        ({"algorithm": "c51", "v_min": 10, "v_max": 0}, "v_min", "less than v_max"),
        ({"algorithm": "sac", "policy_lr": -1}, "policy_lr", "a number > 0"),
        ({"algorithm": "dqn", "total_steps": 0}, "total_steps", "an integer >= 1"),
    ],
)
def test_bad_values_name_the_field(data: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CleanRLConfig.from_dict({"run_id": "r1", **data})
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_subclass_refuses_another_algorithms_name() -> None:
    with pytest.raises(ConfigError, match="algorithm"):
        SACConfig.from_dict({"run_id": "r1", "algorithm": "ppo"})
