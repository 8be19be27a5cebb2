"""The public surface: one light import, a sorted ``__all__``, types shipped."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import json
import subprocess
import sys
import textwrap
import types
from typing import Any

import pytest

import mosaic_core

HEAVY = ("torch", "numpy", "gymnasium", "gym", "ray", "xuance", "tensorflow", "jax", "pandas")

LIST_MODULES = """
import json, sys
{imports}
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(imports: str, child_env: Any) -> set[str]:
    code = textwrap.dedent(LIST_MODULES).format(imports=textwrap.dedent(imports))
    done = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_import_pulls_in_no_heavy_library(child_env: Any) -> None:
    modules = modules_after("import mosaic_core", child_env)
    assert heavy_in(modules) == []


def test_import_is_lazy(child_env: Any) -> None:
    modules = modules_after("import mosaic_core", child_env)
    assert "mosaic_core" in modules
    assert not {"attrs", "pluggy", "mosaic_core._discovery", "mosaic_core._telemetry"} & modules


def test_describing_a_space_loads_no_manifest_nor_telemetry(child_env: Any) -> None:
    """A training script describes its spaces through RunContext (the CleanRL worker's
    env check does, before the script trains): that costs neither attrs nor the emitter."""
    modules = modules_after(
        "from mosaic_core import RunContext; RunContext.describe_space", child_env
    )
    assert "mosaic_core._context" in modules
    assert not {"attrs", "mosaic_core._manifest", "mosaic_core._telemetry"} & modules


def test_every_public_name_pulls_in_no_heavy_library(child_env: Any) -> None:
    modules = modules_after(
        """
        import mosaic_core
        for name in mosaic_core.__all__:
            getattr(mosaic_core, name)
        import mosaic_core.cli.app, mosaic_core._worker, mosaic_core.runs.reader
        mosaic_core.cli.app.build_parser()
        """,
        child_env,
    )
    assert "pluggy" in modules and "attrs" in modules
    assert heavy_in(modules) == []


def test_discovering_plugins_pulls_in_no_heavy_library(child_env: Any, plugin_dir: Any) -> None:
    code = LIST_MODULES.format(imports="import mosaic_core\nmosaic_core.discover_workers()")
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(plugin_dir),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout))
    assert "mosaictest_toy" in modules
    assert heavy_in(modules) == []


def test_all_is_sorted() -> None:
    assert mosaic_core.__all__ == sorted(mosaic_core.__all__)
    assert len(set(mosaic_core.__all__)) == len(mosaic_core.__all__)


@pytest.mark.parametrize("name", mosaic_core.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(mosaic_core, name)
    assert value is not None
    if isinstance(value, (type, types.FunctionType)):
        home = importlib.import_module(value.__module__)
        assert getattr(home, name) is value


def test_dir_lists_every_public_name() -> None:
    assert set(mosaic_core.__all__) <= set(dir(mosaic_core))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'mosaic_core' has no attribute 'Nope'"):
        mosaic_core.Nope  # noqa: B018


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from mosaic_core import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(mosaic_core.__all__)


def test_py_typed_ships_with_the_package() -> None:
    assert importlib.resources.files("mosaic_core").joinpath("py.typed").is_file()


def test_py_typed_is_in_the_built_wheel(tmp_path: Any) -> None:
    pytest.importorskip("hatchling")
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]  # the mosaic-core project, wherever it is installed
    done = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert "mosaic_core/py.typed" in zipfile.ZipFile(wheel).namelist()
