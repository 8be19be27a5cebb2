from __future__ import annotations

import dataclasses
import enum
import json
import pathlib
from collections.abc import Mapping
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mosaic_core import (
    ConfigError,
    TrainingConfigBase,
    WorkerConfig,
    WorkerConfigBase,
    load_worker_config,
)
from mosaic_core._config import check_run_id, extract_worker_config


class Device(enum.Enum):
    CPU = "cpu"
    CUDA = "cuda"


@dataclasses.dataclass(frozen=True)
class Schedule:
    start: float
    end: float = 0.0
    kind: Literal["linear", "cosine"] = "linear"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PPOConfig(TrainingConfigBase):
    env_id: str = "CartPole-v1"
    algorithm: str = "ppo"
    learning_rate: float = 2.5e-4
    num_envs: int = 4
    anneal_lr: bool = True
    capture_video: bool = False
    max_grad_norm: float | None = None
    policy: Literal["mlp", "cnn"] = "mlp"
    hidden_sizes: tuple[int, ...] = (64, 64)
    tags: list[str] = dataclasses.field(default_factory=list)
    coefficients: dict[str, float] = dataclasses.field(default_factory=dict)
    device: Device = Device.CPU
    output_dir: pathlib.Path = pathlib.Path("out")
    schedule: Schedule | None = None
    window: tuple[int, str] = (1, "a")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MinimalConfig(WorkerConfigBase):
    """Only what the protocol requires."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class RequiredConfig(TrainingConfigBase):
    """``env_id`` and ``algorithm`` stay required, as in TrainingConfigBase."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class RangeConfig(WorkerConfigBase):
    low: int = 0
    high: int = 10

    def validate(self) -> None:
        if self.low > self.high:
            raise ConfigError.bad_value("low", self.low, f"at most high ({self.high})")


def ppo(**fields: Any) -> PPOConfig:
    return PPOConfig.from_dict({"run_id": "run-1", **fields})


# -- round trips ---------------------------------------------------------------

RUN_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True).filter(
    lambda s: ".." not in s
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=20)
SCHEDULES = st.builds(
    Schedule, start=FLOATS, end=FLOATS, kind=st.sampled_from(["linear", "cosine"])
)
#: Integers a config takes: 64 bits, what JSON configs, SQLite and the workers hold.
INT64 = st.integers(-(2**63), 2**63 - 1)
PPO_CONFIGS = st.builds(
    PPOConfig,
    run_id=RUN_IDS,
    seed=st.none() | INT64,
    env_id=TEXT.filter(str.strip),
    algorithm=TEXT.filter(str.strip),
    total_steps=st.integers(min_value=1, max_value=2**63 - 1),
    learning_rate=FLOATS | st.integers(-(10**6), 10**6),
    num_envs=INT64,
    anneal_lr=st.booleans(),
    max_grad_norm=st.none() | FLOATS,
    policy=st.sampled_from(["mlp", "cnn"]),
    hidden_sizes=st.lists(INT64, max_size=5).map(tuple),
    tags=st.lists(TEXT, max_size=4),
    coefficients=st.dictionaries(TEXT, FLOATS, max_size=4),
    device=st.sampled_from(Device),
    output_dir=st.lists(
        st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), min_size=1, max_size=3
    ).map(lambda parts: pathlib.Path(*parts)),
    schedule=st.none() | SCHEDULES,
    window=st.tuples(INT64, TEXT),
)


@given(PPO_CONFIGS)
def test_config_round_trips_through_dict(config: PPOConfig) -> None:
    data = config.to_dict()
    assert json.loads(json.dumps(data)) == data, "to_dict() must be JSON-ready"
    assert PPOConfig.from_dict(data) == config


@given(PPO_CONFIGS)
def test_config_round_trips_through_json(config: PPOConfig) -> None:
    assert PPOConfig.from_json(config.to_json()) == config
    assert PPOConfig.from_json(config.to_json(indent=None)) == config


@given(RUN_IDS, st.none() | INT64)
def test_minimal_config_round_trips(run_id: str, seed: int | None) -> None:
    config = MinimalConfig(run_id=run_id, seed=seed)
    assert config.to_dict() == {"run_id": run_id, "seed": seed}
    assert MinimalConfig.from_json(config.to_json()) == config


def test_config_base_satisfies_worker_config_protocol() -> None:
    assert isinstance(ppo(), WorkerConfig)


def test_json_lists_become_declared_tuples_and_ints_become_floats() -> None:
    config = ppo(hidden_sizes=[32, 16], learning_rate=1, window=[2, "b"])
    assert config.hidden_sizes == (32, 16)
    assert config.window == (2, "b")
    assert config.learning_rate == 1.0
    assert isinstance(config.learning_rate, float)


def test_nested_dataclass_enum_and_path_are_built_from_json_values() -> None:
    config = ppo(schedule={"start": 1, "kind": "cosine"}, device="cuda", output_dir="runs/x")
    assert config.schedule == Schedule(start=1.0, kind="cosine")
    assert config.device is Device.CUDA
    assert config.output_dir == pathlib.Path("runs/x")


def test_replace_checks_the_new_values() -> None:
    assert ppo().replace(num_envs=8).num_envs == 8
    with pytest.raises(ConfigError, match=r"num_envs"):
        ppo().replace(num_envs="8")


# -- wrong types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("total_steps", "5000", "an integer"),
        ("total_steps", 5000.5, "an integer"),
        ("total_steps", True, "an integer"),
        ("num_envs", None, "an integer"),
        ("learning_rate", "0.1", "a number"),
        ("learning_rate", False, "a number"),
        ("anneal_lr", 1, "true or false"),
        ("anneal_lr", "true", "true or false"),
        ("env_id", 3, "a string"),
        ("seed", "42", "an integer or null"),
        ("max_grad_norm", "0.5", "a number or null"),
        ("hidden_sizes", 64, "a list"),
        ("tags", "a,b", "a list"),
        ("coefficients", [1.0], "a JSON object"),
        ("output_dir", 5, "a path string"),
        ("schedule", 0.5, "Schedule or null"),
    ],
)
def test_wrong_type_names_field_value_and_expectation(
    field: str, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ppo(**{field: value})
    message = str(info.value)
    assert info.value.field == field
    assert info.value.value == value
    assert f"config field {field!r}: got {value!r} ({type(value).__name__})" in message
    assert expected in message


def test_wrong_item_type_names_the_index() -> None:
    with pytest.raises(ConfigError, match=r"'hidden_sizes\[1\]': got 'wide' \(str\)") as info:
        ppo(hidden_sizes=[64, "wide"])
    assert info.value.field == "hidden_sizes[1]"


def test_wrong_mapping_value_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        ppo(coefficients={"vf": "high"})
    assert info.value.field == "coefficients.vf"


def test_wrong_tuple_length_says_how_many_items() -> None:
    with pytest.raises(ConfigError, match=r"2 items"):
        ppo(window=[1, "a", "extra"])


def test_literal_rejects_other_words_with_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"one of 'mlp', 'cnn' \(did you mean 'cnn'\?\)"):
        ppo(policy="cnm")


def test_literal_of_ints_rejects_booleans() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Frames(WorkerConfigBase):
        stack: Literal[1, 4] = 4

    assert Frames(run_id="r", stack=1).stack == 1
    with pytest.raises(ConfigError, match=r"stack"):
        Frames(run_id="r", stack=True)  # type: ignore[arg-type]


def test_enum_rejects_unknown_value() -> None:
    with pytest.raises(ConfigError, match=r"device.*one of 'cpu', 'cuda'"):
        ppo(device="tpu")


def test_nested_unknown_key_is_named_with_its_path_and_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"schedule\.strat \(did you mean 'start'\?\)") as info:
        ppo(schedule={"strat": 1.0})
    assert info.value.field == "schedule.strat"


def test_nested_wrong_type_is_named_with_its_path() -> None:
    with pytest.raises(ConfigError) as info:
        ppo(schedule={"start": "soon"})
    assert info.value.field == "schedule.start"


def test_nested_missing_field_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"schedule"):
        ppo(schedule={"end": 1.0})


# -- unknown and missing keys ------------------------------------------------------


def test_unknown_key_suggests_the_closest_field() -> None:
    with pytest.raises(ConfigError) as info:
        ppo(learning_rat=0.1)
    message = str(info.value)
    assert "unknown config key 'learning_rat' for PPOConfig" in message
    assert "(did you mean 'learning_rate'?)" in message
    assert "known keys:" in message and "num_envs" in message
    assert info.value.field == "learning_rat"
    assert info.value.value == 0.1


def test_unknown_key_far_from_every_field_lists_known_keys() -> None:
    with pytest.raises(ConfigError, match=r"known keys: algorithm, anneal_lr") as info:
        ppo(zzzzzz=1)
    assert "did you mean" not in str(info.value)


def test_missing_required_field_is_named() -> None:
    with pytest.raises(ConfigError, match=r"missing required field 'run_id'") as info:
        PPOConfig.from_dict({})
    assert info.value.field == "run_id"


def test_every_missing_required_field_is_listed() -> None:
    with pytest.raises(
        ConfigError, match=r"missing required field 'run_id'.*also missing: env_id, algorithm"
    ):
        RequiredConfig.from_dict({})


@pytest.mark.parametrize("data", [[1, 2], "run", 3, None])
def test_from_dict_rejects_non_objects(data: Any) -> None:
    with pytest.raises(ConfigError, match=r"a JSON object of config fields"):
        PPOConfig.from_dict(data)


# -- common fields and run ids -----------------------------------------------------


@pytest.mark.parametrize("value", [0, -5])
def test_total_steps_must_be_positive(value: int) -> None:
    with pytest.raises(ConfigError, match=r"total_steps.*an integer >= 1"):
        ppo(total_steps=value)


def test_checkpoint_every_is_a_common_field_off_by_default() -> None:
    assert ppo().checkpoint_every is None
    assert ppo(checkpoint_every=1e4).checkpoint_every == 10_000
    for value in (0, -1):
        with pytest.raises(ConfigError, match=r"checkpoint_every.*an integer >= 1"):
            ppo(checkpoint_every=value)
    schema = PPOConfig.json_schema()["properties"]["checkpoint_every"]
    assert schema["minimum"] == 1 and schema["default"] is None
    assert "save a checkpoint every this many environment steps" in schema["description"]


@pytest.mark.parametrize("field", ["env_id", "algorithm"])
def test_env_id_and_algorithm_must_not_be_blank(field: str) -> None:
    with pytest.raises(ConfigError, match=f"{field}.*a non-empty string"):
        ppo(**{field: "  "})


def test_validate_hook_checks_rules_between_fields() -> None:
    assert RangeConfig(run_id="r", low=1, high=2).low == 1
    with pytest.raises(ConfigError, match=r"'low': got 5 \(int\); expected at most high \(2\)"):
        RangeConfig.from_dict({"run_id": "r", "low": 5, "high": 2})


@pytest.mark.parametrize("run_id", ["01HZX3K9V8", "run-1", "a", "my_run.2024-05-01", "A" * 128])
def test_check_run_id_accepts_safe_names(run_id: str) -> None:
    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize(
    "run_id",
    [
        "a/b",
        "/abs",
        "a\\b",
        "..",
        "a..b",
        "../etc",
        "",
        ".hidden",
        "-flag",
        "run id",
        "run\n",
        "A" * 129,
        5,
        None,
    ],
)
def test_check_run_id_rejects_unsafe_names(run_id: Any) -> None:
    with pytest.raises(ConfigError, match=r"no path separator and no '..'") as info:
        check_run_id(run_id)
    assert info.value.field == "run_id"


def test_config_with_path_in_run_id_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        PPOConfig.from_dict({"run_id": "../escape"})
    assert info.value.field == "run_id"


# -- documents and files -----------------------------------------------------------


def test_extract_reads_direct_config() -> None:
    assert extract_worker_config({"run_id": "r", "seed": 1}) == {"run_id": "r", "seed": 1}


def test_extract_reads_nested_config() -> None:
    doc = {"metadata": {"worker": {"type": "cleanrl", "config": {"run_id": "r"}}}}
    assert extract_worker_config(doc) == {"run_id": "r"}


@pytest.mark.parametrize("worker", [None, "cleanrl", {"type": "cleanrl"}, {"config": [1]}])
def test_extract_rejects_nested_worker_without_config_object(worker: Any) -> None:
    with pytest.raises(ConfigError, match=r"'metadata.worker' must be an object") as info:
        extract_worker_config({"metadata": {"worker": worker}}, "cfg.json")
    assert info.value.field == "metadata.worker.config"
    assert str(info.value).startswith("cfg.json: ")


@pytest.mark.parametrize("document", [[1], "x", 3, None])
def test_extract_rejects_non_objects(document: Any) -> None:
    with pytest.raises(ConfigError, match=f"must be a JSON object, got {type(document).__name__}"):
        extract_worker_config(document)


def write(path: pathlib.Path, document: Any) -> pathlib.Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_load_reads_direct_file(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "c.json", {"run_id": "r", "num_envs": 2})
    assert load_worker_config(path, PPOConfig) == ppo(run_id="r", num_envs=2)


def test_load_reads_nested_file(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "c.json", {"metadata": {"worker": {"config": {"run_id": "r"}}}})
    assert load_worker_config(str(path), PPOConfig).run_id == "r"


def test_load_accepts_a_mapping() -> None:
    assert load_worker_config({"run_id": "r"}, PPOConfig).run_id == "r"


def test_load_defaults_fill_only_missing_keys(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "c.json", {"num_envs": 2})
    assert load_worker_config(path, PPOConfig, defaults={"run_id": "sup"}).run_id == "sup"
    path = write(tmp_path / "c.json", {"run_id": "mine"})
    assert load_worker_config(path, PPOConfig, defaults={"run_id": "sup"}).run_id == "mine"


def test_load_overrides_replace_keys(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "c.json", {"run_id": "r", "num_envs": 2})
    config = load_worker_config(path, PPOConfig, overrides={"num_envs": 16, "seed": 3})
    assert (config.num_envs, config.seed) == (16, 3)


def test_load_malformed_json_names_file_line_and_column(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{\n  "run_id": "r",\n  "seed": ,\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"malformed JSON at line 3 column 11") as info:
        load_worker_config(path, PPOConfig)
    assert str(info.value).startswith(str(path))
    assert info.value.expected == "valid JSON"


def test_from_json_rejects_malformed_json() -> None:
    with pytest.raises(ConfigError, match=r"<string>: malformed JSON"):
        PPOConfig.from_json("{'run_id': 'r'}")


@pytest.mark.parametrize("document", [[{"run_id": "r"}], "r", 1, None])
def test_load_rejects_non_object_file(tmp_path: pathlib.Path, document: Any) -> None:
    path = write(tmp_path / "c.json", document)
    with pytest.raises(ConfigError, match=r"must be a JSON object"):
        load_worker_config(path, PPOConfig)


def test_load_missing_file_is_a_config_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope.json"):
        load_worker_config(tmp_path / "nope.json", PPOConfig)


def test_load_directory_is_a_config_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file"):
        load_worker_config(tmp_path, PPOConfig)


def test_load_invalid_utf8_is_a_config_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'{"run_id": "\xff"}')
    with pytest.raises(ConfigError, match=r"cannot read config file"):
        load_worker_config(path, PPOConfig)


def test_load_prefixes_field_errors_with_the_file_name(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "c.json", {"run_id": "r", "num_envs": "four"})
    with pytest.raises(ConfigError) as info:
        load_worker_config(path, PPOConfig)
    assert str(info.value).startswith(f"{path}: config field 'num_envs'")
    assert info.value.field == "num_envs"


def test_load_unknown_key_in_nested_file_suggests_field(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path / "c.json", {"metadata": {"worker": {"config": {"run_id": "r", "num_env": 2}}}}
    )
    with pytest.raises(ConfigError, match=r"did you mean 'num_envs'"):
        load_worker_config(path, PPOConfig)


def test_mapping_annotation_builds_a_dict() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Env(WorkerConfigBase):
        kwargs: Mapping[str, int] = dataclasses.field(default_factory=dict)

    assert Env.from_dict({"run_id": "r", "kwargs": {"a": 1}}).kwargs == {"a": 1}
    with pytest.raises(ConfigError, match=r"kwargs.a"):
        Env.from_dict({"run_id": "r", "kwargs": {"a": "1"}})
