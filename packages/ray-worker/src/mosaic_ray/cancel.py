"""Cancelling a Ray driver within the supervisor's grace period, whatever Ray is doing.

The supervisor cancels a run by sending SIGTERM to the worker's whole
session, which holds the local Ray's ``gcs_server``, ``raylet`` and
workers too. They die at once; the driver's main thread may then be blocked
inside Ray's C++ core (which can also end the process itself when its
raylet vanishes), ``ray.shutdown()`` can wait for peers that are gone, and
interpreter finalization can hang in Ray's teardown. So a run's
cancellation does not rely on the main thread alone:

- the main thread gets :class:`~mosaic_core.RunCancelled` (once: a second
  SIGTERM cannot interrupt what follows), runs ``stop`` (which saves what
  the learner holds in this process), emits ``run_cancelled`` and shuts Ray
  down the normal way (``ray.shutdown()``);
- a watcher thread woken by the signal itself (``signal.set_wakeup_fd``)
  gives the main thread half of ``grace`` (the supervisor's grace period
  less a second) to do so. A main thread held in Ray's C++ core, waiting on
  processes the SIGTERM ended, runs no Python: then the watcher runs
  ``stop`` itself and emits ``run_cancelled``, so neither the policy nor the
  terminal event is lost;
- if the main thread has not finished after ``grace``, the watcher kills
  what is left of the run's own processes (a local Ray: this process's
  descendants, through :meth:`mosaic_core.RunContext.kill_descendants`) and
  ends the process with status 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from mosaic_core import ProtocolError, RunCancelled, TelemetryEmitter

__all__ = ["EXIT_CANCELLED", "CancelGuard"]

EXIT_CANCELLED = 130


class CancelGuard:
    """Sees SIGTERM from a thread of its own: the run's policy is saved and its cancellation
    announced whatever the main thread is doing, and cancelling takes at most ``grace``."""

    def __init__(
        self,
        emitter: TelemetryEmitter,
        abandon: Callable[[], None],
        grace: float = 4.0,
        stop: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.emitter = emitter
        self.abandon = abandon
        self.grace = grace
        #: Saves what the run has, once, from whichever thread calls it first; its result
        #: goes into ``run_cancelled``.
        self.stop = stop
        self.cancelled = False
        self._raised = False
        self._stopped = threading.Event()
        self._done = threading.Event()
        self._previous: tuple[Any, int] | None = None

    def __enter__(self) -> CancelGuard:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._previous = (signal.signal(signal.SIGTERM, self._on_sigterm), previous_fd)
        self._thread = threading.Thread(target=self._watch, name="mosaic-ray-cancel", daemon=True)
        self._thread.start()
        return self

    @property
    def signalled(self) -> bool:
        """SIGTERM has reached the main thread: whatever it raises now is the cancellation
        (inside Ray's core, RunCancelled comes out wrapped in a SystemError)."""
        return self._raised

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if self._raised:
            return  # the run is stopping already: let it save
        self._raised = True
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
        deadline = time.monotonic() + self.grace
        if not self._stopped.wait(self.grace / 2):
            self._stop_from_here()
        if self._done.wait(max(0.0, deadline - time.monotonic())):
            return
        try:
            if not self.emitter.finished:
                with contextlib.suppress(ProtocolError):
                    self.emitter.run_cancelled(reason="received SIGTERM")
            self.abandon()
        finally:
            self.emitter.flush()
            os._exit(EXIT_CANCELLED)

    def _stop_from_here(self) -> None:
        extra: dict[str, Any] = {}
        if self.stop is not None:
            try:
                extra = dict(self.stop())
            except Exception:  # noqa: BLE001 - say why nothing was saved; the run still ends
                print("mosaic-ray: saving the stopped run failed:", file=sys.stderr)
                traceback.print_exc()
        if not self.emitter.finished:
            with contextlib.suppress(ProtocolError):
                self.emitter.run_cancelled(reason="received SIGTERM", **extra)

    def stopped(self) -> None:
        """The main thread has run ``stop`` and announced the cancellation."""
        self._stopped.set()

    def finish(self) -> None:
        """The main thread has cleaned up: the watcher need not step in."""
        self._done.set()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._previous is not None:
            handler, previous_fd = self._previous
            signal.signal(signal.SIGTERM, handler)
            signal.set_wakeup_fd(previous_fd)
            self._previous = None
        if not self.cancelled:
            os.close(self._write)  # wakes the watcher with end-of-file
            self._thread.join(1.0)
            os.close(self._read)
