"""What a run leaves behind: every process it started, found, killed when it ends, reaped.

A worker runs in a session of its own, so its children are found through
parent links and the session. A child that starts a session of its own and
whose parent then dies (a worker killed by SIGKILL) has neither: it is found
by the ``MOSAIC_RUN_ID`` it inherited, or because the reaper saw it in the
run's tree earlier (it looks once a second). The supervisor's process is a
*child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``), so such an
orphan becomes its child, not init's: when its run ends it is killed and its
exit collected, and nothing a run started outlives it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping

from mosaic_core import _procs as procs

__all__ = ["Reaper"]

_LOOK_EVERY = 1.0


class Reaper:
    """The processes of the runs one supervisor watches."""

    def __init__(self) -> None:
        #: Whether this process adopts its descendants' orphans (Linux).
        self.subreaper = procs.become_subreaper()
        self._seen: dict[str, dict[int, str]] = {}  # run id -> {pid: start time}
        self._ended: set[str] = set()
        self._orphans: dict[int, str] = {}  # adopted children of this process, to reap
        # What runs' ends killed ({pid: start time}): those that become this process's
        # children (a worker's grandchild is adopted once its parent dies) are reaped.
        self._killed: dict[int, str] = {}
        self._next_look = 0.0

    def watch(self, workers: Mapping[str, int]) -> None:
        """Note the processes of live runs (``{run id: worker pid}``), kill the orphans of
        runs that ended, reap the orphans that exited. Does the work once a second."""
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + _LOOK_EVERY
        table = procs.process_table()
        if table is None:
            return
        for run_id, pid in workers.items():
            seen = self._seen.setdefault(run_id, {})
            for member in procs.descendants(table, pid, session=pid):
                seen[member] = table[member].started
        self._adopt(table, set(workers.values()))

    def run_ended(self, run_id: str, pid: int) -> set[int]:
        """Kill whatever is left of a run whose worker (``pid``) has exited; returns the
        processes signalled."""
        self._ended.add(run_id)
        # One scan of /proc for all of it: a run's end costs a look at each process of
        # the machine (its stat and its environment), whatever else runs there.
        table = procs.process_table()
        targets = procs.signal_tree(pid, signal.SIGKILL, table)
        left = procs.marked_processes(run_id, table)
        left |= {p for p, started in self._seen.get(run_id, {}).items() if procs.alive(p, started)}
        for other in left - targets:
            targets |= procs.signal_tree(other, signal.SIGKILL, table)
        for killed in targets - {pid}:  # the worker itself is its launcher's to reap
            row = table.get(killed) if table is not None else None
            self._killed[killed] = row.started if row is not None else ""
        self._reap()
        return targets

    def close(self, timeout: float = 3.0) -> None:
        """At the supervisor's end: kill every orphan of its runs and collect their exits,
        and those of what runs' ends killed that were handed to this process as they died
        (once all of these are dead, every one that will be this process's child is)."""
        deadline = time.monotonic() + timeout
        while True:
            # An orphan handed to this process is its child: with none (the usual end of a
            # `mosaic run`), there is nothing to look for among the machine's processes.
            table = None
            if self._orphans or procs.has_children() is not False:
                table = procs.process_table()
            if table is not None:
                self._adopt(table, set(), kill_all=True)
            self._reap()
            dying = any(procs.alive(pid, started or None) for pid, started in self._killed.items())
            if not (self._orphans or dying) or time.monotonic() > deadline:
                self._reap()
                return
            time.sleep(0.02)

    def _owner(self, pid: int, started: str) -> str | None:
        run_id = procs.run_id_of(pid)
        if run_id is not None and run_id in self._seen:
            return run_id
        for run, seen in self._seen.items():
            if seen.get(pid) == started:
                return run
        return None

    def _adopt(
        self, table: Mapping[int, procs.Process], workers: set[int], kill_all: bool = False
    ) -> None:
        me = os.getpid()
        for pid, row in table.items():
            if row.parent != me or pid in workers or pid in self._orphans:
                continue
            if self._owner(pid, row.started) is not None:
                self._orphans[pid] = row.started
        for pid, started in self._orphans.items():
            ended = kill_all or self._owner(pid, started) in self._ended
            if ended and procs.alive(pid, started):
                procs.signal_tree(pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        for pid in list(self._orphans):
            if not procs.alive(pid) and procs.reap(pid):
                del self._orphans[pid]
        for pid, started in list(self._killed.items()):
            found = procs.state(pid, started or None)  # a zombie's too
            if found is None:
                del self._killed[pid]  # collected by its parent (and the pid maybe reused)
            elif found in ("Z", "X"):
                try:  # dead: collected here if it is this process's child by now
                    done, _status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue  # another's zombie, or not yet handed to this process
                if done == pid:
                    del self._killed[pid]
