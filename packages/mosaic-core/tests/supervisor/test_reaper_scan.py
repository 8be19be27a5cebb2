"""A run's end looks at the machine's processes once: the reaper finds what the run left
(its tree, and what carries its ``MOSAIC_RUN_ID`` elsewhere) from one scan of ``/proc``.
Real processes, real signals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mosaic_core import _procs as procs
from mosaic_core.runs.reaper import Reaper

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="these tests read /proc")

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def _start(processes: list[subprocess.Popen[bytes]], run_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MOSAIC_RUN_ID": run_id}
    process = subprocess.Popen(SLEEP, env=env, start_new_session=True)
    processes.append(process)
    deadline = time.monotonic() + 10
    while procs.run_id_of(process.pid) != run_id:  # its environment is readable once exec'd
        assert time.monotonic() < deadline, "the child never showed its environment"
        time.sleep(0.01)
    return process


def test_marked_processes_from_a_table_are_those_of_a_scan_of_its_own(started) -> None:
    mine = _start(started, "scan-test-1")
    other = _start(started, "scan-test-2")
    table = procs.process_table()
    assert table is not None
    assert procs.marked_processes("scan-test-1", table) == {mine.pid}
    assert procs.marked_processes("scan-test-1") == {mine.pid}
    assert procs.marked_processes("scan-test-2", table) == {other.pid}
    assert procs.marked_processes("scan-test-3", table) == set()


def test_a_run_end_kills_what_carries_its_id_from_one_scan(started, monkeypatch) -> None:
    worker = _start(started, "scan-run")  # stands for the worker, in a session of its own
    escaped = _start(started, "scan-run")  # a process of the run outside the worker's tree
    bystander = _start(started, "scan-other")
    monkeypatch.setattr(procs, "become_subreaper", lambda: False)  # pytest's own process
    reaper = Reaper()
    scans: list[str] = []
    monkeypatch.setattr(procs.os, "listdir", _counted(procs.os.listdir, scans))

    targets = reaper.run_ended("scan-run", worker.pid)

    assert scans == ["/proc"]
    assert {worker.pid, escaped.pid} <= targets
    assert bystander.pid not in targets
    # Dead: killed, and perhaps collected by the reaper already (they are this process's
    # children, as adopted ones are the supervisor's), so their exit status is not asked.
    deadline = time.monotonic() + 10
    while procs.alive(worker.pid) or procs.alive(escaped.pid):
        assert time.monotonic() < deadline, "the run's processes outlived its end"
        time.sleep(0.01)
    assert procs.alive(bystander.pid)


# In a process of its own, which the reaper makes a child subreaper (a subreaper stays one
# for the rest of its life): a worker W whose child C has a child G, all in W's session;
# W exits, its run ends, C and G are killed. G is still C's child when /proc is read, and
# is handed to this process only as C dies: it must still be collected, not left a zombie.
_GRANDCHILD = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from mosaic_core import _procs as procs
    from mosaic_core.runs.reaper import Reaper

    reaper = Reaper()
    assert reaper.subreaper
    grandchild = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    child = (
        "import os, subprocess, sys;"
        f" c = subprocess.Popen([sys.executable, '-c', {grandchild!r}]);"
        " print(c.pid, flush=True); os._exit(0)"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", child], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    c_pid = int(worker.stdout.readline())
    worker.wait()  # as its launcher does; C is now this process's child, G still C's
    deadline = time.monotonic() + 10
    while not procs.children(c_pid):
        assert time.monotonic() < deadline, "no grandchild"
        time.sleep(0.01)
    (g_pid,) = procs.children(c_pid)
    targets = reaper.run_ended("grandchild-run", worker.pid)
    reaper.close()
    left = [p for p in (c_pid, g_pid) if p in procs.children(os.getpid())]
    print(json.dumps({"targets": sorted(targets), "c": c_pid, "g": g_pid, "left": left}))
    """
)


def test_a_grandchild_killed_at_a_run_end_is_collected_once_handed_over() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _GRANDCHILD], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert {result["c"], result["g"]} <= set(result["targets"])
    assert result["left"] == []  # neither is a zombie child of the supervisor


def _counted(listdir, scans: list[str]):  # type: ignore[no-untyped-def]
    """os.listdir, noting each listing of /proc by this thread in ``scans`` (a thread an
    earlier test left running may list it too)."""
    me = threading.get_ident()

    def counted(path="."):  # type: ignore[no-untyped-def]
        if os.fspath(path) == "/proc" and threading.get_ident() == me:
            scans.append("/proc")
        return listdir(path)

    return counted


def _item_by_item(environ: bytes) -> str | None:
    """The reference: the environment's items in order, the first named MOSAIC_RUN_ID."""
    for item in environ.split(b"\0"):
        if item.startswith(b"MOSAIC_RUN_ID="):
            return item[len(b"MOSAIC_RUN_ID=") :].decode("utf-8", "replace")
    return None


_NAMES = st.sampled_from(["MOSAIC_RUN_ID", "XMOSAIC_RUN_ID", "MOSAIC_RUN", "PATH", "A", ""])
_VALUES = st.one_of(
    st.binary(max_size=12).map(lambda b: b.replace(b"\0", b"")),
    st.sampled_from([b"", b"MOSAIC_RUN_ID=x", b"=", b"\xff\xfe", b"run-1"]),
)


@given(
    items=st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
    ended=st.booleans(),  # the kernel ends every item with a NUL; a cut block may not
)
def test_an_environment_block_gives_the_run_id_its_items_give(
    items: list[tuple[str, bytes]], ended: bool
) -> None:
    environ = b"\0".join(name.encode() + b"=" + value for name, value in items)
    if ended and items:
        environ += b"\0"
    assert procs._run_id_in(environ) == _item_by_item(environ)
