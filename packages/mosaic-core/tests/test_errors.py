from __future__ import annotations

import json

import pytest

from mosaic_core import (
    ConfigError,
    ManifestError,
    MosaicError,
    PluginError,
    ProtocolError,
    RunCancelled,
    did_you_mean,
)


@pytest.mark.parametrize("cls", [ConfigError, ManifestError, PluginError, ProtocolError])
def test_every_error_is_a_mosaic_error(cls: type[Exception]) -> None:
    assert issubclass(cls, MosaicError)


@pytest.mark.parametrize("cls", [ConfigError, ManifestError])
def test_bad_value_errors_are_value_errors(cls: type[Exception]) -> None:
    assert issubclass(cls, ValueError)


def test_run_cancelled_escapes_except_exception() -> None:
    with pytest.raises(RunCancelled):
        try:
            raise RunCancelled("SIGTERM")
        except Exception:
            pytest.fail("RunCancelled was swallowed by `except Exception`")
    assert not issubclass(RunCancelled, Exception)


def test_bad_value_names_field_value_with_type_and_expectation() -> None:
    exc = ConfigError.bad_value("learning_rate", "5", "a number > 0")
    assert str(exc) == "config field 'learning_rate': got '5' (str); expected a number > 0"
    assert (exc.field, exc.value, exc.expected, exc.hint) == (
        "learning_rate",
        "5",
        "a number > 0",
        None,
    )


def test_bad_value_appends_hint() -> None:
    exc = ConfigError.bad_value("seed", -1, "an integer >= 0", hint="use null for a random seed")
    assert str(exc).endswith("(use null for a random seed)")
    assert exc.hint == "use null for a random seed"


def test_bad_value_shortens_long_values() -> None:
    exc = ConfigError.bad_value("notes", "x" * 500, "a short string")
    assert "..." in str(exc)
    assert len(str(exc)) < 200
    assert exc.value == "x" * 500


def test_config_error_to_dict_is_json_ready() -> None:
    exc = ConfigError.bad_value("total_steps", 0, "an integer >= 1")
    data = json.loads(json.dumps(exc.to_dict()))
    assert data == {
        "error": str(exc),
        "error_type": "ConfigError",
        "field": "total_steps",
        "expected": "an integer >= 1",
    }


def test_plugin_error_records_plugin() -> None:
    assert PluginError("boom", plugin="cleanrl").plugin == "cleanrl"


def test_did_you_mean_suggests_closest_choice() -> None:
    assert (
        did_you_mean("learning_rat", ["learning_rate", "seed"])
        == " (did you mean 'learning_rate'?)"
    )


def test_did_you_mean_is_empty_without_a_close_choice() -> None:
    assert did_you_mean("zzz", ["learning_rate", "seed"]) == ""
    assert did_you_mean("x", []) == ""
