"""Process-tree helpers for the supervisor (Linux ``/proc``; POSIX fallbacks elsewhere).

A worker starts in a session of its own, so everything it spawns shares its
session id unless it deliberately calls ``setsid()``. Killing a run means
signalling its process group, every process of its session, and every
descendant found through parent links.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable

__all__ = ["alive", "kill_tree", "run_processes", "signal_name", "signal_tree", "start_time"]

_PROC = "/proc"


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    return data[data.rfind(")") + 2 :].split()  # [0] is field 3, the state


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to tell a reused pid."""
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def alive(pid: int | None, started: str | None = None) -> bool:
    """Is ``pid`` running (not a zombie), and the same process that started at ``started``?"""
    if not pid:
        return False
    fields = _stat(pid)
    if fields is None:
        if not os.path.isdir(_PROC):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return False
    if fields[0] in ("Z", "X"):
        return False
    return started is None or fields[19] == started


def run_processes(pid: int, session: int | None = None) -> set[int]:
    """Live processes of a run: ``pid``'s descendants and members of its session."""
    parents: dict[int, int] = {}
    members: set[int] = set()
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return {pid} if alive(pid) else set()
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields is None or fields[0] in ("Z", "X"):
            continue
        child = int(entry)
        parents[child] = int(fields[1])
        if session is not None and int(fields[3]) == session:
            members.add(child)
    found = {pid} if pid in parents else set()
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in found:
                found.add(child)
                frontier.append(child)
    found |= members
    found.discard(os.getpid())
    return found


def _signal_all(pids: Iterable[int], pgid: int | None, sig: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def signal_tree(pid: int, sig: int) -> set[int]:
    """Send ``sig`` to a run's process group, session and descendants; returns the targets."""
    targets = run_processes(pid, session=pid)
    _signal_all(targets, pid, sig)
    return targets


def kill_tree(
    pid: int, *, grace: float = 5.0, sig: int = signal.SIGTERM, poll: float = 0.05
) -> bool:
    """SIGTERM a run's whole tree, SIGKILL what is left after ``grace`` seconds.

    ``pid`` leads its own session and process group (the supervisor starts it
    so). Returns True if the tree was gone before SIGKILL was needed.
    """
    targets = signal_tree(pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        targets = {p for p in targets | run_processes(pid, session=pid) if alive(p)}
        if not targets:
            return True
        time.sleep(poll)
    _signal_all(targets | run_processes(pid, session=pid), pid, signal.SIGKILL)
    return False


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
