"""Cancelling a Ray driver within the supervisor's grace period, whatever Ray is doing.

The supervisor cancels a run by sending SIGTERM to the worker's whole
session, which holds the local Ray's ``gcs_server``, ``raylet`` and
workers too. They die at once; the driver's main thread may then be blocked
inside Ray's C++ core (which can also end the process itself when its
raylet vanishes), ``ray.shutdown()`` can wait for peers that are gone, and
interpreter finalization can hang in Ray's teardown. So a run's
cancellation does not rely on the main thread alone:

- a watcher thread woken by the signal itself (``signal.set_wakeup_fd``)
  emits ``run_cancelled`` at once, so the terminal event is never lost;
- the main thread gets :class:`~mosaic_core.RunCancelled` as usual and
  shuts Ray down the normal way (``ray.shutdown()``);
- if that has not finished after ``grace`` seconds, the watcher kills what
  is left of the run's own processes (a local Ray: this process's
  descendants, through :meth:`mosaic_core.RunContext.kill_descendants`) and
  ends the process with status 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from mosaic_core import ProtocolError, RunCancelled, TelemetryEmitter

__all__ = ["EXIT_CANCELLED", "CancelGuard"]

EXIT_CANCELLED = 130


class CancelGuard:
    """Announces SIGTERM from a thread of its own and bounds how long cancelling takes."""

    def __init__(
        self, emitter: TelemetryEmitter, abandon: Callable[[], None], grace: float = 3.0
    ) -> None:
        self.emitter = emitter
        self.abandon = abandon
        self.grace = grace
        self.cancelled = False
        self._announced = threading.Event()
        self._done = threading.Event()
        self._saved: tuple[Any, int] | None = None

    def __enter__(self) -> CancelGuard:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._saved = (signal.signal(signal.SIGTERM, self._on_sigterm), previous_fd)
        self._thread = threading.Thread(target=self._watch, name="mosaic-ray-cancel", daemon=True)
        self._thread.start()
        return self

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # The watcher announces first, so the main thread never races it to the terminal event.
        self._announced.wait(1.0)
        raise RunCancelled("received SIGTERM")

    def _watch(self) -> None:
        while True:
            try:
                data = os.read(self._read, 512)
            except OSError:
                return
            if not data:
                return  # the guard was closed
            if signal.SIGTERM in data:
                break
        self.cancelled = True
        if not self.emitter.finished:
            with contextlib.suppress(ProtocolError):
                self.emitter.run_cancelled(reason="received SIGTERM")
        self._announced.set()
        if self._done.wait(self.grace):
            return
        try:
            self.abandon()
        finally:
            self.emitter.flush()
            os._exit(EXIT_CANCELLED)

    def finish(self) -> None:
        """The main thread has cleaned up: the watcher need not step in."""
        self._done.set()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            handler, previous_fd = self._saved
            signal.signal(signal.SIGTERM, handler)
            signal.set_wakeup_fd(previous_fd)
            self._saved = None
        if not self.cancelled:
            os.close(self._write)  # wakes the watcher with end-of-file
            self._thread.join(1.0)
            os.close(self._read)
