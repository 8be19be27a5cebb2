"""What 1.1 moved still works for code written against 1.0, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import mosaic_core
from mosaic_core import _moved


@pytest.fixture(autouse=True)
def _warn_afresh() -> None:
    _moved._WARNED.clear()


def test_a_name_imported_with_from_warns_once() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        from mosaic_core import TelemetryReader  # noqa: F401
    assert len(caught) == 1


@pytest.mark.parametrize("name", sorted(_moved.MOVED_NAMES))
def test_each_old_public_name_resolves_with_a_warning_naming_its_new_home(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"mosaic_core.{name} moved in mosaic-core 1.1"):
        value = getattr(mosaic_core, name)
    home = importlib.import_module(_moved.MOVED_NAMES[name])
    assert value is getattr(home, name)
    assert name not in mosaic_core.__all__ and name not in dir(mosaic_core)


@pytest.mark.parametrize("old", sorted(_moved.MOVED_MODULES))
def test_each_old_module_path_imports_in_a_fresh_interpreter(old: str) -> None:
    # A fresh interpreter: this one may have imported the path already.
    code = (
        "import warnings; warnings.simplefilter('error');\n"
        f"try:\n    import {old}\nexcept DeprecationWarning as exc:\n    print('warned', exc)\n"
        "warnings.simplefilter('ignore')\n"
        f"import {old} as m; print(sorted(n for n in dir(m) if not n.startswith('_'))[:3])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"warned {old} moved in mosaic-core 1.1"), done.stdout
    assert done.stdout.splitlines()[1] != "[]"


def test_names_of_an_old_module_are_the_new_objects() -> None:
    with pytest.warns(DeprecationWarning):
        old = importlib.import_module("mosaic_core.store")
    from mosaic_core.runs import RunStore

    assert old.RunStore is RunStore
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        old.nothing  # noqa: B018


def test_the_old_entry_modules_keep_their_names() -> None:
    from mosaic_core import run_worker, serve_main

    with pytest.warns(DeprecationWarning, match="mosaic_core.worker_main.run_worker moved"):
        from mosaic_core.worker_main import run_worker as old_run_worker
    with pytest.warns(DeprecationWarning, match="mosaic_core.operator_main.serve_main moved"):
        from mosaic_core.operator_main import serve_main as old_serve_main
    assert (old_run_worker, old_serve_main) == (run_worker, serve_main)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        mosaic_core.Nothing  # noqa: B018
