"""Checks of the config class, in process: protocol, round trips, files, errors."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mosaic_core._errors import ConfigError
from mosaic_core.conformance._outcomes import CheckFailed, describe

if TYPE_CHECKING:
    from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = [
    "CHECK_RUN_ID",
    "base_document",
    "check_config_errors",
    "check_config_files",
    "check_config_protocol",
    "check_config_round_trip",
]

#: The run id the in-process config checks use.
CHECK_RUN_ID = "conformance-check"

#: The fields every training config has (TrainingConfigBase): not the worker's own.
_COMMON = ("env_id", "algorithm", "total_steps")

_DERIVE = "derive the config from mosaic_core.TrainingConfigBase (or WorkerConfigBase)"


def base_document(kit: WorkerUnderTest) -> dict[str, Any]:
    """The smoke config with the kit's run id: the config every in-process check starts from."""
    smoke = kit.spec.smoke_config
    return {**dict(smoke or {}), "run_id": CHECK_RUN_ID}


def _build(kit: WorkerUnderTest, document: Mapping[str, Any], what: str) -> Any:
    cls = kit.spec.config_class
    try:
        return cls.from_dict(document)
    except ConfigError as exc:
        raise CheckFailed(
            f"{cls.__name__}.from_dict rejected {what} {describe(dict(document))}: {exc}"
            + ("" if kit.spec.smoke_config else "; set WorkerSpec.smoke_config to a valid config")
        ) from None
    except Exception as exc:  # noqa: BLE001 - anything but ConfigError is the finding
        raise CheckFailed(
            f"{cls.__name__}.from_dict raised {type(exc).__name__}: {exc} on {what}; a config "
            f"class raises mosaic_core.ConfigError for what it cannot accept ({_DERIVE})"
        ) from None


def _to_dict(config: Any) -> dict[str, Any]:
    data = config.to_dict()
    if not isinstance(data, dict):
        raise CheckFailed(
            f"{type(config).__name__}.to_dict() returned {type(data).__name__}; expected a dict"
        )
    return data


def check_config_protocol(kit: WorkerUnderTest) -> str:
    """The config class builds from the smoke config and meets the ``WorkerConfig`` protocol."""
    from mosaic_core._protocols import WorkerConfig

    spec = kit.spec
    smoke = spec.smoke_config
    if smoke is not None and "run_id" in smoke:
        raise CheckFailed(
            "WorkerSpec.smoke_config contains run_id; leave it out: the supervisor gives every "
            "run its own id"
        )
    config = _build(kit, base_document(kit), "the smoke config")
    name = type(config).__name__
    missing = [a for a in ("run_id", "seed", "to_dict", "from_dict") if not hasattr(config, a)]
    if missing:
        raise CheckFailed(
            f"{name} lacks {', '.join(missing)}: the WorkerConfig protocol needs run_id: str, "
            f"seed: int | None, to_dict() and the classmethod from_dict(); {_DERIVE}"
        )
    if config.run_id != CHECK_RUN_ID:
        raise CheckFailed(
            f"{name}.from_dict({{..., 'run_id': {CHECK_RUN_ID!r}}}).run_id is "
            f"{describe(config.run_id)}; the config must keep the run id it is given"
        )
    if config.seed is not None and (
        isinstance(config.seed, bool) or not isinstance(config.seed, int)
    ):
        raise CheckFailed(f"{name}.seed is {describe(config.seed)}; expected an int or None")
    if not isinstance(config, WorkerConfig):
        raise CheckFailed(f"{name} does not satisfy mosaic_core.WorkerConfig; {_DERIVE}")
    return f"{name}, built from smoke_config {describe(dict(smoke or {}))}"


def check_config_round_trip(kit: WorkerUnderTest) -> str:
    """``from_dict(to_dict())`` and a trip through JSON give the same config, seed included."""
    for document in (base_document(kit), {**base_document(kit), "seed": 12345}):
        config = _build(kit, document, "the smoke config")
        name = type(config).__name__
        data = _to_dict(config)
        try:
            text = json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise CheckFailed(
                f"{name}.to_dict() is not JSON-serialisable ({exc}); return JSON types only"
            ) from None
        if dataclasses.is_dataclass(config):
            left_out = [f.name for f in dataclasses.fields(config) if f.init and f.name not in data]
            if left_out:
                raise CheckFailed(
                    f"{name}.to_dict() leaves out {', '.join(left_out)}, so "
                    "from_dict(to_dict()) changed the config: to_dict() must list every field"
                )
        again = _build(kit, json.loads(text), f"its own to_dict() {describe(data)}")
        if _to_dict(again) != data:
            raise CheckFailed(
                f"{name}.from_dict(to_dict()) changed the config:\n  before {describe(data, 400)}"
                f"\n  after  {describe(_to_dict(again), 400)}\nto_dict() must list every field "
                "and from_dict() must read every one back"
            )
        if again != config and _defines_eq(type(config)):
            raise CheckFailed(f"{name}.from_dict(to_dict()) is not == the original config")
        if document.get("seed") == 12345 and getattr(config, "seed", None) != 12345:
            raise CheckFailed(f"{name}.from_dict ignored seed=12345 (got {config.seed!r})")
    return f"{len(data)} fields survive to_dict()/from_dict() and JSON"


def check_config_files(kit: WorkerUnderTest) -> str:
    """The SDK's loader reads the config from a direct and from a nested JSON file alike."""
    from mosaic_core._config import load_worker_config

    document = base_document(kit)
    expected = _to_dict(_build(kit, document, "the smoke config"))
    folder = os.path.join(kit.workdir, "config-files")
    os.makedirs(folder, exist_ok=True)
    forms = {
        "direct": document,
        "nested": {"metadata": {"ui": {"tab": "train"}, "worker": {"config": document}}},
    }
    for form, content in forms.items():
        path = os.path.join(folder, f"{form}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(content, handle)
        try:
            loaded = load_worker_config(path, kit.spec.config_class)
        except Exception as exc:  # noqa: BLE001 - reported as the finding
            raise CheckFailed(
                f"loading the {form} config file {path} failed: {type(exc).__name__}: {exc}"
            ) from None
        if _to_dict(loaded) != expected:
            raise CheckFailed(
                f"the {form} config file gave {describe(_to_dict(loaded), 300)}; expected "
                f"{describe(expected, 300)}"
            )
    return "direct and nested (metadata.worker.config) files load the same config"


def _defines_eq(cls: type) -> bool:
    return any("__eq__" in vars(klass) for klass in cls.__mro__[:-1])


def _mangle(name: str) -> str:
    """A near miss of a field name, for the did-you-mean."""
    return name[:-1] + ("x" if name[-1] != "x" else "y")


def _expect_config_error(
    kit: WorkerUnderTest, document: dict[str, Any], field: str, what: str
) -> str:
    cls = kit.spec.config_class
    try:
        cls.from_dict(document)
    except ConfigError as exc:
        message = str(exc)
        if field not in message:
            raise CheckFailed(
                f"{cls.__name__}.from_dict raised ConfigError for {what} but its message does "
                f"not name the field {field!r}: {message!r}; say which field, the value and what "
                "was expected (ConfigError.bad_value does)"
            ) from None
        return message
    except Exception as exc:  # noqa: BLE001 - the wrong exception is the finding
        raise CheckFailed(
            f"{cls.__name__}.from_dict raised {type(exc).__name__} for {what}: {exc}; it must "
            f"raise mosaic_core.ConfigError naming the field ({_DERIVE})"
        ) from None
    raise CheckFailed(
        f"{cls.__name__}.from_dict accepted {what}; it must raise mosaic_core.ConfigError "
        f"naming the field, the value and what was expected ({_DERIVE})"
    )


def check_config_errors(kit: WorkerUnderTest) -> str:
    """Bad values and unknown keys raise ``ConfigError`` naming the field, with a did-you-mean."""
    document = base_document(kit)
    fields = _to_dict(_build(kit, document, "the smoke config"))
    # An unknown key one letter off a real one: rejected, with a did-you-mean.
    target = next((k for k in fields if k not in ("run_id", "seed") and len(k) > 3), "seed")
    wrong = _mangle(target)
    message = _expect_config_error(
        kit, {**document, wrong: fields.get(target)}, wrong, f"the unknown key {wrong!r}"
    )
    if target not in message.partition(";")[0] or "did you mean" not in message:
        raise CheckFailed(
            f"the ConfigError for the unknown key {wrong!r} offers no did-you-mean for "
            f"{target!r}: {message!r}; use mosaic_core._errors.did_you_mean, or {_DERIVE}"
        )
    # Bad values any config must reject: a run id that escapes its directory, a word as seed.
    _expect_config_error(kit, {**document, "run_id": "../escape"}, "run_id", "run_id='../escape'")
    _expect_config_error(kit, {**document, "seed": "not-a-seed"}, "seed", "seed='not-a-seed'")
    # A word where a number is wanted: in the worker's own first numeric field, or in
    # total_steps (TrainingConfigBase's) when the worker has none of its own.
    numbers = [
        k for k, v in fields.items() if k not in ("run_id", "seed") and type(v) in (int, float)
    ]
    numeric = next((k for k in numbers if k not in _COMMON), numbers[0] if numbers else None)
    checked = "an unknown key, run_id, seed"
    if numeric is not None:
        _expect_config_error(
            kit, {**document, numeric: "not-a-number"}, numeric, f"{numeric}='not-a-number'"
        )
        checked += f", {numeric}"
    return f"ConfigError with the field named for {checked}"
