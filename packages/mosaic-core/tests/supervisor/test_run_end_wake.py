"""A run's end is seen as its worker exits, not at the supervisor's next poll: an idle
supervisor waits on each local worker's pidfd (Linux), and closes it once woken. At the
supervisor's end, the machine's processes are looked through only when this process has
a child that could be an orphan of a run. Real processes throughout."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from mosaic_core import _procs as procs
from mosaic_core.runs import RunStore, Supervisor, prepare_runs


def _pidfds_work() -> bool:
    fd = procs.exit_fd(os.getpid()) if os.path.isdir("/proc") else None
    if fd is None:
        return False  # no pidfd_open, a kernel before 5.3, or a sandbox refusing it
    os.close(fd)
    return procs.has_children() is not None  # the threads' children files readable


pytestmark = pytest.mark.skipif(
    not _pidfds_work(), reason="needs Linux pidfds and /proc/PID/task/TID/children"
)


def _pidfds() -> int:
    """This process's open pidfds."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[pidfd]"
        except OSError:
            continue
    return count


def test_an_idle_supervisor_wakes_when_its_worker_exits(store: RunStore) -> None:
    from mosaic_core.plugins import discover_workers

    spec = discover_workers(load=["fixture"]).runnable("fixture")
    (run,) = prepare_runs(store, "fixture", spec, {"total_steps": 5, "seed": 1})
    # Each idle turn would sleep 30 s: the run's end must come from the worker's exit.
    supervisor = Supervisor(store, parallel=1, poll_interval=30.0)
    supervisor.submit(run.launch)
    before = _pidfds()
    started = time.monotonic()

    results = supervisor.wait()

    assert results[run.run_id].status == "completed"
    assert time.monotonic() - started < 15.0  # not a poll interval: its exit woke it
    assert _pidfds() == before  # each worker's descriptor closed


def test_exit_fd_turns_readable_when_the_process_exits() -> None:
    import select

    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    fd = procs.exit_fd(child.pid)
    assert fd is not None
    try:
        assert select.select([fd], [], [], 0.2)[0] == []  # alive: not readable
        assert child.stdin is not None
        child.stdin.close()
        assert select.select([fd], [], [], 30)[0] == [fd]
    finally:
        os.close(fd)
        child.wait()
    assert procs.exit_fd(child.pid) is None  # collected: no such process


CLOSE_SCANS = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from mosaic_core import _procs as procs
    from mosaic_core.runs.reaper import Reaper

    scans = []
    real = procs.os.listdir
    procs.os.listdir = lambda path=".": (scans.append(str(path)), real(path))[1]
    out = {"alone": procs.has_children()}
    Reaper().close()
    out["alone_scans"] = scans.count("/proc")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while procs.state(child.pid) not in ("Z", "X"):  # a zombie is a child still
        time.sleep(0.001)
    out["zombie"] = procs.has_children()
    scans.clear()
    Reaper().close()
    out["zombie_scans"] = scans.count("/proc")
    child.wait()
    out["after"] = procs.has_children()
    print(json.dumps(out))
    """
)


def test_the_reaper_looks_for_orphans_only_when_this_process_has_children() -> None:
    # A process of its own: pytest's may have children of other tests.
    done = subprocess.run([sys.executable, "-c", CLOSE_SCANS], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    out = __import__("json").loads(done.stdout)
    assert out == {"alone": False, "alone_scans": 0, "zombie": True, "zombie_scans": 1,
                   "after": False}  # fmt: skip
