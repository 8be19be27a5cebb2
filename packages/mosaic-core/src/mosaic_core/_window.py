"""Flow control between a worker and the index of its run: the worker stays near the index.

A worker appends its telemetry to ``events.jsonl`` and the supervisor indexes
the file behind it. When workers flood it on a machine with fewer cores than
processes, the scheduler gives the supervisor its share of the cores, not
the share its work needs: the index fell seconds behind, and the store's
curves went stale while training went on. So the supervisor tells each
worker it started how far the index has read the run's file (8 bytes,
little-endian, at the start of an unlinked file whose descriptor the worker
inherits as ``$MOSAIC_TELEMETRY_ACK_FD``), and the SDK's channel, before it
writes more, waits while the file is more than :data:`WAIT_AHEAD` (half of
:data:`WINDOW`) ahead of that, and then writes whole lines up to the
window's end. The supervisor
tells the offset as soon as it has read a chunk, before indexing it, so a
worker writes its next lines while the last ones are indexed. A worker that
floods runs at the pace of its index, never more than the window ahead of
what the index has read; one that does not never waits, since its index is
never that far behind.

The host is never allowed to hold a worker up for long: when the index has
not moved for :data:`STALL` seconds (its supervisor died, the store is locked
by a rebuild), the channel stops waiting until it moves again.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import time

__all__ = [
    "ENV_ACK_FD", "STALL", "WAIT_AHEAD", "WINDOW", "IndexAck", "IndexWindow", "whole_lines",
]  # fmt: skip

#: The descriptor of the file that says how far the run's index has read.
ENV_ACK_FD = "MOSAIC_TELEMETRY_ACK_FD"
#: How far a worker's telemetry may run ahead of its index before the worker waits.
WINDOW = 128 << 10
#: A worker waits while its file is more than this ahead of what the index has read: a
#: read of this much or more may have left one waiting.
WAIT_AHEAD = WINDOW // 2
#: How long the index may stand still before a waiting worker stops waiting for it.
STALL = 1.0

_OFFSET = struct.Struct("<q")
_NO_LIMIT = 1 << 62


class IndexAck:
    """The supervisor's side: tells one worker how far the index has read its run's file."""

    def __init__(self) -> None:
        self.fd = _unnamed_file()
        self.tell(0)

    def tell(self, offset: int) -> None:
        with contextlib.suppress(OSError):  # the worker then stops waiting after STALL
            os.pwrite(self.fd, _OFFSET.pack(offset), 0)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _unnamed_file() -> int:
    """A file no path names: nothing on disk outlives the two processes that hold it.
    Linux makes it so at once (``O_TMPFILE``); elsewhere it is made, then unlinked."""
    directory = os.environ.get("TMPDIR") or "/tmp"
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        with contextlib.suppress(OSError):  # a file system without it: the other way
            return os.open(directory, flag | os.O_RDWR | os.O_CLOEXEC, 0o600)
    import tempfile  # the host's side only: a worker's import stays light

    fd, path = tempfile.mkstemp(prefix="mosaic-ack-")
    os.unlink(path)
    return fd


class IndexWindow:
    """The worker's side: asked for :meth:`room` before each write to the run's file."""

    def __init__(self, ack_fd: int, out_fd: int) -> None:
        self._ack = ack_fd
        self._out = out_fd
        self._stuck_at = -1  # the offset the index stood still at, when waiting was given up

    @classmethod
    def from_environ(cls, out_fd: int) -> IndexWindow | None:
        """The window of the channel on ``out_fd``, if a supervisor gave one: its
        descriptor names an 8-byte file, and ``out_fd`` is a regular file."""
        value = os.environ.get(ENV_ACK_FD)
        if not value:
            return None
        try:
            ack_fd = int(value)
            ack, out = os.fstat(ack_fd), os.fstat(out_fd)
        except (ValueError, OSError):
            return None  # not ours to use: a child that inherited the variable alone
        if not (stat.S_ISREG(ack.st_mode) and ack.st_size == _OFFSET.size):
            return None
        if not stat.S_ISREG(out.st_mode):
            return None
        return cls(ack_fd, out_fd)

    def _indexed(self) -> int:
        data = os.pread(self._ack, _OFFSET.size, 0)
        return _OFFSET.unpack(data)[0] if len(data) == _OFFSET.size else -1

    def room(self) -> int:
        """How many bytes may be written now: the rest of the window, once the run's file
        is at most :data:`WAIT_AHEAD` ahead of its index (waiting for that); no limit
        while the index stands still (:data:`STALL`), or if the ack cannot be read."""
        try:
            size = os.fstat(self._out).st_size
            indexed = self._indexed()
            if size - indexed <= WAIT_AHEAD:
                return WINDOW - (size - indexed)
            if indexed == self._stuck_at:
                return _NO_LIMIT
            self._stuck_at = -1
            moved = time.monotonic()
            pause = 0.0002
            while size - indexed > WAIT_AHEAD:
                time.sleep(pause)
                pause = min(pause * 2, 0.002)  # a woken worker costs microseconds
                now_indexed = self._indexed()
                now = time.monotonic()
                if now_indexed != indexed:
                    indexed, moved = now_indexed, now
                elif now - moved >= STALL:
                    self._stuck_at = indexed
                    return _NO_LIMIT
            return WINDOW - (size - indexed)
        except OSError:
            return _NO_LIMIT


def whole_lines(data: bytes | memoryview, room: int) -> int:
    """How much of ``data`` to write in ``room`` bytes: whole lines, at least one."""
    if len(data) <= room:
        return len(data)
    view = memoryview(data)
    cut = bytes(view[:room]).rfind(b"\n") + 1
    if cut:
        return cut
    rest = bytes(view[room:]).find(b"\n")  # one line longer than the room: all of it
    return len(data) if rest < 0 else room + rest + 1
