"""Helpers: the real ``mosaic`` command in a private MOSAIC_HOME, and /proc look-ups.

A test's home is the kit's ``mosaic_home`` fixture. Every Ray run costs
seconds (``ray.init`` alone ~5 s here), so the runs that several tests
inspect are made once per module, in that module's :func:`module_home`;
budgets are tiny: these tests pin the plumbing, not learning.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from mosaic_core.runs import run_processes

#: Tiny PPO budget: 200 env steps per iteration.
PPO_TINY = ["train_batch_size_per_learner=200", "minibatch_size=100", "num_epochs=1"]


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """One MOSAIC_HOME for a module whose tests share runs (a module-scoped fixture cannot
    use the per-test ``mosaic_home``); the helpers below pass it to each command."""
    return tmp_path_factory.mktemp("mosaic-home")


def environment(home: pathlib.Path) -> dict[str, str]:
    return {**os.environ, "MOSAIC_HOME": str(home), "RAY_AUTH_MODE": "disabled"}


def mosaic(
    home: pathlib.Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The ``mosaic`` command; on a timeout it is cancelled like Ctrl-C, so no run outlives it."""
    command = [sys.executable, "-m", "mosaic_core", *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(home)
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
            pytest.fail(f"mosaic {' '.join(args)} took over {timeout} s:\n{out}\n{err[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def run_args(*sets: str) -> list[str]:
    args = ["run", "ray", "--json"]
    for item in sets:
        args += ["--set", item]
    return args


def run_ray(home: pathlib.Path, *sets: str, timeout: float = 300) -> dict[str, Any]:
    """``mosaic run ray --json --set ...``: the result, with ``exit_code`` of the command."""
    done = mosaic(home, *run_args(*sets), timeout=timeout)
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"no JSON result:\n{done.stdout}\n{done.stderr}") from None
    result["command_exit"] = done.returncode
    return result


def events(result: dict[str, Any]) -> list[dict[str, Any]]:
    lines = (pathlib.Path(result["run_dir"]) / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def processes() -> dict[int, str]:
    """Every live process: pid -> command line (zombies have none and are left out)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmdline:
                found[int(entry)] = cmdline
    return found


def processes_mentioning(marker: str) -> dict[int, str]:
    return {pid: cmd for pid, cmd in processes().items() if marker in cmd}


def process_tree(pid: int) -> set[int]:
    """Live processes of ``pid``'s session and its descendants, ``pid`` included."""
    return run_processes(pid, session=pid) | ({pid} if os.path.exists(f"/proc/{pid}") else set())


def start_long_run(home: pathlib.Path, *sets: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", *run_args("total_steps=100000000", *sets)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(home),
    )


def wait_for_metrics(home: pathlib.Path, runner: subprocess.Popen[str]) -> pathlib.Path:
    """The run directory of the only run under ``home``, once it reported an iteration."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and runner.poll() is None:
        for path in (home / "runs").glob("*/events.jsonl") if (home / "runs").exists() else ():
            if '"event":"metrics"' in path.read_text():
                return path.parent
        time.sleep(0.2)
    runner.kill()
    out, err = runner.communicate()
    pytest.fail(f"the run never finished an iteration:\n{out}\n{err[-3000:]}")


def cancel(runner: subprocess.Popen[str]) -> dict[str, Any]:
    """Ctrl-C on ``mosaic run``: the supervisor cancels the run (SIGTERM to its session)."""
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err[-3000:]
    result: dict[str, Any] = json.loads(out)
    return result


def wait_until(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())
