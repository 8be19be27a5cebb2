"""Process-tree helpers for the supervisor (Linux ``/proc``; POSIX fallbacks elsewhere).

A worker starts in a session of its own, so everything it spawns shares its
session id unless it deliberately calls ``setsid()``. Killing a run means
signalling its process group, every process of its session, and every
descendant found through parent links. A process that escaped both (its own
session, and its parent died) is found by the ``MOSAIC_RUN_ID`` it inherited
in its environment, and the supervisor, a *child subreaper*, becomes its
parent, so it is never lost to init.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

__all__ = [
    "DEFAULT_STOP_GRACE",
    "STOP_GRACE_ENV",
    "Process",
    "alive",
    "become_subreaper",
    "children",
    "descendants",
    "exit_fd",
    "has_children",
    "kill_tree",
    "marked_processes",
    "process_table",
    "reap",
    "run_id_of",
    "run_processes",
    "signal_name",
    "signal_tree",
    "start_time",
]

#: The environment variable in which the supervisor gives a worker its grace period.
STOP_GRACE_ENV = "MOSAIC_STOP_GRACE"
#: Seconds between SIGTERM and SIGKILL when nothing else is said.
DEFAULT_STOP_GRACE = 5.0

_PROC = "/proc"


def _stat(pid: int) -> list[str] | None:
    # One read of at most a page: the kernel gives the whole line at once (a file object
    # and a read to the end cost twice the time, and a run's end reads every process's).
    try:
        fd = os.open(f"{_PROC}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces and parentheses: split after it.
    return data[data.rfind(")") + 2 :].split()  # [0] is field 3, the state


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to tell a reused pid."""
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def state(pid: int, started: str | None = None) -> str | None:
    """The kernel's state letter of ``pid`` (``R``, ``S``, ``Z`` for a zombie, ...) if it
    is the process that started at ``started``; None if there is no such process."""
    fields = _stat(pid)
    if fields is None or len(fields) <= 19 or (started is not None and fields[19] != started):
        return None
    return fields[0]


def alive(pid: int | None, started: str | None = None) -> bool:
    """Is ``pid`` running (not a zombie), and the same process that started at ``started``?"""
    if not pid:
        return False
    if os.path.isdir(_PROC):
        return state(pid, started) not in (None, "Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True  # or PermissionError: someone else's, but there


class Process(NamedTuple):
    """One row of :func:`process_table`."""

    parent: int
    session: int
    started: str


def process_table() -> dict[int, Process] | None:
    """Every live (not zombie) process, from one scan of ``/proc``; None without ``/proc``."""
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return None
    table: dict[int, Process] = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields is None or fields[0] in ("Z", "X") or len(fields) <= 19:
            continue
        table[int(entry)] = Process(int(fields[1]), int(fields[3]), fields[19])
    return table


def descendants(table: Mapping[int, Process], pid: int, session: int | None = None) -> set[int]:
    """``pid`` (if alive), its descendants and the members of ``session``, from ``table``."""
    kids: dict[int, list[int]] = {}
    for child, row in table.items():
        kids.setdefault(row.parent, []).append(child)
    found = {pid} if pid in table else set()
    frontier = [pid]
    while frontier:
        for child in kids.get(frontier.pop(), ()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    if session is not None:
        found |= {child for child, row in table.items() if row.session == session}
    found.discard(os.getpid())
    return found


def run_processes(
    pid: int, session: int | None = None, table: Mapping[int, Process] | None = None
) -> set[int]:
    """Live processes of a run: ``pid``'s descendants and members of its session, from
    ``table`` when the caller has just scanned ``/proc`` (otherwise a scan of its own)."""
    if table is None:
        table = process_table()
    if table is None:
        return {pid} if alive(pid) else set()
    return descendants(table, pid, session)


def _signal_all(pids: Iterable[int], pgid: int | None, sig: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def signal_tree(pid: int, sig: int, table: Mapping[int, Process] | None = None) -> set[int]:
    """Send ``sig`` to a run's process group, session and descendants; returns the targets.
    ``table``: as :func:`run_processes` takes it."""
    targets = run_processes(pid, session=pid, table=table)
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


_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the parent of every orphan among its descendants (Linux
    ``prctl(PR_SET_CHILD_SUBREAPER)``): a worker's child that outlives the worker is
    then this process's to find, kill and reap, not init's. False where unsupported."""
    if not os.path.isdir(_PROC):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


_PR_SET_PDEATHSIG = 1


def killed_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for a child to be SIGKILLed when this process dies (Linux
    ``prctl(PR_SET_PDEATHSIG)``), however it dies; None where unsupported."""
    if not os.path.isdir(_PROC):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # it died before the line above
            os._exit(1)

    return arm


def children(pid: int) -> dict[int, str | None]:
    """``{child pid: start time}`` of ``pid``'s children, zombies included."""
    out: dict[int, str | None] = {}
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return out
    for entry in entries:
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and len(fields) > 19 and int(fields[1]) == pid:
                out[int(entry)] = fields[19]
    return out


_RUN_ID_ITEM = b"MOSAIC_RUN_ID="
_RUN_ID_AFTER = b"\0" + _RUN_ID_ITEM  # the item, after the one before it


def run_id_of(pid: int) -> str | None:
    """The ``MOSAIC_RUN_ID`` a process started with (None if unreadable or unset)."""
    try:
        with open(f"{_PROC}/{pid}/environ", "rb", buffering=0) as handle:
            return _run_id_in(handle.readall())
    except OSError:
        return None


def _run_id_in(environ: bytes) -> str | None:
    """The first ``MOSAIC_RUN_ID`` of an environment block (``NAME=value`` items, each
    ended by a NUL), found by one search of the block, not item by item: a run's end
    looks at every process of the machine."""
    if environ.startswith(_RUN_ID_ITEM):
        start = len(_RUN_ID_ITEM)
    else:
        found = environ.find(_RUN_ID_AFTER)
        if found < 0:
            return None
        start = found + 1 + len(_RUN_ID_ITEM)
    end = environ.find(b"\0", start)
    return environ[start : end if end >= 0 else len(environ)].decode("utf-8", "replace")


def marked_processes(run_id: str, table: Mapping[int, Process] | None = None) -> set[int]:
    """Live processes whose environment names run ``run_id`` (the run's, wherever they are);
    among those of ``table`` when the caller has just scanned ``/proc``."""
    found: set[int] = set()
    me = os.getpid()
    if table is not None:
        return {pid for pid in table if pid != me and run_id_of(pid) == run_id}
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return found
    for entry in entries:
        pid = int(entry) if entry.isdigit() else me
        if pid != me and run_id_of(pid) == run_id and alive(pid):
            found.add(pid)
    return found


def has_children() -> bool | None:
    """Whether this process has a child (a zombie included), from each of its threads'
    ``children`` in ``/proc``: no scan of the machine's processes. None where that cannot
    be read."""
    task = f"{_PROC}/{os.getpid()}/task"
    try:
        for thread in os.listdir(task):
            with open(f"{task}/{thread}/children", "rb") as listing:
                if listing.read().strip():
                    return True
    except OSError:  # no such file (a kernel without it), or a thread that just ended
        return None
    return False


def exit_fd(pid: int) -> int | None:
    """A descriptor that turns readable when ``pid`` exits (a Linux pidfd), to wait on with
    ``select``; None where there is none (no ``pidfd_open``, or no such process). The
    caller closes it. ``pid`` must not have been collected yet: a number reused since would
    be another process."""
    open_pidfd = getattr(os, "pidfd_open", None)
    if open_pidfd is None:
        return None
    try:
        fd: int = open_pidfd(pid)
    except OSError:  # gone already, or the kernel has no pidfds (before Linux 5.3)
        return None
    return fd


def reap(pid: int) -> bool:
    """Collect ``pid`` if it is this process's child and has exited; True if it was."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid
