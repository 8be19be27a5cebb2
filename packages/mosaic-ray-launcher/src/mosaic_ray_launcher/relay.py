"""The home side of the relay: a run's streams appended to its directory at home, its files
copied there.

The home copy of each stream (``events.jsonl``, ``stdout.log``,
``stderr.log``) is a byte-exact prefix of the node's, so its size is where
the next batch starts: a batch lost on the way (a relay that hiccups, a
home side that died) is asked for again from the same offset, and no byte
is skipped or written twice. The supervisor then reads ``events.jsonl`` as
it reads a local run's, so the ``seq`` of every event is checked as usual.
Files are written to a temporary name and renamed into place, whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

__all__ = ["STREAMS", "Pumper", "Streams", "relay_lock", "write_file"]

logger = logging.getLogger(__name__)

STREAMS = ("events.jsonl", "stdout.log", "stderr.log")


class Streams:
    """A run's streams at home, appended to in order."""

    def __init__(self, run_dir: pathlib.Path) -> None:
        self.run_dir = run_dir
        self._fds = [
            os.open(run_dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            for name in STREAMS
        ]

    def offsets(self) -> list[int]:
        """Where the next batch of each stream starts: how much of it is home."""
        return [os.fstat(fd).st_size for fd in self._fds]

    def append(self, chunks: Sequence[bytes]) -> int:
        """Write each stream's batch at its end; returns the bytes written."""
        written = 0
        for fd, data in zip(self._fds, chunks, strict=True):
            view = memoryview(data)
            while view:
                done = os.write(fd, view)
                view = view[done:]
                written += done
        return written

    def close(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []


def write_file(run_dir: pathlib.Path, relative: str, chunks: Iterator[bytes]) -> int:
    """``run_dir/relative`` made whole from ``chunks``; returns its size."""
    target = (run_dir / relative).resolve()
    if run_dir.resolve() not in target.parents:
        raise ValueError(f"{relative!r} is outside the run directory {run_dir}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    size = 0
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return size


@contextlib.contextmanager
def relay_lock(run_dir: pathlib.Path) -> Iterator[None]:
    """One process at a time brings a run home (two ``mosaic runs`` at once would append
    the same batch twice)."""
    fd = os.open(run_dir / ".relay.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class _Pumped(Protocol):
    def pump(self) -> bool: ...

    def poll(self) -> Any: ...


class Pumper:
    """A thread that pumps every started run while it lasts, so batches come home as soon
    as the agents answer, not once per turn of the supervisor, which also indexes what
    comes (the supervisor's own ``pump`` calls still drive a run whenever this is idle)."""

    def __init__(self) -> None:
        self._runs: list[_Pumped] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run: _Pumped) -> None:
        with self._lock:
            self._runs.append(run)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="mosaic-relay",
                                                daemon=True)  # fmt: skip
                self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._runs = runs = [r for r in self._runs if r.poll() is None]
            moved = False
            for run in runs:
                try:
                    moved |= run.pump()
                except Exception:  # the supervisor's own pump meets it again, and says it
                    logger.debug("the relay thread leaves a run to the supervisor", exc_info=True)
                    with self._lock:
                        self._runs.remove(run)
            if not moved:
                self._stop.wait(0.02)
