from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from mosaic_core import (
    PluginError,
    WorkerCapabilities,
    WorkerConfigBase,
    WorkerMetadata,
    WorkerSpec,
    hookimpl,
)
from mosaic_core.plugins import BrokenPlugin, DiscoveredWorker, Discovery, discover_workers

pytestmark = pytest.mark.usefixtures("installed_plugins")

OUR_WORKERS = {"toy", "oldie", "pair-a", "pair-b"}
OUR_BROKEN = {"crashy", "nohook", "misnamed", "needsdep"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config(WorkerConfigBase):
    pass


def spec(worker_type: str, **changes: Any) -> WorkerSpec:
    fields: dict[str, Any] = {
        "metadata": WorkerMetadata(name=worker_type.title(), version="9.9"),
        "capabilities": WorkerCapabilities(worker_type=worker_type),
        "config_class": Config,
        "runtime_factory": lambda config: None,
    }
    return WorkerSpec(**{**fields, **changes})


def plugin_module(name: str, *specs: WorkerSpec) -> types.ModuleType:
    """A plugin module made in memory, as ``discover_workers(plugins=...)`` accepts."""
    module = types.ModuleType(name)

    @hookimpl
    def mosaic_register_workers(register: Any) -> None:
        for s in specs:
            register(s)

    module.mosaic_register_workers = mosaic_register_workers  # type: ignore[attr-defined]
    return module


def broken_by_name(found: Discovery) -> dict[str, BrokenPlugin]:
    return {b.name: b for b in found.broken}


# -- real distributions ------------------------------------------------------------


def test_working_plugin_is_discovered_with_its_distribution() -> None:
    toy = discover_workers().workers["toy"]
    assert isinstance(toy, DiscoveredWorker)
    assert toy.status == "ok"
    assert toy.spec is not None and toy.spec.worker_type == "toy"
    assert toy.metadata == WorkerMetadata(
        name="Toy worker", version="1.2.3", description="a test worker"
    )
    assert toy.capabilities.worker_type == "toy"
    assert toy.entry_point == "mosaictest_toy"
    assert (toy.distribution, toy.distribution_version) == ("mosaic-test-toy", "1.2.3")
    assert toy.load_seconds >= 0


def test_legacy_entry_point_is_discovered_and_marked_legacy() -> None:
    oldie = discover_workers().workers["oldie"]
    assert oldie.status == "legacy"
    assert oldie.spec is None
    assert oldie.metadata.name == "Oldie worker"
    assert oldie.capabilities.action_spaces == ("discrete", "continuous")
    assert oldie.entry_point == "mosaictest_oldie:get_worker_info"
    assert (oldie.distribution, oldie.distribution_version) == ("mosaic-test-oldie", "0.1.0")


def test_broken_plugins_are_isolated_and_the_others_still_load() -> None:
    found = discover_workers()
    assert set(found.workers) >= OUR_WORKERS
    assert set(broken_by_name(found)) >= OUR_BROKEN
    assert not OUR_BROKEN & set(found.workers)


def test_plugin_whose_import_raises_is_recorded_with_distribution_and_version() -> None:
    crashy = broken_by_name(discover_workers())["crashy"]
    assert crashy.error_type == "RuntimeError"
    assert crashy.error == "crashy plugin cannot start"
    assert crashy.entry_point == "mosaictest_crashy"
    assert (crashy.distribution, crashy.distribution_version) == ("mosaic-test-crashy", "0.0.1")
    assert "mosaic-test-crashy raised while loading" in crashy.hint
    assert "MOSAIC_LOAD_PLUGINS" in crashy.hint


def test_plugin_with_a_missing_dependency_hints_at_installing_it() -> None:
    needsdep = broken_by_name(discover_workers())["needsdep"]
    assert needsdep.error_type == "ModuleNotFoundError"
    assert "install the missing module 'mosaictest_no_such_dependency'" in needsdep.hint
    assert sys.executable in needsdep.hint
    assert "uninstall mosaic-test-needsdep" in needsdep.hint
    assert needsdep.distribution_version == "0.4.0"


def test_module_without_a_hook_is_broken() -> None:
    nohook = broken_by_name(discover_workers())["nohook"]
    assert nohook.error_type == "PluginError"
    assert "module 'mosaictest_nohook' defines no hook" in nohook.error
    assert "@mosaic_core.hookimpl def mosaic_register_workers(register)" in nohook.error
    assert (nohook.distribution, nohook.distribution_version) == ("mosaic-test-nohook", "0.2.0")
    assert "must be fixed by its author" in nohook.hint


def test_worker_type_different_from_entry_point_name_is_broken() -> None:
    found = discover_workers()
    misnamed = broken_by_name(found)["misnamed"]
    assert misnamed.error_type == "PluginError"
    assert "entry point 'misnamed' registered worker type 'othername'" in misnamed.error
    assert "othername" not in found.workers
    assert misnamed.distribution == "mosaic-test-misnamed"


def test_one_distribution_may_register_several_worker_types() -> None:
    found = discover_workers()
    pair_a, pair_b = found.workers["pair-a"], found.workers["pair-b"]
    assert pair_a.entry_point == pair_b.entry_point == "mosaictest_pair"
    assert pair_a.distribution == "mosaic-test-pair"
    assert found.runnable("pair-b").metadata.name == "pair-b"


def test_discovery_can_run_twice_in_one_process() -> None:
    first, second = discover_workers(), discover_workers()
    assert set(first.workers) == set(second.workers)
    assert first.workers["toy"].spec == second.workers["toy"].spec
    assert {b.name for b in first.broken} == {b.name for b in second.broken}


def test_to_dict_views_are_json_ready() -> None:
    found = discover_workers()
    toy = json.loads(json.dumps(found.workers["toy"].to_dict()))
    assert toy["status"] == "ok" and toy["runnable"] is True
    assert toy["distribution"] == "mosaic-test-toy"
    assert toy["capabilities"]["worker_type"] == "toy"
    assert json.loads(json.dumps(found.workers["oldie"].to_dict()))["runnable"] is False
    crashy = json.loads(json.dumps(broken_by_name(found)["crashy"].to_dict()))
    assert crashy["status"] == "broken"
    assert crashy["distribution_version"] == "0.0.1"


def test_a_config_schema_that_raises_is_reported_not_fatal() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Raising(WorkerConfigBase):
        @classmethod
        def json_schema(cls, algorithm: str | None = None) -> dict[str, Any]:
            raise RuntimeError("no schema today")

    found = discover_workers(plugins=[plugin_module("schemaless", spec("schemaless",
                             config_class=Raising))])  # fmt: skip
    view = json.loads(json.dumps(found.workers["schemaless"].to_dict()))
    assert view["config_schema"] == {"error": "RuntimeError: no schema today"}
    assert found.workers["toy"].to_dict()["config_schema"]["type"] == "object"


# -- limiting and strictness --------------------------------------------------------


def test_load_plugins_env_limits_loading(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MOSAIC_LOAD_PLUGINS", " toy , oldie ")
    found = discover_workers()
    assert set(found.workers) == {"toy", "oldie"}
    assert found.broken == ()
    assert "pair" in found.skipped
    assert set(found.skipped) >= OUR_BROKEN
    assert "mosaictest_nohook" not in sys.modules


def test_load_argument_overrides_the_env(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MOSAIC_LOAD_PLUGINS", "oldie")
    assert set(discover_workers(load=["toy"]).workers) == {"toy"}


def test_empty_load_plugins_env_loads_everything(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MOSAIC_LOAD_PLUGINS", " ")
    assert set(discover_workers().workers) >= OUR_WORKERS


@pytest.mark.parametrize("value", ["1", "true", "yes", "ON"])
def test_strict_plugins_env_turns_a_broken_plugin_into_an_error(
    clean_env: pytest.MonkeyPatch, value: str
) -> None:
    clean_env.setenv("MOSAIC_STRICT_PLUGINS", value)
    with pytest.raises(PluginError) as info:
        discover_workers()
    assert info.value.plugin in OUR_BROKEN
    assert f"worker plugin {info.value.plugin!r}" in str(info.value)
    assert info.value.__cause__ is not None


def test_strict_plugins_names_the_failure(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MOSAIC_STRICT_PLUGINS", "1")
    clean_env.setenv("MOSAIC_LOAD_PLUGINS", "toy,crashy")
    with pytest.raises(PluginError, match=r"'crashy' \(mosaictest_crashy\) failed: RuntimeError"):
        discover_workers()


def test_strict_plugins_passes_when_everything_loads(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MOSAIC_STRICT_PLUGINS", "1")
    assert set(discover_workers(load=["toy", "oldie"]).workers) == {"toy", "oldie"}


def test_strict_argument_overrides_the_env(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MOSAIC_STRICT_PLUGINS", "1")
    assert "crashy" in broken_by_name(discover_workers(strict=False))
    clean_env.setenv("MOSAIC_STRICT_PLUGINS", "0")
    with pytest.raises(PluginError):
        discover_workers(strict=True)


# -- Discovery.get and runnable -------------------------------------------------------


def test_get_returns_a_loaded_worker() -> None:
    assert discover_workers().get("toy").worker_type == "toy"


def test_get_unknown_worker_suggests_the_closest_name() -> None:
    with pytest.raises(PluginError) as info:
        discover_workers().get("tyo")
    message = str(info.value)
    assert "no worker named 'tyo' (did you mean 'toy'?)" in message
    assert "installed: " in message and "oldie" in message and "toy" in message
    assert "pip install" in message
    assert info.value.plugin == "tyo"


def test_get_broken_worker_says_why() -> None:
    with pytest.raises(PluginError) as info:
        discover_workers().get("crashy")
    assert "worker 'crashy' is installed but broken: RuntimeError: crashy plugin cannot start" in (
        str(info.value)
    )
    assert "MOSAIC_LOAD_PLUGINS" in str(info.value)


def test_get_skipped_worker_names_the_env_variable() -> None:
    with pytest.raises(PluginError, match=r"'oldie' was not loaded because \$MOSAIC_LOAD_PLUGINS"):
        discover_workers(load=["toy"]).get("oldie")


def test_get_with_nothing_installed_says_none() -> None:
    with pytest.raises(PluginError, match="installed: none"):
        Discovery(workers={}).get("cleanrl")


def test_runnable_returns_the_spec() -> None:
    found = discover_workers()
    assert found.runnable("toy") is found.workers["toy"].spec


def test_runnable_legacy_worker_is_an_error() -> None:
    with pytest.raises(PluginError, match="'oldie' uses a legacy entry point") as info:
        discover_workers().runnable("oldie")
    assert "@hookimpl mosaic_register_workers(register)" in str(info.value)


def test_runnable_unknown_worker_suggests_the_closest_name() -> None:
    with pytest.raises(PluginError, match=r"did you mean 'oldie'\?"):
        discover_workers().runnable("oldy")


# -- plugins passed in directly --------------------------------------------------------


def test_plugin_modules_can_be_passed_directly() -> None:
    module = plugin_module("inline_plugin", spec("inline"))
    found = discover_workers(plugins=[module], load=["inline_plugin"])
    assert found.workers["inline"].status == "ok"
    assert found.workers["inline"].distribution is None
    assert found.workers["inline"].entry_point == "inline_plugin"


def test_one_module_may_register_several_workers() -> None:
    module = plugin_module("multi", spec("alpha"), spec("beta"))
    found = discover_workers(plugins=[module], load=["multi"])
    assert set(found.workers) == {"alpha", "beta"}


def test_legacy_callable_can_be_passed_directly() -> None:
    def legacy() -> tuple[WorkerMetadata, WorkerCapabilities]:
        return WorkerMetadata(name="L", version="1"), WorkerCapabilities(worker_type="lega")

    found = discover_workers(plugins=[legacy], load=["legacy"])
    assert found.workers["lega"].status == "legacy"


@pytest.mark.parametrize(
    "result", [None, ("a", "b"), (WorkerMetadata(name="L", version="1"),), [1, 2]]
)
def test_legacy_callable_returning_the_wrong_thing_is_broken(result: Any) -> None:
    def legacy() -> Any:
        return result

    found = discover_workers(plugins=[legacy], load=["legacy"])
    (broken,) = found.broken
    assert broken.error_type == "PluginError"
    assert "expected a tuple (mosaic_core.WorkerMetadata, mosaic_core.WorkerCapabilities)" in (
        broken.error
    )


def test_second_plugin_for_the_same_worker_type_is_broken() -> None:
    first = plugin_module("first", spec("same"))
    second = plugin_module("second", spec("same"))
    found = discover_workers(plugins=[first, second], load=["first", "second"])
    assert found.workers["same"].entry_point == "first"
    (broken,) = found.broken
    assert broken.name == "second"
    assert "worker type 'same' is already provided by first" in broken.error


def test_register_with_something_other_than_a_spec_is_broken() -> None:
    module = types.ModuleType("wrong_register")

    @hookimpl
    def mosaic_register_workers(register: Any) -> None:
        register({"worker_type": "dict"})

    module.mosaic_register_workers = mosaic_register_workers  # type: ignore[attr-defined]
    (broken,) = discover_workers(plugins=[module], load=["wrong_register"]).broken
    assert "register() got dict; expected a mosaic_core.WorkerSpec" in broken.error


def test_hook_that_registers_nothing_is_broken() -> None:
    module = plugin_module("empty")
    (broken,) = discover_workers(plugins=[module], load=["empty"]).broken
    assert "registered no worker" in broken.error


def test_hook_that_raises_is_broken_and_the_rest_load() -> None:
    module = types.ModuleType("raising")

    @hookimpl
    def mosaic_register_workers(register: Any) -> None:
        raise KeyError("gpu")

    module.mosaic_register_workers = mosaic_register_workers  # type: ignore[attr-defined]
    found = discover_workers(plugins=[module], load=["raising", "toy"])
    assert set(found.workers) == {"toy"}
    assert broken_by_name(found)["raising"].error_type == "KeyError"


def test_hook_with_a_wrong_argument_name_is_broken() -> None:
    module = types.ModuleType("badsig")

    @hookimpl
    def mosaic_register_workers(registrar: Any) -> None:
        pass

    module.mosaic_register_workers = mosaic_register_workers  # type: ignore[attr-defined]
    (broken,) = discover_workers(plugins=[module], load=["badsig"]).broken
    assert "registrar" in broken.error


def test_plugin_calling_sys_exit_does_not_end_discovery(tmp_path: Path) -> None:
    module = types.ModuleType("exiting")

    @hookimpl
    def mosaic_register_workers(register: Any) -> None:
        sys.exit(3)

    module.mosaic_register_workers = mosaic_register_workers  # type: ignore[attr-defined]
    found = discover_workers(plugins=[module], load=["exiting", "toy"])
    assert broken_by_name(found)["exiting"].error_type == "SystemExit"
    assert "toy" in found.workers


def test_entry_point_to_neither_module_nor_callable_is_broken() -> None:
    class NotCallable:
        __name__ = "constant"

    (broken,) = discover_workers(plugins=[NotCallable()], load=["constant"]).broken
    assert "expected a module with @hookimpl mosaic_register_workers" in broken.error
