"""The launcher seam: the local launcher comes through the hook like any plugin, a broken
launcher plugin is isolated, ``mosaic run`` refuses launcher options the chosen launcher
does not take (exit 2, nothing made), and the keeper looks after a worker on a node as the
supervisor does here (the Ray launcher's own tests run it on a real cluster)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import pytest

from mosaic_core import ConfigError, PluginError, hookimpl
from mosaic_core import _procs as procs
from mosaic_core.runs import LaunchSpec, discover_launchers
from mosaic_core.runs.keeper import read_exit, worker_pid
from mosaic_core.runs.launchers import LauncherSpec
from mosaic_core.runs.local import LocalLauncher

from .conftest import Mosaic


def plugin(name: str, hook: Callable[..., None] | None) -> types.ModuleType:
    module = types.ModuleType(name)
    if hook is not None:
        module.mosaic_register_launchers = hookimpl(hook)  # type: ignore[attr-defined]
    return module


def spec(name: str) -> LauncherSpec:
    return LauncherSpec(name=name, description=f"the {name} launcher", factory=LocalLauncher,
                        check=lambda options, capabilities: dict(options))  # fmt: skip


def test_the_local_launcher_is_registered_through_the_hook_like_a_plugin() -> None:
    found = discover_launchers()
    assert found.specs["local"].factory is LocalLauncher
    assert found.origins["local"][0] == "mosaic_core.runs.local"


def test_a_launcher_plugin_is_found_and_a_broken_one_is_isolated_and_named() -> None:
    def raising(register: Any) -> None:
        raise RuntimeError("no cluster library")

    found = discover_launchers(plugins=[
        plugin("good", lambda register: register(spec("slurm"))),
        plugin("raising", raising),
        plugin("hookless", None),
        plugin("wrong", lambda register: register("ray")),
        plugin("twice", lambda register: register(spec("local"))),
    ], group="mosaic.launchers-of-this-test-only")  # fmt: skip
    assert set(found.specs) == {"local", "slurm"}
    broken = {b.name: b.error for b in found.broken}
    assert broken["raising"] == "no cluster library"
    assert "defines no mosaic_register_launchers hook" in broken["hookless"]
    assert (
        "register() got str; expected a mosaic_core.runs.launchers.LauncherSpec"
        in (broken["wrong"])
    )
    assert "launcher 'local' is already provided by" in broken["twice"]
    with pytest.raises(ConfigError, match="launcher 'raising' is installed but broken"):
        found.get("raising")
    with pytest.raises(ConfigError, match=r"no launcher 'slrum' \(did you mean 'slurm'\?\)"):
        found.get("slrum")
    with pytest.raises(PluginError):
        discover_launchers(plugins=[plugin("raising", raising)], strict=True, group="none")


def test_a_launcher_spec_needs_a_name_mosaic_run_can_take() -> None:
    with pytest.raises(PluginError, match=r"LauncherSpec\.name 'my ray'"):
        spec("my ray")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--address", "10.0.0.5:6379"], "--address '10.0.0.5:6379': the local launcher"),
        (["--resources", "CPU=2"], "--resources {'CPU': 2.0}: the local launcher"),
        (["--launcher-option", "node_dir=/x"], "--launcher-option node_dir '/x': the local"),
        (["--retries", "2"], "--retries 2: the local launcher cannot lose its machine"),
        (["--launcher", "rey"], "no launcher 'rey'"),
        (["--launcher-option", "nothing"], "--launcher-option 'nothing': expected NAME=VALUE"),
    ],
)
def test_mosaic_run_refuses_what_the_launcher_does_not_take(
    mosaic: Mosaic, home: pathlib.Path, args: list[str], says: str
) -> None:
    done = mosaic("run", "fixture", *args)
    assert done.returncode == 2, done
    (line,) = done.stderr.strip().splitlines()
    assert says in line, line
    assert not (home / "runs").exists() or not list((home / "runs").iterdir())


@pytest.mark.parametrize(
    ("resources", "says"),
    [("CPU=x", "CPU='x': expected a number >= 0"), ("memory=4XB", "with an optional unit"),
     ("GPU=1GB", "GPU='1GB': expected a number"), ("[1]", "expected NAME=AMOUNT")],
)  # fmt: skip
def test_resources_that_cannot_be_read_are_a_usage_error(
    mosaic: Mosaic, resources: str, says: str
) -> None:
    done = mosaic("run", "fixture", "--resources", resources)
    assert done.returncode == 2 and says in done.stderr, done.stderr


def test_a_launch_json_from_before_launchers_loads_as_a_local_run(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "launch.json"
    path.write_text(json.dumps({
        "run_id": "r1", "worker_type": "fixture", "command": ["python", "-m", "x"],
        "timeout": None, "heartbeat_timeout": 300.0, "gpus": "", "venv": None,
        "kill_grace": 5.0,
    }))  # fmt: skip
    loaded = LaunchSpec.load(path)
    assert (loaded.launcher, dict(loaded.launcher_options), loaded.retries) == ("local", {}, 0)


# -- the keeper --------------------------------------------------------------------------

ORPHAN = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         start_new_session=True)
open("orphan.pid", "w").write(str(child.pid))
time.sleep(float(sys.argv[1]))
sys.exit(3)
"""


def keeper(run_dir: pathlib.Path, seconds: float) -> list[str]:
    for name in ("events.jsonl", "stdout.log", "stderr.log"):
        (run_dir / name).touch()
    (run_dir / "w.py").write_text(ORPHAN)
    return [sys.executable, "-m", "mosaic_core.runs.keeper", str(run_dir), "--",
            sys.executable, str(run_dir / "w.py"), str(seconds)]  # fmt: skip


def test_the_keeper_reaps_what_the_run_left_and_writes_its_exit_last(
    tmp_path: pathlib.Path,
) -> None:
    env = {**os.environ, "MOSAIC_RUN_ID": "keeper-test-1"}
    done = subprocess.run(keeper(tmp_path, 0.2), env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 0
    assert read_exit(tmp_path) == {"returncode": 3, "orphaned": False}
    orphan = int((tmp_path / "orphan.pid").read_text())
    assert not procs.alive(orphan), "the child in a session of its own outlived the run"
    assert worker_pid(tmp_path) is None


def test_the_keeper_ends_the_run_when_its_agent_dies(tmp_path: pathlib.Path) -> None:
    """The agent (here a shell that started the keeper) is killed: nobody could stop or
    collect the run any more, so the keeper kills its whole tree."""
    argv = " ".join(f"'{a}'" for a in keeper(tmp_path, 60))
    env = {**os.environ, "MOSAIC_RUN_ID": "keeper-test-2"}
    agent = subprocess.Popen(["sh", "-c", f"{argv} & wait"], env=env, cwd=tmp_path,
                             start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while worker_pid(tmp_path) is None or not (tmp_path / "orphan.pid").exists():
            assert time.monotonic() < deadline, "the keeper never started the worker"
            time.sleep(0.05)
        worker = worker_pid(tmp_path)
        orphan = int((tmp_path / "orphan.pid").read_text())
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        deadline = time.monotonic() + 20
        while read_exit(tmp_path) is None:
            assert time.monotonic() < deadline, "the keeper went on without its agent"
            time.sleep(0.05)
        assert read_exit(tmp_path) == {"returncode": -signal.SIGKILL, "orphaned": True}
        assert worker is not None and not procs.alive(worker) and not procs.alive(orphan)
    finally:
        for pid in procs.marked_processes("keeper-test-2"):
            procs.signal_tree(pid, signal.SIGKILL)


def test_the_keeper_says_how_to_call_it() -> None:
    done = subprocess.run([sys.executable, "-m", "mosaic_core.runs.keeper", "x"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "usage: python -m mosaic_core.runs.keeper" in done.stderr
