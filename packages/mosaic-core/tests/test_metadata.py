from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from mosaic_core import ConfigError, WorkerCapabilities, WorkerMetadata
from mosaic_core._metadata import ACTION_SPACES, OBSERVATION_SPACES, PARADIGMS


def caps(**fields: Any) -> WorkerCapabilities:
    return WorkerCapabilities(**{"worker_type": "toy", **fields})


# -- WorkerMetadata ---------------------------------------------------------------


def test_metadata_from_the_original_guide_gets_defaults() -> None:
    meta = WorkerMetadata(name="CleanRL Worker", version="1.0.0")
    assert meta.description == ""
    assert meta.author == ""
    assert meta.homepage is None
    assert meta.upstream_library is None
    assert meta.license is None


@pytest.mark.parametrize("field", ["name", "version"])
@pytest.mark.parametrize("value", ["", "   ", None, 1])
def test_metadata_rejects_empty_name_and_version(field: str, value: Any) -> None:
    fields = {"name": "w", "version": "1", field: value}
    with pytest.raises(ConfigError, match=f"WorkerMetadata.{field}") as info:
        WorkerMetadata(**fields)
    assert info.value.field == f"WorkerMetadata.{field}"
    assert "a non-empty string" in str(info.value)


@pytest.mark.parametrize(
    "field",
    ["description", "author", "homepage", "upstream_library", "upstream_version", "license"],
)
def test_metadata_rejects_non_string_optional_fields(field: str) -> None:
    with pytest.raises(ConfigError, match=f"WorkerMetadata.{field}.*a string or None"):
        WorkerMetadata(name="w", version="1", **{field: 3})


def test_metadata_is_frozen() -> None:
    meta = WorkerMetadata(name="w", version="1")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        meta.name = "other"  # type: ignore[misc]


def test_metadata_round_trips_through_json() -> None:
    meta = WorkerMetadata(
        name="CleanRL", version="2.0", upstream_library="cleanrl", upstream_version="1.2"
    )
    assert WorkerMetadata.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta


def test_metadata_from_dict_rejects_unknown_key_with_suggestion() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown key 'versoin' \(did you mean 'version'\?\)"
    ) as info:
        WorkerMetadata.from_dict({"name": "w", "versoin": "1"})
    assert info.value.field == "versoin"


def test_metadata_from_dict_rejects_non_object() -> None:
    with pytest.raises(ConfigError, match=r"a JSON object"):
        WorkerMetadata.from_dict(["name", "w"])  # type: ignore[arg-type]


# -- WorkerCapabilities: defaults and conversions ----------------------------------


def test_capabilities_from_the_original_guide_get_defaults() -> None:
    c = WorkerCapabilities(
        worker_type="cleanrl",
        supported_paradigms=("sequential",),
        env_families=("gymnasium",),
        action_spaces=("discrete", "continuous"),
        observation_spaces=("vector", "image"),
        max_agents=1,
        supports_checkpointing=True,
        requires_gpu=False,
    )
    assert c.supports_self_play is False
    assert c.supports_population is False
    assert c.supports_pause_resume is False
    assert c.gpu_memory_mb is None
    assert c.cpu_cores == 1
    assert c.estimated_memory_mb is None
    assert not c.is_multi_agent


def test_capabilities_turn_lists_into_tuples_and_a_bare_word_into_one_entry() -> None:
    c = caps(action_spaces=["discrete", "continuous"], observation_spaces="image")
    assert c.action_spaces == ("discrete", "continuous")
    assert c.observation_spaces == ("image",)


@pytest.mark.parametrize("worker_type", ["cleanrl", "xuance", "ray-rllib", "llm_2", "a"])
def test_capabilities_accept_lower_case_worker_types(worker_type: str) -> None:
    assert caps(worker_type=worker_type).worker_type == worker_type


@pytest.mark.parametrize(
    "worker_type", ["CleanRL", "1cleanrl", "clean rl", "clean.rl", "", "-x", "x/y", None, 7]
)
def test_capabilities_reject_worker_types_outside_the_pattern(worker_type: Any) -> None:
    with pytest.raises(ConfigError, match=r"worker_type.*\[a-z\]\[a-z0-9_-\]\*") as info:
        caps(worker_type=worker_type)
    assert info.value.field == "WorkerCapabilities.worker_type"


@pytest.mark.parametrize("value", [0, -1, True, "2", 1.5, None])
def test_capabilities_reject_max_agents_below_one_or_not_an_integer(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"max_agents.*an integer >= 1"):
        caps(max_agents=value)


@pytest.mark.parametrize("value", [0, -2, False])
def test_capabilities_reject_cpu_cores_below_one(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"cpu_cores"):
        caps(cpu_cores=value)


@pytest.mark.parametrize("field", ["gpu_memory_mb", "estimated_memory_mb"])
def test_capabilities_memory_fields_accept_none_or_non_negative(field: str) -> None:
    assert getattr(caps(**{field: None}), field) is None
    assert getattr(caps(**{field: 0}), field) == 0
    with pytest.raises(ConfigError, match=f"{field}.*an integer >= 0 or None"):
        caps(**{field: -1})


@pytest.mark.parametrize(
    "field",
    [
        "supports_self_play",
        "supports_population",
        "supports_checkpointing",
        "supports_pause_resume",
        "requires_gpu",
    ],
)
@pytest.mark.parametrize("value", [1, "yes", None])
def test_capabilities_flags_must_be_booleans(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"{field}.*True or False"):
        caps(**{field: value})


# -- vocabularies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "word", "suggestion"),
    [
        ("supported_paradigms", "sequentail", "sequential"),
        ("action_spaces", "discreet", "discrete"),
        ("observation_spaces", "imag", "image"),
    ],
)
def test_capabilities_reject_unknown_words_with_suggestion(
    field: str, word: str, suggestion: str
) -> None:
    with pytest.raises(ConfigError, match=f"did you mean '{suggestion}'") as info:
        caps(**{field: (word,)})
    assert info.value.field == f"WorkerCapabilities.{field}"
    assert info.value.value == word


@pytest.mark.parametrize(
    ("field", "vocabulary"),
    [
        ("supported_paradigms", PARADIGMS),
        ("action_spaces", ACTION_SPACES),
        ("observation_spaces", OBSERVATION_SPACES),
    ],
)
def test_capabilities_list_the_vocabulary_for_an_unknown_word(
    field: str, vocabulary: frozenset[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        caps(**{field: ("zzzz",)}, max_agents=8)
    assert str(sorted(vocabulary)) in str(info.value)


@pytest.mark.parametrize(
    "field", ["supported_paradigms", "env_families", "action_spaces", "observation_spaces"]
)
def test_capabilities_reject_empty_word_lists(field: str) -> None:
    with pytest.raises(ConfigError, match=r"at least one entry"):
        caps(**{field: ()})


@pytest.mark.parametrize("field", ["supported_paradigms", "action_spaces", "env_families"])
def test_capabilities_reject_non_string_words(field: str) -> None:
    with pytest.raises(ConfigError, match=r"a string"):
        caps(**{field: (3,)})


@pytest.mark.parametrize("family", ["Gymnasium", "pettingzoo zoo", "1env", ""])
def test_capabilities_env_families_must_be_lower_case_identifiers(family: str) -> None:
    with pytest.raises(ConfigError, match=r"env_families.*lower-case identifier"):
        caps(env_families=(family,))


def test_capabilities_accept_any_lower_case_env_family() -> None:
    assert caps(env_families=("pettingzoo", "meltingpot.v2")).env_families == (
        "pettingzoo",
        "meltingpot.v2",
    )


# -- rules between fields ----------------------------------------------------------


MULTI_AGENT_PARADIGMS = {
    "parameter_sharing",
    "independent",
    "centralized_critic",
    "self_play",
    "population",
    "multi_agent",
}


@pytest.mark.parametrize("paradigm", sorted(MULTI_AGENT_PARADIGMS))
def test_multi_agent_paradigm_with_one_agent_is_rejected(paradigm: str) -> None:
    with pytest.raises(
        ConfigError, match=f"at least 2 for the multi-agent paradigms.*{paradigm}"
    ) as info:
        caps(supported_paradigms=("sequential", paradigm), max_agents=1)
    assert info.value.field == "WorkerCapabilities.max_agents"


@pytest.mark.parametrize("paradigm", sorted(PARADIGMS - MULTI_AGENT_PARADIGMS))
def test_other_paradigms_work_with_one_agent(paradigm: str) -> None:
    assert caps(supported_paradigms=(paradigm,)).max_agents == 1


def test_multi_agent_paradigm_with_two_agents_is_accepted() -> None:
    c = caps(supported_paradigms=("parameter_sharing", "independent"), max_agents=2)
    assert c.is_multi_agent


def test_llm_agent_paradigm_is_single_agent() -> None:
    assert caps(supported_paradigms=("llm_agent",), action_spaces=("text",)).max_agents == 1


def test_self_play_with_one_agent_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"at least 2 with self-play"):
        caps(supports_self_play=True)


def test_capabilities_round_trip_through_json() -> None:
    c = caps(
        supported_paradigms=("sequential", "self_play"),
        env_families=("gymnasium", "pettingzoo"),
        action_spaces=("discrete", "multi_discrete"),
        max_agents=4,
        supports_self_play=True,
        gpu_memory_mb=2048,
    )
    assert WorkerCapabilities.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_capabilities_from_dict_rejects_unknown_key_with_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'max_agents'"):
        WorkerCapabilities.from_dict({"worker_type": "toy", "max_agent": 2})


def test_capabilities_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        caps().max_agents = 3  # type: ignore[misc]
