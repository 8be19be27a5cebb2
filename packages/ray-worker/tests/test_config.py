"""The RLlib config and its translation: every refusal happens before a Ray process exists.

The translation tests import RLlib (a few seconds, once) but never start
Ray; each asserts so.
"""

from __future__ import annotations

from typing import Any

import pytest

from mosaic_core import ConfigError
from mosaic_ray.callbacks import summarize
from mosaic_ray.config import RayConfig


def config(**fields: Any) -> RayConfig:
    return RayConfig.from_dict({"run_id": "r1", **fields})


def test_algorithm_is_rllibs_name_in_any_case() -> None:
    assert config(algorithm="PPO").algorithm == "ppo"
    assert RayConfig.from_dict(config(algorithm="IMPALA").to_dict()).algorithm == "impala"


def test_round_trip_keeps_every_field() -> None:
    original = config(
        algorithm="sac",
        env_id="Pendulum-v1",
        env_config={"g": 9.0},
        training={"tau": 0.01},
        num_env_runners=2,
        ray_address="127.0.0.1:6379",
    )
    assert RayConfig.from_dict(original.to_dict()) == original


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"algorithm": "ppp"}, "algorithm", "did you mean 'ppo'"),
        ({"gamma": 1.5}, "gamma", "a number >= 0 and <= 1"),
        ({"lr": 0}, "lr", "a number > 0"),
        ({"algorithm": "sac", "lr": 0.001}, "lr", "training.actor_lr"),
        ({"num_env_runners": -1}, "num_env_runners", "an integer >= 0"),
        ({"num_envs_per_env_runner": 0}, "num_envs_per_env_runner", "an integer >= 1"),
        ({"object_store_memory_mb": 10}, "object_store_memory_mb", "an integer >= 80"),
        ({"total_steps": 0}, "total_steps", "an integer >= 1"),
        ({"env_id": "bad module:parallel_env"}, "env_id", "not a module name"),
        ({"policy_mode": "shared"}, "policy_mode", "'parameter_sharing'"),
        ({"framework": "tf2"}, "framework", "'torch'"),
        ({"ray_address": "127.0.0.1:6379", "num_cpus": 4}, "num_cpus", "a cluster has its own"),
        ({"ray_address": "ray://127.0.0.1:10001"}, "ray_address", "not for it"),
        ({"training": {"lr": 0.1}}, "training.lr", "set the field 'lr' itself"),
        ({"num_env_runner": 2}, "num_env_runner", "did you mean 'num_env_runners'"),
    ],
)
def test_bad_values_name_the_field(fields: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(**fields)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_every_field_is_documented_and_bounded_in_the_schema() -> None:
    properties = RayConfig.json_schema()["properties"]
    assert [name for name, p in properties.items() if not p.get("description")] == []
    assert properties["gamma"]["minimum"] == 0 and properties["gamma"]["maximum"] == 1
    assert properties["object_store_memory_mb"]["minimum"] == 80


LEARNING_STARTS = "num_steps_sampled_before_learning_starts"


@pytest.fixture(scope="module")
def plan() -> Any:
    pytest.importorskip("ray")
    from mosaic_ray.translate import plan

    yield plan
    import ray

    assert not ray.is_initialized(), "the checks must not start Ray"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"algorithm": "dqn", "env_id": "Pendulum-v1"}, "algorithm", "use one of ppo, appo"),
        ({"env_id": "CartPol-v1"}, "env_id", "did you mean 'CartPole-v1'"),
        ({"training": {"clip_parm": 0.2}}, "training.clip_parm", "did you mean 'clip_param'"),
        ({"num_steps_sampled_before_learning_starts": 9}, LEARNING_STARTS, "training() has no"),
        ({"num_env_runners": 3, "num_cpus": 2}, "num_cpus", "at least 3"),
        ({"env_id": "mpe2.simple_push_v3:parallel_env"}, "policy_mode", "different spaces"),
        ({"env_id": "CartPole-v1", "env_config": {"size": 3}}, "env_config", "arguments that"),
        ({"env_id": "no_such_module:parallel_env"}, "env_id", "'no_such_module' is installed"),
    ],
)  # fmt: skip
def test_mismatches_are_config_errors_before_ray_starts(
    plan: Any, fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        plan(config(**fields))
    assert caught.value.field == field, caught.value
    assert words in str(caught.value)


def test_dqn_refusal_names_the_space_and_the_alternatives(plan: Any) -> None:
    with pytest.raises(ConfigError, match=r"Pendulum-v1 has Box\(-2.0, 2.0, \(1,\), float32\)"):
        plan(config(algorithm="dqn", env_id="Pendulum-v1"))


@pytest.mark.parametrize(
    ("algorithm", "env_id", "config_class"),
    [
        ("ppo", "CartPole-v1", "PPOConfig"),
        ("appo", "CartPole-v1", "APPOConfig"),
        ("impala", "Pendulum-v1", "IMPALAConfig"),
        ("dqn", "CartPole-v1", "DQNConfig"),
        ("sac", "Pendulum-v1", "SACConfig"),
    ],
)
def test_every_algorithm_builds_a_valid_config_on_the_new_api_stack(
    plan: Any, algorithm: str, env_id: str, config_class: str
) -> None:
    rate = {"training": {"actor_lr": 1e-3}} if algorithm == "sac" else {"lr": 1e-3}
    made = plan(config(algorithm=algorithm, env_id=env_id, num_env_runners=2, seed=7, **rate))
    algo_config = made.algo_config
    assert type(algo_config).__name__ == config_class
    assert algo_config.enable_rl_module_and_learner  # the new API stack
    assert algo_config.enable_env_runner_and_connector_v2
    assert (algo_config.num_env_runners, algo_config.seed) == (2, 7)
    assert getattr(algo_config, "actor_lr" if algorithm == "sac" else "lr") == 1e-3
    assert algo_config.env == f"mosaic:{env_id}" and made.cpus_needed == 2


def test_an_id_may_name_the_module_that_registers_it(plan: Any) -> None:
    made = plan(config(env_id="gymnasium.envs.classic_control:CartPole-v1"))
    assert made.env.action_spaces[None].n == 2


def test_sac_takes_discrete_actions_in_this_rllib(plan: Any) -> None:
    assert plan(config(algorithm="sac", env_id="CartPole-v1")).modules == ("default_policy",)


@pytest.mark.parametrize(
    ("mode", "modules", "trainable", "seats"),
    [
        ("parameter_sharing", ("shared",), ("shared",), {"shared"}),
        ("independent", ("agent_0", "agent_1"), ("agent_0", "agent_1"), {"agent_0", "agent_1"}),
        ("self_play", ("main", "opponent"), ("main",), {"main", "opponent"}),
    ],
)
def test_policy_modes_map_agents_to_modules(
    plan: Any, mode: str, modules: tuple[str, ...], trainable: tuple[str, ...], seats: set[str]
) -> None:
    made = plan(config(env_id="mpe2.simple_reference_v3:parallel_env", policy_mode=mode))
    assert made.env.agents == ("agent_0", "agent_1")
    assert made.modules == modules and made.trainable == trainable
    mapping = made.algo_config.policy_mapping_fn

    class Episode:
        def __init__(self, id_: str) -> None:
            self.id_ = id_

    chosen = {mapping(agent, Episode(str(n))) for agent in made.env.agents for n in range(20)}
    assert chosen == seats
    if mode == "self_play":  # one seat learns in every episode, the other is the frozen copy
        for n in range(20):
            assert sorted(mapping(a, Episode(str(n))) for a in made.env.agents) == [
                "main",
                "opponent",
            ]


def test_single_agent_metrics_from_an_rllib_result() -> None:
    step, values = summarize(
        {
            "num_env_steps_sampled_lifetime": 600.0,
            "time_this_iter_s": 0.5,
            "training_iteration": 3,
            "env_runners": {
                "episode_return_mean": 21.5,
                "episode_len_mean": 21.5,
                "num_env_steps_sampled": 200,
                "agent_episode_return_mean": {"default_agent": 21.5},
            },
            "learners": {
                "default_policy": {"policy_loss": -0.1, "vf_loss": 3.0, "entropy": 0.6},
                "__all_modules__": {"num_env_steps_trained": 200},
            },
        }
    )
    assert step == 600
    assert values == {
        "charts/episodic_return": 21.5,
        "charts/episodic_length": 21.5,
        "learners/default_policy/policy_loss": -0.1,
        "learners/default_policy/vf_loss": 3.0,
        "learners/default_policy/entropy": 0.6,
        "perf/env_steps_per_s": 400.0,
        "training_iteration": 3.0,
        "env_steps": 600.0,
    }


def test_multi_agent_metrics_use_the_plural_keys_and_skip_nan() -> None:
    _, values = summarize(
        {
            "env_runners": {
                "num_env_steps_sampled_lifetime": 400,
                "episode_return_mean": float("nan"),
                "agent_episode_returns_mean": {"agent_0": -20.0, "agent_1": -22.0},
                "module_episode_returns_mean": {"shared": -21.0},
            },
            "learners": {"shared": {"total_loss": 1.5}},
        }
    )
    assert values == {
        "env_runners/agent_episode_returns_mean/agent_0": -20.0,
        "env_runners/agent_episode_returns_mean/agent_1": -22.0,
        "env_runners/module_episode_returns_mean/shared": -21.0,
        "learners/shared/total_loss": 1.5,
        "env_steps": 400.0,
    }
