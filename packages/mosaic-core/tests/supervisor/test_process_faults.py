"""Nothing a run started outlives it, whatever kills what; queued runs obey cancel and rm;
a foreground ``mosaic run`` treats SIGTERM and SIGHUP like Ctrl-C. Real signals, real
processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mosaic_core import _procs as procs
from mosaic_core.runs import RunStore

from .conftest import Mosaic, survivors

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="these tests read /proc")


def wait_for(predicate, timeout: float = 30, what: str = "a condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    """Dead and reaped, or at worst a zombie no one can run again."""
    return not procs.alive(pid)


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a test expects gone; whatever a failing test leaves is killed afterwards."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if procs.alive(pid):
            procs.signal_tree(pid, signal.SIGKILL)


def test_child_in_its_own_session_dies_with_its_sigkilled_worker(
    mosaic: Mosaic, store: RunStore, leftovers: list[int]
) -> None:
    code, result = mosaic.run_json("--set", "behavior=orphan")
    assert code == 1 and result["signal"] == "SIGKILL", result
    orphan = int((store.run_dir(result["run_id"]) / "orphan.pid").read_text())
    leftovers.append(orphan)
    # Its session is its own and its parent died: only the subreaper and the run's
    # MOSAIC_RUN_ID could find it. By the time `mosaic run` returns it must be gone.
    assert gone(orphan), f"process {orphan} of run {result['run_id']} outlived it"
    assert not survivors(store.get(result["run_id"]))


def test_supervisor_is_a_child_subreaper_and_reaps_what_it_adopts(
    store: RunStore, leftovers: list[int]
) -> None:
    # In a process of its own: a subreaper stays one for the rest of its life.
    code = """
import os
from mosaic_core import _procs as procs
from mosaic_core.plugins import discover_workers
from mosaic_core.runs import RunStore, Supervisor, prepare_runs

store = RunStore()
(run,) = prepare_runs(store, "fixture", discover_workers().runnable("fixture"),
                      {"behavior": "orphan"})
supervisor = Supervisor(store)
supervisor.submit(run.launch)
result = supervisor.wait()[run.run_id]
zombies = [p for p in procs.children(os.getpid()) if not procs.alive(p)]
print(supervisor._reaper.subreaper, result.run_id, len(zombies))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    subreaper, run_id, zombies = done.stdout.split()
    assert subreaper == "True"
    orphan = int((store.run_dir(run_id) / "orphan.pid").read_text())
    leftovers.append(orphan)
    assert gone(orphan)
    assert zombies == "0"  # the adopted orphan was killed and its exit collected


def start_two_seeds_one_at_a_time(
    mosaic: Mosaic, store: RunStore
) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    """``mosaic run --seeds 1,2 --parallel 1`` of a long run: the first runs, the second
    waits its turn (for as long as the test needs)."""
    runner = mosaic.popen(
        "run", "fixture", "--json", "--seeds", "1,2", "--parallel", "1",
        "--set", "total_steps=100000", "--set", "step_sleep=0.01",
    )  # fmt: skip
    first = wait_for(lambda: store.list_runs(status="running"), what="the first run")[0]
    wait_for(lambda: store.get(first["run_id"])["events"] >= 2, what="its first events")
    (queued,) = store.list_runs(status="pending")
    return runner, first["run_id"], queued


def test_rm_of_a_queued_run_is_refused_and_the_supervisor_survives_its_removal(
    mosaic: Mosaic, store: RunStore
) -> None:
    runner, first, queued = start_two_seeds_one_at_a_time(mosaic, store)
    refused = mosaic("rm", queued["run_id"])
    assert refused.returncode == 1 and "cancel" in refused.stderr
    assert "Traceback" not in refused.stderr
    # Removed behind its supervisor's back (as a second `mosaic rm` racing the check
    # could): the supervisor must not crash, and must not start it.
    store.delete(queued["run_id"])
    assert mosaic("cancel", first, "--grace", "2").returncode == 0  # its turn comes now
    out, err = runner.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert out, (runner.returncode, err)
    runs = {r["run_id"]: r for r in json.loads(out)["runs"]}
    assert runs[queued["run_id"]]["status"] == "cancelled"
    assert runs[queued["run_id"]]["reason"] == "removed before it started"
    assert not store.run_dir(queued["run_id"]).exists()
    assert runs[first]["status"] == "cancelled"


def test_cancel_of_a_queued_run_cancels_it_at_once_and_it_never_starts(
    mosaic: Mosaic, store: RunStore
) -> None:
    runner, first, queued = start_two_seeds_one_at_a_time(mosaic, store)
    started = time.monotonic()
    done = mosaic("cancel", queued["run_id"])
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 8, "cancel waited for a run that was only queued"
    assert done.stdout.strip() == f"cancelled {queued['run_id']} (cancelled)"
    assert store.get(first)["status"] == "running"  # the other run goes on
    assert mosaic("cancel", first, "--grace", "2").returncode == 0
    runner.communicate(timeout=120)
    row = store.get(queued["run_id"])
    assert row["status"] == "cancelled" and row["pid"] is None  # never launched
    assert row["started_at"] is None
    assert (store.run_dir(queued["run_id"]) / "events.jsonl").read_bytes() == b""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_to_a_foreground_run_cancel_it_like_ctrl_c(
    mosaic: Mosaic, store: RunStore, signum: int, leftovers: list[int]
) -> None:
    runner = mosaic.popen(
        "run", "fixture", "--set", "total_steps=100000", "--set", "step_sleep=0.01"
    )
    run_id = wait_for(lambda: store.list_runs(status="running"), what="a running run")[0]["run_id"]
    wait_for(lambda: store.get(run_id)["events"] >= 2, what="the worker's first events")
    worker = store.get(run_id)["pid"]
    leftovers.append(worker)
    runner.send_signal(signum)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signum, err
    assert "Traceback" not in err
    run = store.get(run_id)
    assert run["status"] == "cancelled" and run["reason"] == "interrupted"
    assert store.events(run_id)[-1]["event"] == "run_cancelled"
    assert gone(worker) and not survivors(run)


def test_cancel_without_a_supervisor_kills_what_the_run_left(
    mosaic: Mosaic, store: RunStore, leftovers: list[int]
) -> None:
    # A detached run whose supervisor is killed first: `mosaic cancel` has to find the
    # orphan by its MOSAIC_RUN_ID.
    code = (
        "import os, subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', "
        "\"import os, time; open('orphan.pid','w').write(str(os.getpid())); time.sleep(600)\"],"
        " start_new_session=True); time.sleep(600)"
    )
    runner = mosaic.popen(
        "run", "fixture", "--set", "total_steps=100000", "--set", "step_sleep=0.01"
    )
    run_id = wait_for(lambda: store.list_runs(status="running"), what="a running run")[0]["run_id"]
    run = store.get(run_id)
    env = dict(os.environ, MOSAIC_RUN_ID=run_id)
    helper = subprocess.Popen(
        [sys.executable, "-c", code], cwd=store.run_dir(run_id), env=env, start_new_session=True
    )
    orphan_file = store.run_dir(run_id) / "orphan.pid"
    orphan = int(wait_for(lambda: orphan_file.exists() and orphan_file.read_text(), what="pid"))
    leftovers += [orphan, run["pid"]]
    runner.kill()  # the supervisor dies first
    runner.wait()
    helper.kill()  # and the orphan's parent: only its MOSAIC_RUN_ID ties it to the run
    helper.wait()
    done = mosaic("cancel", run_id, "--grace", "1")
    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: gone(orphan), timeout=10, what="the orphan to die")
    assert gone(run["pid"])
