from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mosaic_core import (
    PluginError,
    WorkerCapabilities,
    WorkerConfigBase,
    WorkerMetadata,
    WorkerSpec,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(WorkerConfigBase):
    pass


def make(**changes: Any) -> WorkerSpec:
    fields: dict[str, Any] = {
        "metadata": WorkerMetadata(name="Toy", version="1.0"),
        "capabilities": WorkerCapabilities(worker_type="toy"),
        "config_class": Config,
        "runtime_factory": lambda config: None,
    }
    return WorkerSpec(**{**fields, **changes})


def test_spec_exposes_worker_type_and_optional_defaults() -> None:
    spec = make()
    assert spec.worker_type == "toy"
    assert spec.operator_factory is None
    assert spec.console_module is None
    assert spec.smoke_config is None


def test_spec_accepts_operator_console_module_and_smoke_config() -> None:
    spec = make(
        operator_factory=lambda checkpoint_dir, **options: None,
        console_module="mosaic_toy.cli",
        smoke_config={"total_steps": 10},
    )
    assert spec.console_module == "mosaic_toy.cli"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("metadata", {"name": "Toy"}, "WorkerSpec.metadata: got dict; expected a WorkerMetadata"),
        ("capabilities", "toy", "WorkerSpec.capabilities: got str; expected a WorkerCapabilities"),
        ("config_class", dict, "WorkerSpec.config_class: got <class 'dict'>; expected a class"),
        ("config_class", Config(run_id="r"), "WorkerSpec.config_class"),
        ("runtime_factory", None, "WorkerSpec.runtime_factory: got None; expected a callable"),
        ("operator_factory", "load", "expected a callable or None"),
        ("console_module", "mosaic toy", "WorkerSpec.console_module: got 'mosaic toy'"),
        ("console_module", "mosaic_toy.", "a dotted module name that `python -m` can run"),
        ("console_module", "1toy", "WorkerSpec.console_module"),
    ],
)
def test_spec_rejects_bad_fields_with_a_plugin_error(field: str, value: Any, message: str) -> None:
    with pytest.raises(PluginError) as info:
        make(**{field: value})
    assert message in str(info.value)
