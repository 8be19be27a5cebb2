"""``mosaic run`` forks a local worker where that starts the same worker as its command.

The worker of a fork must find the process a fresh ``python -m
mosaic_core.worker_main`` would give it: its run directory as working
directory and first on ``sys.path``, the run's environment, standard input
empty, its output in the run's logs, Python's own signal handlers, its exit
handlers run and its threads waited for, none of the host's. The probe below
writes what it finds; each test compares a forked start with an executed one
(``MOSAIC_WORKER_START=exec``).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from mosaic_core.runs import forking

from .conftest import install_plugin

PROBE = '''
"""A worker that writes down the process it was given."""

import atexit
import dataclasses
import gc
import importlib
import json
import os
import signal
import sys
import threading
import time

from mosaic_core import (
    TelemetryEmitter, TrainingConfigBase, WorkerCapabilities, WorkerMetadata, WorkerSpec,
    hookimpl,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StateConfig(TrainingConfigBase):
    env_id: str = "State-v0"
    algorithm: str = "look"
    total_steps: int = 1
    end: str = "return"


def _late(path):
    time.sleep(0.3)  # a non-daemon thread the interpreter must wait for at exit
    with open(path, "w") as handle:
        handle.write("done")


class StateRuntime:
    def __init__(self, config):
        self.config = config

    def run(self):
        handlers = {
            name: repr(signal.getsignal(getattr(signal, name)))
            for name in ("SIGINT", "SIGHUP", "SIGPIPE", "SIGUSR1", "SIGCHLD")
        }
        state = {
            "forked": "mosaic_core.cli.runs" in sys.modules,
            "frozen": gc.get_freeze_count(),  # the host's objects, out of its collections
            "cwd": os.getcwd(),
            "path0": sys.path[0],
            "path1": sys.path[1],
            "argv": sys.argv[1:],
            "main": getattr(sys.modules["__main__"].__spec__, "name", None),
            "stdin": sys.stdin.read(),
            "handlers": handlers,
            "env": {k: v for k, v in os.environ.items() if k.startswith("MOSAIC_")
                    and k not in ("MOSAIC_TELEMETRY_FD", "MOSAIC_TELEMETRY_ACK_FD",
                                  "MOSAIC_WORKER_START")},
            "session_leader": os.getsid(0) == os.getpid(),
            "parent_is_host": os.getppid() == int(os.environ["PROBE_HOST_PID"]),
            "threads": threading.active_count(),
            # A worker that supervised runs of its own would execute them.
            "may_fork": importlib.import_module("mosaic_core.runs.forking")._allowed,
        }
        with open("state.json", "w") as handle:
            json.dump(state, handle)
        print("to stdout.log", flush=False)  # unbuffered: there even without a flush
        sys.stderr.write("to stderr.log\\n")
        atexit.register(lambda: open("atexit.txt", "w").write("ran"))
        threading.Thread(target=_late, args=("thread.txt",)).start()
        with TelemetryEmitter(self.config.run_id).lifecycle(
            worker_type="state", heartbeat_interval=None
        ) as run:
            if self.config.end == "raise":
                raise RuntimeError("the probe raised on purpose")
            if self.config.end == "exit":
                os._exit(7)
        return run.summary


@hookimpl
def mosaic_register_workers(register):
    register(WorkerSpec(
        metadata=WorkerMetadata(name="State", version="0.0.1"),
        capabilities=WorkerCapabilities(worker_type="state"),
        config_class=StateConfig,
        runtime_factory=StateRuntime,
    ))
'''

# The host: `mosaic ...` in a process that gives its pid to the worker's environment
# (the probe checks its parent) and registers an exit handler the worker must not run.
HOST = """
import atexit, os, sys
if os.environ.get("PROBE_EXTRA_PATH"):
    sys.path.insert(0, os.environ["PROBE_EXTRA_PATH"])
os.environ["PROBE_HOST_PID"] = str(os.getpid())
atexit.register(lambda: open(os.environ["PROBE_HOST_ATEXIT"], "a").write(f"{os.getpid()}\\n"))
from mosaic_core.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def state_site(site: pathlib.Path) -> pathlib.Path:
    install_plugin(site, "mosaic-state", "state", "mosaictest_state", PROBE)
    return site


def _run(
    tmp_path: pathlib.Path, start: str, *args: str, extra_path: str = ""
) -> tuple[int, dict[str, Any], str]:
    """``mosaic run state``: exit status, result and the host's exit handler's record."""
    cwd = tmp_path / f"cwd-{start}"
    cwd.mkdir(exist_ok=True)
    record = tmp_path / f"host-atexit-{start}.txt"
    done = subprocess.run(
        [sys.executable, "-c", HOST, "run", "state", "--json", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
        env={**os.environ, "MOSAIC_WORKER_START": start, "PROBE_HOST_ATEXIT": str(record),
             "PROBE_EXTRA_PATH": extra_path},
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout), record.read_text()


def _state(result: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((pathlib.Path(result["run_dir"]) / "state.json").read_text())
    return state


def test_a_forked_worker_finds_the_process_an_executed_one_does(
    home: pathlib.Path, state_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    found = {}
    for start in ("fork", "exec"):
        code, result, host_exits = _run(tmp_path, start)
        assert code == 0 and result["status"] == "completed", result
        run_dir = pathlib.Path(result["run_dir"])
        state = _state(result)
        assert state.pop("forked") is (start == "fork")
        assert (state.pop("frozen") > 0) is (start == "fork")
        assert state.pop("cwd") == str(run_dir) == state.pop("path0")
        assert state.pop("path1") != str(tmp_path / f"cwd-{start}")  # not the host's directory
        assert state["env"]["MOSAIC_RUN_DIR"] == str(run_dir)
        assert state["env"]["MOSAIC_RUN_ID"] == result["run_id"]
        state["env"].pop("MOSAIC_RUN_DIR"), state["env"].pop("MOSAIC_RUN_ID")
        assert state["argv"][-2:] == ["--config", str(run_dir / "config.json")]
        state["argv"] = state["argv"][:-1]
        assert (run_dir / "stdout.log").read_text() == "to stdout.log\n"
        assert (run_dir / "stderr.log").read_text() == "to stderr.log\n"
        # The worker's exit handler ran and its thread was waited for; the host's handler
        # ran once, in the host.
        assert (run_dir / "atexit.txt").read_text() == "ran"
        assert (run_dir / "thread.txt").read_text() == "done"
        assert host_exits.split() == [host_exits.split()[0]]
        found[start] = state
    assert found["fork"] == found["exec"]
    assert found["fork"]["stdin"] == "" and found["fork"]["session_leader"]
    assert found["fork"]["may_fork"] is False
    assert found["fork"]["main"] == "mosaic_core.worker_main"
    assert found["fork"]["handlers"]["SIGINT"] == "<built-in function default_int_handler>"
    assert found["fork"]["handlers"]["SIGHUP"] == "<Handlers.SIG_DFL: 0>"


def test_an_entry_the_host_put_first_on_sys_path_stays_behind_the_run_directory(
    home: pathlib.Path, state_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The host's own first entry (its working directory) gives way to the run directory
    as in a fresh ``-m``; an entry its code put in front of it is kept."""
    extra = tmp_path / "extra"
    extra.mkdir()
    code, result, _ = _run(tmp_path, "fork", extra_path=str(extra))
    assert code == 0, result
    state = _state(result)
    assert state["forked"] and state["path0"] == result["run_dir"]
    assert state["path1"] == str(extra)


@pytest.mark.parametrize(
    ("end", "status", "code", "text"),
    [("raise", "failed", 1, "the probe raised on purpose"),
     ("exit", "failed", 7, "worker exited without a terminal event (exit code 7)")],
)  # fmt: skip
def test_a_forked_worker_that_fails_ends_its_run_as_an_executed_one_does(
    home: pathlib.Path,
    state_site: pathlib.Path,
    tmp_path: pathlib.Path,
    end: str,
    status: str,
    code: int,
    text: str,
) -> None:
    ended = {}
    for start in ("fork", "exec"):
        exit_code, result, host_exits = _run(tmp_path, start, "--set", f"end={end}")
        assert exit_code == 1
        assert result["status"] == status and result["exit_code"] == code
        assert text in result["reason"]
        assert _state(result)["forked"] is (start == "fork")
        assert len(host_exits.split()) == 1  # the host's handler, never the worker's
        ended[start] = (result["status"], result["reason"], result["exit_code"])
    assert ended["fork"] == ended["exec"]


def test_only_a_host_that_allows_it_forks_and_only_the_same_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command = [sys.executable, "-m", "mosaic_core.worker_main", "--worker", "x"]
    env = dict(os.environ)
    monkeypatch.delenv(forking.START_ENV, raising=False)
    # This process's threads (earlier tests' emitters) are the next test's subject.
    monkeypatch.setattr(forking, "_one_thread", lambda: True)
    assert not forking.forkable(command, env)  # a test process, a server: never
    with forking.allowed():
        assert forking.forkable(command, env)
        assert not forking.forkable(["/usr/bin/python3", *command[1:]], env)
        assert not forking.forkable([sys.executable, "-c", "pass"], env)
        assert not forking.forkable(command, {**env, "PYTHONPATH": "/elsewhere"})
        assert not forking.forkable(command, {**env, "PYTHONHASHSEED": "7"})
        assert forking.forkable(command, {**env, "PYTHONUNBUFFERED": "1", "MOSAIC_RUN_ID": "r"})
        assert not forking.forkable(command, {**env, forking.START_ENV: "exec"})
        monkeypatch.setenv(forking.START_ENV, "exec")
        assert not forking.forkable(command, env)
        monkeypatch.delenv(forking.START_ENV)
        monkeypatch.setattr(forking, "_one_thread", lambda: False)
        assert not forking.forkable(command, env)  # its locks would stay held in the child
        monkeypatch.setattr(forking, "_one_thread", lambda: True)
    assert not forking.forkable(command, env)  # the block is over


# In a fresh interpreter: one thread; then with a Python thread; then with a thread that
# threading does not know of (as a BLAS pool started at import is).
THREADS = """
import _thread, os, threading, time
from mosaic_core.runs.forking import _one_thread
def settled():
    deadline = time.monotonic() + 10
    while len(os.listdir("/proc/self/task")) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    return _one_thread()
seen = [_one_thread()]
stop = threading.Event()
other = threading.Thread(target=stop.wait)
other.start()
seen.append(_one_thread())
stop.set(); other.join()
seen.append(settled())
release = threading.Event()
_thread.start_new_thread(release.wait, ())
seen.append(threading.active_count() == 1 and not _one_thread())
release.set()
seen.append(settled())
print(seen)
"""


def test_any_second_thread_of_the_process_stops_a_fork() -> None:
    done = subprocess.run(
        [sys.executable, "-c", THREADS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[True, False, True, True, True]"
