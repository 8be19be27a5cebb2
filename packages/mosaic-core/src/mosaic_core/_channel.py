"""The bytes of a telemetry channel: buffered, written whole and in order, retried.

:class:`Channel` is what :class:`~mosaic_core.TelemetryEmitter` writes
through. It never raises for a failed write. A transient error (the disk is
full for a moment: ``ENOSPC``, ``EDQUOT``, ``EIO``, ``EAGAIN``) leaves the
bytes pending and the next flush tries again from the exact byte where the
last write stopped (a :class:`io.BufferedWriter` keeps its unwritten bytes
when its raw write fails, and a write it refuses is kept here), so no line
is lost, repeated or torn. A channel that stays failing for
``give_up_after`` seconds, or that is really gone (its descriptor closed:
``EBADF``), is *gone*: :attr:`Channel.gone` says why, one line on stderr
says so, and the emitter ends the run. A reader that went away (``EPIPE``,
``mosaic events | head``) is not an error of the run: further bytes are
dropped, as before.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from mosaic_core._window import IndexWindow, whole_lines

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["TRANSIENT_ERRNOS", "Channel"]

#: Errors that may pass: the bytes stay pending and are written later.
TRANSIENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR, errno.ENOMEM, errno.ENOBUFS}
)
_BUFFER = 1 << 20  # a write no larger than the buffer is taken whole or not at all
_MAX_PENDING = 256 << 20


class _Windowed(io.FileIO):
    """The run's file, written no further ahead of its index than the supervisor allows
    (:mod:`mosaic_core._window`): each write of the buffer waits for the index, and takes
    the whole lines that fit in the window (the buffer writes the rest next)."""

    def __init__(self, fd: int, window: IndexWindow) -> None:
        super().__init__(fd, "wb", closefd=False)
        self._window = window

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data)
        return super().write(view[: whole_lines(view, self._window.room())])


def _retry_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("MOSAIC_TELEMETRY_RETRY_SECONDS", "")))
    except ValueError:
        return 20.0


class Channel:
    """One telemetry channel: a file descriptor (buffered here) or a binary stream."""

    #: How long a channel may keep failing before it is given up
    #: (``$MOSAIC_TELEMETRY_RETRY_SECONDS``, 20 by default).
    give_up_after = _retry_seconds()

    def __init__(
        self,
        run_id: str,
        *,
        fd: int | None = None,
        stream: IO[bytes] | None = None,
        before_write: Callable[[], object] | None = None,
    ) -> None:
        if (fd is None) == (stream is None):
            raise TypeError("a Channel needs exactly one of fd and stream")
        self.run_id = run_id
        if fd is not None:
            window = IndexWindow.from_environ(fd)
            if window is None:
                stream = os.fdopen(fd, "wb", buffering=_BUFFER, closefd=False)
            else:
                stream = io.BufferedWriter(_Windowed(fd, window), _BUFFER)
        assert stream is not None
        self._out = stream
        self._before_write = before_write
        self._refused: deque[bytes] = deque()  # writes the stream refused, oldest first
        self._refused_bytes = 0
        self._plain = before_write is None  # healthy, nothing refused: write straight on
        #: When the current run of failed writes began (monotonic), None while writes succeed.
        self.failing_since: float | None = None
        #: The last error a write met.
        self.error: OSError | None = None
        #: Why the channel was given up; None while it works.
        self.gone: str | None = None
        self.reader_gone = False

    def write(self, data: bytes) -> None:
        """Take ``data``; it reaches the channel at the next flush at the latest."""
        if self._plain and len(data) <= _BUFFER:
            try:
                self._out.write(data)  # whole, or raises having taken none of it
                return
            except (OSError, ValueError):
                pass  # the careful way below says what it was
        if self.gone is not None or self.reader_gone:
            return
        if self._refused:
            self._refuse(data)  # behind what is already waiting, to keep the order
            return
        start = 0
        try:
            if self._before_write is not None:
                self._before_write()
            if len(data) <= _BUFFER:
                self._out.write(data)  # whole, or raises having taken none of it
                return
            while start < len(data):
                self._out.write(data[start : start + _BUFFER])
                start += _BUFFER
        except BrokenPipeError:
            self._reader_went_away()
        except OSError as exc:
            self._refuse(data[start:])
            self._failed(exc)
        except ValueError as exc:  # a closed stream
            self._give_up(None, f"the stream is closed ({exc})")

    def flush(self) -> bool:
        """Write what is pending. True when nothing is left pending (or the channel is
        gone); False after a transient error, with the bytes kept for the next try."""
        if self.gone is not None or self.reader_gone:
            return True
        if not self._refused and getattr(self._out, "closed", False):
            return True  # its owner closed it (and flushed it): nothing is left to write
        try:
            if self._before_write is not None:
                self._before_write()
            self._out.flush()  # a failed raw write keeps its bytes in the buffer
            while self._refused:
                chunk = self._refused.popleft()
                self._refused_bytes -= len(chunk)
                try:
                    self._out.write(chunk)
                except OSError:
                    self._refused.appendleft(chunk)
                    self._refused_bytes += len(chunk)
                    raise
                self._out.flush()
        except BrokenPipeError:
            self._reader_went_away()
            return True
        except OSError as exc:
            return self._failed(exc)
        except ValueError as exc:  # a closed stream
            self._give_up(None, f"the stream is closed ({exc})")
            return True
        self.failing_since = None
        self._plain = self._before_write is None and self.gone is None and not self.reader_gone
        return True

    def flush_until(self, deadline: float) -> bool:
        """Flush, retrying with backoff until ``deadline`` (monotonic); True when done."""
        delay = 0.01
        while not self.flush():
            now = time.monotonic()
            if now >= deadline:
                return False
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 1.0)
        return True

    def give_up(self) -> None:
        """Stop trying: what is still pending is dropped, and stderr says so."""
        if self.gone is None:
            self._give_up(self.error, "writes kept failing")

    def last_word(self, data: bytes) -> bool:
        """One plain attempt to write ``data`` on a channel given up (a terminal event
        that says why the run ends); True if it was written."""
        with contextlib.suppress(OSError, ValueError):
            self._out.write(data)
            self._out.flush()
            return True
        return False

    def _refuse(self, data: bytes) -> None:
        self._plain = False
        self._refused.append(data)
        self._refused_bytes += len(data)
        if self._refused_bytes > _MAX_PENDING:
            self._give_up(self.error, f"more than {_MAX_PENDING >> 20} MiB could not be written")

    def _failed(self, exc: OSError) -> bool:
        self.error = exc
        if exc.errno not in TRANSIENT_ERRNOS:
            self._give_up(exc, "it cannot be written to")
            return True
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        elif now - self.failing_since >= self.give_up_after:
            self._give_up(exc, f"writes failed for {now - self.failing_since:.0f} s")
            return True
        return False

    def _give_up(self, exc: OSError | None, why: str) -> None:
        if self.gone is not None:
            return
        lost = self._refused_bytes
        self._refused.clear()
        self._refused_bytes = 0
        cause = ""
        if exc is not None:
            name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            cause = f": {exc.strerror or exc} ({name})"
        self.gone = why + cause
        self._plain = False
        _stderr(
            f"mosaic: the telemetry channel of run {self.run_id} is gone ({self.gone}); "
            f"the run is ended{f' and {lost} bytes of telemetry were not written' if lost else ''}"
        )

    def _reader_went_away(self) -> None:
        # The reader is gone; training goes on, telemetry cannot.
        self.reader_gone = True
        self._plain = False
        self._refused.clear()
        _stderr(
            f"mosaic: telemetry reader of run {self.run_id} went away; further events are dropped"
        )


def _stderr(line: str) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
