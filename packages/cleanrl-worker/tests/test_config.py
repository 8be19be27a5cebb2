"""CleanRL configs: made from CleanRL's own scripts, with their help and defaults; the worker's
departures from them; constraints declared on the fields; clear errors."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

from mosaic_cleanrl.config import ALGORITHMS, CleanRLConfig
from mosaic_core import ConfigError

from .conftest import mosaic

HIDDEN = ("track", "wandb_project_name", "wandb_entity", "upload_model", "hf_entity")


def _field(algorithm: str, name: str) -> dataclasses.Field[Any]:
    (found,) = [f for f in dataclasses.fields(ALGORITHMS[algorithm]) if f.name == name]
    return found


def test_algorithm_picks_its_config_class_with_cleanrl_defaults() -> None:
    config = CleanRLConfig.from_dict({"run_id": "r1", "algorithm": "dqn"})
    assert type(config) is ALGORITHMS["dqn"] is CleanRLConfig.variants()["dqn"]
    assert (config.learning_rate, config.buffer_size, config.learning_starts) == (  # type: ignore[attr-defined]
        2.5e-4,
        10_000,
        10_000,
    )
    assert type(CleanRLConfig.from_dict({"run_id": "r1"})) is ALGORITHMS["ppo"]
    assert set(ALGORITHMS) == {"ppo", "ppo_continuous_action", "dqn", "c51", "sac", "td3", "ddpg"}


READS = """
import sys
from mosaic_cleanrl import config
read = []
real = config.read_script
config.read_script = lambda script: read.append(script) or real(script)
made = config.CleanRLConfig.from_dict({"run_id": "r1", "algorithm": sys.argv[1]})
print(type(made).__name__, read)
print(len(config.ALGORITHMS), config.UNAVAILABLE, len(read))
"""


@pytest.mark.parametrize(
    ("algorithm", "made", "script"),
    [("sac", "SACConfig", "sac_continuous_action"), ("ppo", "PPOConfig", "ppo")],
)
def test_a_config_reads_only_its_algorithms_script(algorithm: str, made: str, script: str) -> None:
    # A run is configured in the host and again in the worker: one script read each, not
    # seven (~10 ms of ast each); listing ALGORITHMS still reads them all.
    done = subprocess.run(
        [sys.executable, "-c", READS, algorithm], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first, listed = done.stdout.splitlines()
    assert first == f"{made} [{script!r}]"
    assert listed == "7 None 7"


@pytest.mark.parametrize(
    ("algorithm", "name", "default", "help_text"),
    [
        ("ppo", "learning_rate", 2.5e-4, "the learning rate of the optimizer"),
        ("ppo", "anneal_lr", True, "Toggle learning rate annealing for policy and value networks"),
        ("ppo", "target_kl", None, "the target KL divergence threshold"),
        ("ppo", "total_steps", 500_000, "total timesteps of the experiments"),
        ("c51", "v_min", -100.0, "the return lower bound"),
        ("sac", "q_lr", 1e-3, "the learning rate of the Q network network optimizer"),
        ("sac", "learning_starts", 5000, "timestep to start learning"),  # `default=5e3`
        ("td3", "buffer_size", 1_000_000, "the replay memory buffer size"),  # `int(1e6)`
    ],
)  # fmt: skip
def test_fields_carry_the_scripts_own_defaults_and_help(
    algorithm: str, name: str, default: Any, help_text: str
) -> None:
    field = _field(algorithm, name)
    assert field.default == default and type(field.default) is type(default)
    assert field.metadata["doc"] == help_text


def test_where_the_worker_departs_from_the_scripts() -> None:
    for algorithm, cls in ALGORITHMS.items():
        names = {f.name for f in dataclasses.fields(cls)}
        assert not names & set(HIDDEN), algorithm  # tracking and uploading are not fields
        assert "total_timesteps" not in names and "total_steps" in names
        assert _field(algorithm, "cuda").default is False
        assert "CleanRL's true" in _field(algorithm, "cuda").metadata["doc"]
        assert _field(algorithm, "seed").default is None
    for algorithm in ("ppo_continuous_action", "sac", "td3", "ddpg"):
        env = _field(algorithm, "env_id")
        assert env.default == "Pendulum-v1" and "needs MuJoCo" in env.metadata["doc"]
    assert "HalfCheetah-v4" in _field("ddpg", "env_id").metadata["doc"]
    assert _field("ppo", "env_id").default == "CartPole-v1"
    exp_name = _field("dqn", "exp_name")
    assert exp_name.default is None and "the script compute it" in exp_name.metadata["doc"]


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
    assert "--exp-name" not in pairs and "--track" not in pairs


def test_seed_defaults_to_cleanrls_own_default() -> None:
    config = CleanRLConfig.from_dict({"run_id": "r1"})
    assert config.effective_seed == 1
    assert config.flags()[config.flags().index("--seed") + 1] == "1"


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
        ({"algorithm": "ppo", "learnign_rate": 0.1}, "learnign_rate",
         "did you mean 'learning_rate'"),
        ({"algorithm": "ppo", "track": True}, "track", "unknown config key"),
        ({"algorithm": "ppo", "num_envs": 0}, "num_envs", "an integer >= 1"),
        ({"algorithm": "ppo", "gamma": 1.5}, "gamma", "a number >= 0 and <= 1"),
        ({"algorithm": "td3", "tau": -0.1}, "tau", "a number >= 0 and <= 1"),
        ({"algorithm": "ppo", "learning_rate": "fast"}, "learning_rate", "a number"),
        ({"algorithm": "c51", "v_min": 10, "v_max": 0}, "v_min", "less than v_max"),
        ({"algorithm": "sac", "policy_lr": -1}, "policy_lr", "a number > 0"),
        ({"algorithm": "dqn", "total_steps": 0}, "total_steps", "an integer >= 1"),
        ({"algorithm": "dqn", "num_envs": 2}, "num_envs", "asserts num_envs == 1"),
        ({"algorithm": "ppo", "target_kl": "x"}, "target_kl", "a number or null"),
    ],
)  # fmt: skip
def test_bad_values_name_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CleanRLConfig.from_dict({"run_id": "r1", **data})
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_subclass_refuses_another_algorithms_name() -> None:
    with pytest.raises(ConfigError, match="algorithm"):
        ALGORITHMS["sac"].from_dict({"run_id": "r1", "algorithm": "ppo"})


def test_mosaic_config_prints_cleanrls_help_and_defaults() -> None:
    done = mosaic("config", "cleanrl", "--algorithm", "ppo")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # the table wraps long help
    for expected in (
        "cleanrl config, algorithm 'ppo'",
        "learning_rate number > 0 default 0.00025 the learning rate of the optimizer",
        "Toggle learning rate annealing for policy and value networks",
        "gamma number >= 0, <= 1 default 0.99 the discount factor gamma",
        "cuda boolean default false if toggled, cuda will be enabled by default",
    ):
        assert expected in text, expected
    assert "wandb" not in text


def test_schema_from_mosaic_config_json_has_every_algorithm_documented_and_constrained() -> None:
    done = mosaic("config", "cleanrl", "--json")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    variants = {v["properties"]["algorithm"]["const"]: v for v in schema["oneOf"]}
    assert set(variants) == set(ALGORITHMS)
    for name, variant in variants.items():
        undocumented = [k for k, p in variant["properties"].items() if not p.get("description")]
        assert not undocumented, (name, undocumented)
        assert not set(variant["properties"]) & set(HIDDEN)
    ppo = variants["ppo"]["properties"]
    assert ppo["learning_rate"]["exclusiveMinimum"] == 0
    assert (ppo["gamma"]["minimum"], ppo["gamma"]["maximum"]) == (0, 1)
    assert ppo["num_envs"]["minimum"] == 1 and ppo["num_envs"]["default"] == 4
    validator = jsonschema.Draft202012Validator(schema)
    for name in ALGORITHMS:
        config = CleanRLConfig.from_dict({"run_id": "r1", "algorithm": name}).to_dict()
        assert not list(validator.iter_errors(config)), name
    assert list(validator.iter_errors({"run_id": "r1", "algorithm": "ppo", "gamma": 1.5}))
    assert list(validator.iter_errors({"run_id": "r1", "algorithm": "sac", "learning_rate": 1}))


@pytest.fixture(scope="module")
def without_cleanrl(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The ``mosaic`` of a new environment holding mosaic-core and this worker (without its
    heavy dependencies) but no CleanRL: where a user is before ``mosaic-cleanrl-setup``."""
    worker = pathlib.Path(__file__).resolve().parents[1]
    core = worker.parent / "mosaic-core"
    if not (core / "pyproject.toml").is_file():
        pytest.skip("needs the repository's packages/mosaic-core beside this worker")
    target = tmp_path_factory.mktemp("without-cleanrl") / "env"
    python = str(target / "bin" / "python")
    for command in (
        [sys.executable, "-m", "venv", str(target)],
        [python, "-m", "pip", "install", "-q", str(core)],
        [python, "-m", "pip", "install", "-q", "--no-deps", str(worker)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    return target / "bin" / "mosaic"


def test_without_cleanrl_the_worker_loads_and_every_command_names_the_fix(
    without_cleanrl: pathlib.Path, mosaic_home: pathlib.Path
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(without_cleanrl), *args], capture_output=True, text=True, timeout=120
        )

    listed = run("workers", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = [w for w in json.loads(listed.stdout)["workers"] if w["worker_type"] == "cleanrl"]
    assert row["status"] == "ok" and row["setup_module"] == "mosaic_cleanrl.setup"
    assert "mosaic-cleanrl-setup" in row["config_schema"]["description"]
    for args in (
        ("config", "cleanrl"),
        ("config", "cleanrl", "--algorithm", "ppo"),
        ("config", "cleanrl", "--json", "--algorithm", "sac"),
        ("run", "cleanrl", "--set", "algorithm=ppo", "--set", "learning_rate=0.001"),
    ):
        done = run(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "CleanRL is not installed in this environment" in done.stderr, args
        assert "run `mosaic-cleanrl-setup`" in done.stderr and "Traceback" not in done.stderr
    assert not (mosaic_home / "runs").exists() or not list((mosaic_home / "runs").iterdir())


SET_UP_WHILE_RUNNING = """
import subprocess, sys
from mosaic_core import ConfigError
from mosaic_cleanrl.config import ALGORITHMS, CleanRLConfig
try:
    CleanRLConfig.from_dict({"run_id": "r", "algorithm": "ppo"})
    sys.exit("a config was made without CleanRL")
except ConfigError as exc:
    assert "mosaic-cleanrl-setup" in str(exc), exc
subprocess.run([sys.argv[1]], check=True, capture_output=True)
config = CleanRLConfig.from_dict({"run_id": "r", "algorithm": "ppo"})
print(type(config).__name__, config.learning_rate, sorted(ALGORITHMS))
"""


def test_a_process_that_started_before_the_setup_reads_the_scripts_after_it(
    without_cleanrl: pathlib.Path,
) -> None:
    # A long-lived host (`mosaic ui`) imported the worker before `mosaic-cleanrl-setup` ran:
    # its next config is made from the scripts now installed, without a restart.
    # (Runs after the test above: it installs CleanRL into the shared environment.)
    python, setup = (
        without_cleanrl.parent / "python",
        without_cleanrl.parent / "mosaic-cleanrl-setup",
    )
    done = subprocess.run(
        [str(python), "-c", SET_UP_WHILE_RUNNING, str(setup)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    name, learning_rate, algorithms = done.stdout.split(" ", 2)
    assert (name, float(learning_rate)) == ("PPOConfig", 2.5e-4)
    assert "'sac'" in algorithms and "'dqn'" in algorithms


FOUND_FROM = """
import json, sys
from mosaic_cleanrl import scripts
from mosaic_cleanrl.config import CleanRLConfig
config = CleanRLConfig.from_dict({"run_id": "r1", "algorithm": "ppo", "learning_rate": 0.001})
print(json.dumps({
    "path": str(scripts.script_path("ppo")),
    "version": scripts.cleanrl_version(),
    "metadata": "importlib.metadata" in sys.modules,
    "learning_rate": config.learning_rate,
}))
"""


def test_the_scripts_are_the_installed_ones_found_without_importlib_metadata(tmp_path) -> None:
    """A CleanRL checkout in the current directory is not what the run's script imports
    (its interpreter starts in the run's directory), nor is a stray ``cleanrl/`` folder
    earlier on the path without the script: the flags come from the installed package.
    Finding it reads no distribution's metadata (~15 ms of each start)."""
    from importlib import metadata

    installed = str(metadata.distribution("cleanrl").locate_file("cleanrl/ppo.py"))
    checkout = tmp_path / "cleanrl"
    checkout.mkdir()
    (checkout / "__init__.py").write_text("")
    (checkout / "ppo.py").write_text("def parse_args():\n    pass\n")  # declares no flag
    stray = tmp_path / "elsewhere" / "cleanrl"  # a namespace package's piece, no scripts
    stray.mkdir(parents=True)
    for env in ({}, {"PYTHONPATH": str(stray.parent)}):
        done = subprocess.run([sys.executable, "-c", FOUND_FROM], cwd=tmp_path, text=True,
                              capture_output=True, timeout=120, check=True,
                              env={**os.environ, **env})  # fmt: skip
        found = json.loads(done.stdout)
        assert found == {"path": installed, "version": "1.2.0", "metadata": False,
                         "learning_rate": 0.001}, env  # fmt: skip
