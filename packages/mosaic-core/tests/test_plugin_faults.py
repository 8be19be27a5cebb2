"""Plugins that misbehave while they load: they print (stdout stays JSON), two of them
claim one worker name (ambiguous, never a silent winner), one raises KeyboardInterrupt
(a broken plugin, not an exit 130), while a real Ctrl-C still interrupts. Real
distributions, the real ``mosaic`` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

NOISY = """
import os, sys
print("noisy plugin: hello from print()")
sys.stdout.flush()
os.write(1, b"noisy plugin: hello from the descriptor\\n")
from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl
from mosaictest_toy import ToyConfig, ToyRuntime


@hookimpl
def mosaic_register_workers(register):
    print("noisy plugin: registering")
    register(WorkerSpec(metadata=WorkerMetadata(name="noisy", version="0.1.0"),
                        capabilities=WorkerCapabilities(worker_type="noisy"),
                        config_class=ToyConfig, runtime_factory=ToyRuntime))
"""

FORK = """
from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl
from mosaictest_toy import ToyConfig, ToyRuntime


@hookimpl
def mosaic_register_workers(register):
    register(WorkerSpec(metadata=WorkerMetadata(name="Toy fork", version="9.9.9"),
                        capabilities=WorkerCapabilities(worker_type="toy"),
                        config_class=ToyConfig, runtime_factory=ToyRuntime))
"""

INTERRUPTING = """
raise KeyboardInterrupt("a plugin's own KeyboardInterrupt")
"""

SLOW = """
import os, time
open(os.environ["MOSAICTEST_SLOW_MARK"], "w").close()
time.sleep(30)
"""


def dist(name: str, module: str, source: str, worker: str | None = None) -> tuple[Any, ...]:
    """A distribution's fields: its entry point ``worker`` (default: the last word of
    ``name``) names ``module``."""
    version = "9.9.9" if name.endswith("fork") else "0.1.0"
    return (name, version, {worker or name.rsplit("-", 1)[-1]: module}, {module: source})


def mosaic(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        capture_output=True, text=True, timeout=120, env=environment(site, **env),
    )  # fmt: skip


def environment(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    env["MOSAIC_HOME"] = str(site / "home")
    env.update(extra)
    return env


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("mosaic: error:")]
    return line


def test_a_plugin_that_prints_at_import_leaves_stdout_json(plugin_distribution: Any) -> None:
    site = plugin_distribution(dist("mosaic-test-noisy", "mosaictest_noisy", NOISY))
    done = mosaic(site, "workers", "--json")
    assert done.returncode == 0, done.stderr
    listed = {w["worker_type"]: w for w in json.loads(done.stdout)["workers"]}  # whole JSON
    assert listed["noisy"]["status"] == "ok"
    assert "noisy plugin: hello from print()" in done.stderr
    assert "noisy plugin: hello from the descriptor" in done.stderr
    ran = mosaic(site, "run", "noisy", "--json", "--set", "total_steps=2")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "completed"


def test_two_distributions_with_one_worker_name_are_both_listed_and_neither_runs(
    plugin_distribution: Any,
) -> None:
    site = plugin_distribution(dist("mosaic-test-toy-fork", "mosaictest_fork", FORK, "toy"))
    listed = json.loads(mosaic(site, "workers", "--json").stdout)["workers"]
    toys = sorted((w["distribution"], w["status"]) for w in listed if w["worker_type"] == "toy")
    assert toys == [("mosaic-test-toy", "ambiguous"), ("mosaic-test-toy-fork", "ambiguous")]
    table = mosaic(site, "workers").stdout
    assert table.count("ambiguous") >= 2
    ran = mosaic(site, "run", "toy", "--set", "total_steps=2")
    assert ran.returncode == 1
    line = one_line_error(ran)
    assert "ambiguous" in line and "mosaic-test-toy 1.2.3" in line
    assert "mosaic-test-toy-fork 9.9.9" in line
    assert not (site / "home" / "runs").exists() or not any((site / "home" / "runs").iterdir())
    strict = mosaic(site, "workers", MOSAIC_STRICT_PLUGINS="1")
    assert strict.returncode == 1 and "ambiguous" in one_line_error(strict)


def test_a_plugin_raising_keyboard_interrupt_is_just_broken(plugin_distribution: Any) -> None:
    site = plugin_distribution(dist("mosaic-test-ctrlc", "mosaictest_ctrlc", INTERRUPTING))
    done = mosaic(site, "workers", "--json")
    assert done.returncode == 0, done.stderr
    rows = {w["worker_type"]: w for w in json.loads(done.stdout)["workers"]}
    assert rows["ctrlc"]["status"] == "broken"
    assert rows["ctrlc"]["error_type"] == "KeyboardInterrupt"
    assert rows["toy"]["status"] == "ok"
    ran = mosaic(site, "run", "toy", "--json", "--set", "total_steps=2")
    assert ran.returncode == 0 and json.loads(ran.stdout)["status"] == "completed", ran.stderr


def test_a_real_ctrl_c_while_plugins_load_still_interrupts(
    plugin_distribution: Any, tmp_path: Path
) -> None:
    site = plugin_distribution(dist("mosaic-test-slow", "mosaictest_slow", SLOW))
    mark = tmp_path / "slow-is-loading"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", "workers"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment(site, MOSAICTEST_SLOW_MARK=str(mark)),
        # Ctrl-C as a terminal delivers it, even where pytest itself was started in the
        # background of a shell (which ignores SIGINT there, and Python keeps that).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - started < 10, err
    assert "interrupted" in err and "Traceback" not in err


@pytest.fixture(autouse=True)
def _forget_modules() -> Any:
    yield
    for name in [m for m in sys.modules if m.startswith("mosaictest_")]:
        sys.modules.pop(name, None)
