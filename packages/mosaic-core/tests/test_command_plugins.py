"""Sub-commands from plugins (entry-point group ``mosaic.commands``), failures isolated.

The plugins are real distributions (a ``*.dist-info`` with ``entry_points.txt``)
on the ``PYTHONPATH`` of a real ``mosaic`` process.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mosaic_core.cli.app import build_parser
from mosaic_core.cli.builtin import COMMAND_MODULES
from mosaic_core.cli.index import COMMANDS

HELLO = """
from mosaic_core import hookimpl


def _hello(args):
    print(f"hello {args.name}")
    return 3


@hookimpl
def mosaic_register_commands(register):
    parser = register("hello", help="say hello")
    parser.add_argument("--name", default="world")
    parser.set_defaults(func=_hello)
"""

CLASH = """
from mosaic_core import hookimpl


@hookimpl
def mosaic_register_commands(register):
    register("clash-first", help="registered before the clash").set_defaults(func=lambda a: 0)
    register("runs", help="a second runs")
"""

CRASH = """
raise RuntimeError("this plugin is broken on import")
"""


def _pythonpath(site: Path) -> str:
    """``site`` before the PYTHONPATH of this process (which may hold the sources tested)."""
    return os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))


def _dist(root: Path, name: str, version: str, entry: str, module: str, source: str) -> None:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[mosaic.commands]\n{entry} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source).lstrip())


_MAIN = "import sys; from mosaic_core.cli import main; sys.exit(main())"


def _mosaic(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=_pythonpath(site), MOSAIC_HOME=str(home))
    env.pop("MOSAIC_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", _MAIN, *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    _dist(root, "mosaic-hello", "1.0.0", "hello", "mosaictest_hello", HELLO)
    _dist(root, "mosaic-clash", "0.1.0", "clash", "mosaictest_clash", CLASH)
    _dist(root, "mosaic-crash", "0.2.0", "crash", "mosaictest_crash", CRASH)
    return root


def test_builtin_commands_come_through_the_hook() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    names = ("workers", "run", "runs", "show", "cancel", "rm", "compare", "eval", "check",
             "envs", "migrate", "launchers", "pull")  # fmt: skip
    for name in names:
        assert name in commands.choices, name
    assert len(COMMAND_MODULES) == 13


def test_the_index_of_builtin_commands_names_what_each_module_registers() -> None:
    # `mosaic COMMAND` imports the one module the index names: a command missing from the
    # index, or listed under another module, would not be found or not be listed in order.
    for module in COMMAND_MODULES:
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(commands)
        assert list(commands.choices) == [n for n, m in COMMANDS.items() if m == module], module
    listed = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert list(COMMANDS) == [name for name in listed if name != "ui"]  # ui: mosaic-ui's


_MODULES_AFTER = (
    "import json, sys\nfrom mosaic_core.cli import main\ncode = main()\n"
    "print(json.dumps(sorted(sys.modules)))\nsys.exit(code)"
)


@pytest.mark.parametrize(
    ("argv", "module"),
    [(["runs"], "mosaic_core.cli.results"), (["run", "--help"], "mosaic_core.cli.runs")],
)
def test_a_builtin_command_imports_its_own_module_and_no_other_command(
    site: Path, tmp_path: Path, argv: list[str], module: str
) -> None:
    env = dict(os.environ, PYTHONPATH=_pythonpath(site), MOSAIC_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER, *argv],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert module in modules
    assert set(COMMAND_MODULES) & modules == {module}
    # Neither the plugin machinery nor any command plugin (one of them crashes on import).
    assert not {"mosaic_core.plugins.commands", "mosaic_core.cli.builtin"} & modules
    assert not {"mosaictest_hello", "mosaictest_clash", "mosaictest_crash"} & modules
    if argv == ["runs"]:  # settling the runs of this machine needs no launcher plugins
        assert not {"mosaic_core.runs.supervisor", "mosaic_core.runs.launcher_registry"} & modules
        # With no run to settle, nor what settling one takes; nor the configs' machinery.
        # Nor, with no filter, the filters' dataclass (dataclasses imports inspect); nor the
        # process helpers, threads, the secrets' scrubber or typing.
        unneeded = {"mosaic_core.runs.launchers", "mosaic_core.runs.recorder", "attrs", "csv",
                    "mosaic_core._config", "annotated_types", "pluggy", "dataclasses",
                    "inspect", "mosaic_core.query.filters", "mosaic_core._fields",
                    "mosaic_core._procs", "signal", "threading", "mosaic_core._secrets",
                    "typing"}  # fmt: skip
        assert not unneeded & modules


def test_a_plugin_adds_a_command_that_runs_with_its_exit_status(site: Path, tmp_path: Path) -> None:
    done = _mosaic(site, tmp_path / "home", "hello", "--name", "plugins")
    assert done.stdout.strip() == "hello plugins"
    assert done.returncode == 3
    listed = _mosaic(site, tmp_path / "home", "--help")
    assert "hello" in listed.stdout and "say hello" in listed.stdout


def test_a_broken_command_plugin_leaves_the_others_working_and_is_reported(
    site: Path, tmp_path: Path
) -> None:
    done = _mosaic(site, tmp_path / "home", "runs")
    assert done.returncode == 0, done.stderr
    assert "No runs yet" in done.stdout
    listed = _mosaic(site, tmp_path / "home", "--help")
    assert "mosaic-crash: RuntimeError: this plugin is broken on import" in listed.stdout


def test_a_plugin_naming_an_existing_command_is_left_out_whole(site: Path, tmp_path: Path) -> None:
    listed = _mosaic(site, tmp_path / "home", "--help")
    assert "mosaic-clash: PluginError: command 'runs' already exists" in listed.stdout
    assert "clash-first" not in listed.stdout.split("command plugins")[0]
    done = _mosaic(site, tmp_path / "home", "clash-first")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_mosaic_ui_without_its_package_names_the_package_to_install(tmp_path: Path) -> None:
    if importlib.util.find_spec("mosaic_ui") is not None:  # it would start and serve
        pytest.skip("mosaic-ui is installed in this environment")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _mosaic(empty, tmp_path / "home", "ui", "--port", "8123", "--open")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "mosaic: error: `mosaic ui` comes with the mosaic-ui package: pip install mosaic-ui"
    )


def test_mosaic_ui_from_a_broken_package_says_what_failed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _dist(site, "mosaic-ui", "9.9.9", "ui", "mosaictest_brokenui", CRASH)
    done = _mosaic(site, tmp_path / "home", "ui")
    assert done.returncode == 1
    assert (
        "comes with mosaic-ui 9.9.9, which failed to load: RuntimeError: this plugin is "
        "broken on import" in done.stderr
    )
