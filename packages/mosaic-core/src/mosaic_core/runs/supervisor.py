"""The supervisor: each run in its own process, every telemetry line kept, every failure seen.

A worker is started as ``<python> -m <module> --config runs/<id>/config.json``
in a new session (so its whole tree can be signalled), with
``MOSAIC_RUN_ID``, ``MOSAIC_RUN_DIR``, ``MOSAIC_TELEMETRY_FD``,
``MOSAIC_STOP_GRACE`` and ``CUDA_VISIBLE_DEVICES`` set, stdout and stderr
going to the run's log files.

A run is stopped (cancelled, interrupted, past its wall-clock or heartbeat
timeout) by SIGTERM to its whole tree, then SIGKILL ``kill_grace`` seconds
later if anything is left: the grace period in which a worker saves and
records its last checkpoint.

The telemetry descriptor is the run's own ``events.jsonl``, opened for
appending: each line the worker writes is on disk before the supervisor
reads it, so no event is lost when the supervisor dies, and a library's
prints cannot reach it. One monitoring loop tails every active run's file,
indexes what it reads, watches heartbeats and deadlines, and records how
each run ended. Nothing one run does (crash, hang, flood) touches another.

Nothing a run started outlives it: the supervisor is a child subreaper, and
when a worker ends, its whole tree, its session and any orphan it left are
killed and reaped (:mod:`mosaic_core.runs.reaper`). The index is written
with a compare-and-swap on how far ``events.jsonl`` was read, so a rebuild
or a catch-up running beside it never makes a line count twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import IO, Any

import attrs

from mosaic_core import _procs as procs
from mosaic_core._errors import MosaicError
from mosaic_core._gc import collector_paused
from mosaic_core._secrets import Scrubber
from mosaic_core._window import ENV_ACK_FD, WAIT_AHEAD, IndexAck
from mosaic_core.runs.database import StoreError, StoreFull, explain
from mosaic_core.runs.launcher_registry import launcher_for
from mosaic_core.runs.launchers import (
    DEFAULT_HEARTBEAT_TIMEOUT,
    LOCAL,
    Ended,
    LaunchedRun,
    Launcher,
    LaunchSpec,
)
from mosaic_core.runs.local import worker_variables
from mosaic_core.runs.reader import TelemetryReader
from mosaic_core.runs.reaper import Reaper
from mosaic_core.runs.reconcile import launch_spec_of, reconcile, stop_elsewhere
from mosaic_core.runs.recorder import Recorder, RunResult, warn
from mosaic_core.runs.store import (
    ACTIVE_STATUSES,
    STATUSES,
    RunNotFound,
    RunStore,
    terminal_status,
)

__all__ = [
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "LaunchSpec",
    "RunProgress",
    "RunResult",
    "Supervisor",
    "launch_spec_of",
    "reconcile",
    "stop_elsewhere",
]

_READ_CHUNK = 1 << 20
_CANCEL_POLL = 0.25
#: The first sleep after a turn that read a worker's whole window (mosaic_core._window);
#: each idle turn then doubles it, up to ``poll_interval``. Such a worker writes its next
#: lines within a millisecond or two and then waits for the next read: a whole poll
#: interval's sleep would hold it up (one worker alone made 19,000 events/s, not 50,000).
_FIRST_IDLE = 0.001


@attrs.define
class RunProgress:
    """What a progress display needs about one live run."""

    run_id: str
    worker_type: str
    started: float
    step: int | None = None
    total_steps: int | None = None
    metrics: dict[str, Any] = attrs.field(factory=dict)
    events: int = 0
    status: str = "running"


class _Live:
    """The supervisor's bookkeeping for one running worker."""

    def __init__(
        self, spec: LaunchSpec, run: LaunchedRun, events: IO[bytes], ack: IndexAck | None
    ) -> None:
        now = time.monotonic()
        self.spec = spec
        self.run = run
        self.ack = ack  # tells a local worker how far its telemetry is read for the index
        self.running = run.started  # recorded as running (a cluster may queue it first)
        self.attempt = 0  # how many times it was started again after its place was lost
        self.events = events
        self.reader = TelemetryReader(expected_run_id=spec.run_id)
        self.offset = 0  # bytes of events.jsonl read
        self.indexed = 0  # where the index stands (a line boundary), and its next seq
        self.indexed_seq = 0
        self.last_activity = now
        self.started = now
        self.wall_started = time.time()
        self.kill_reason: str | None = None
        self.kill_started: float | None = None
        self.killed = False
        self.next_cancel_check = now + _CANCEL_POLL
        self.progress = RunProgress(spec.run_id, spec.worker_type, self.wall_started)
        #: (the launched run, a descriptor readable once its worker exits): an idle
        #: supervisor wakes when it does. None in the second place: no such descriptor,
        #: or it woke.
        self.exit_watch: tuple[LaunchedRun, int | None] | None = None

    def exit_fd(self) -> int | None:
        """The descriptor for the worker now running (one started again gets a new one,
        whatever its pid)."""
        if not self.run.pid:
            return None
        if self.exit_watch is None or self.exit_watch[0] is not self.run:
            self.forget_exit()
            self.exit_watch = (self.run, procs.exit_fd(self.run.pid))
        return self.exit_watch[1]

    def forget_exit(self, *, for_good: bool = False) -> None:
        """Close the descriptor: for this worker (it woke the supervisor, or the run ended),
        or ``for_good``, so that a later ``wait()`` opens a new one."""
        if self.exit_watch is not None and self.exit_watch[1] is not None:
            os.close(self.exit_watch[1])
            self.exit_watch = (self.exit_watch[0], None)
        if for_good:
            self.exit_watch = None


class Supervisor:
    """Starts prepared runs and watches them to their end.

    ``start`` launches at once; ``submit`` queues a run to start when fewer
    than ``parallel`` runs are active. ``wait`` drives everything until no
    run is left and returns each run's :class:`RunResult`.

    A queued run that is cancelled (``mosaic cancel``) or removed meanwhile
    is not started. When the store fails under it (a full disk, a damaged
    database), every run is stopped, since none can be recorded;
    :attr:`store_problem` says why, and each run's end is recorded as soon
    as the store takes it again.
    """

    def __init__(
        self,
        store: RunStore,
        *,
        parallel: int = 16,
        poll_interval: float = 0.02,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.parallel = max(1, parallel)
        self.poll_interval = poll_interval
        self._secrets = dict(secrets or {})
        self._scrubbers = {
            run_id: Scrubber.from_pairs(json.loads(text)) for run_id, text in self._secrets.items()
        }
        self._live: dict[str, _Live] = {}
        self._queue: deque[LaunchSpec] = deque()
        self.results: dict[str, RunResult] = {}
        self._cancel_all_requested: str | None = None
        self._next_queue_check = 0.0
        self._window_read = False  # this turn read a window's worth of some run's telemetry
        self._reaper = Reaper()
        self._recorder = Recorder(store, self._scrubbers)
        self._stopped_for_store = False
        self._launchers: dict[str, Launcher] = {}

    # -- starting ------------------------------------------------------------------

    def submit(self, spec: LaunchSpec) -> None:
        self._queue.append(spec)

    def start(self, spec: LaunchSpec) -> None:
        run_id = spec.run_id
        try:
            run = self.store.get(run_id)
        except RunNotFound:
            self._removed(spec)
            return
        if run["cancel_requested"]:
            self._end_unstarted(run_id, "cancelled")
            return
        try:
            launched, reader, ack = self._launch(spec)
        except (OSError, MosaicError) as exc:
            if isinstance(exc, OSError) and explain(exc, self.store.home) is not None:
                self._store_failed(exc)
            message = self._scrub(run_id, str(exc))
            self._record(
                run_id,
                status="failed",
                reason=f"launch_failed: {message}",
                ended_at=time.time(),
                error=message,
            )
            self.results[run_id] = self._result(run_id, time.time())
            return
        live = _Live(spec, launched, reader, ack)
        self._live[run_id] = live
        fields: dict[str, Any] = {
            "supervisor_pid": os.getpid(),
            "supervisor_start": procs.start_time(os.getpid()),
        }
        if launched.started:
            fields.update(self._running_fields(launched))
        self._record(run_id, **fields)

    def start_ready(self) -> None:
        """Start queued runs while fewer than ``parallel`` are active (``wait`` does it at
        each turn): a caller can start the workers first and finish its own work while
        their interpreters come up. Nothing starts once every run is to be cancelled."""
        while self._queue and len(self._live) < self.parallel:
            if self._cancel_all_requested:
                return  # ``wait`` cancels the queued runs at its next turn
            spec = self._queue.popleft()
            try:
                self.start(spec)
            except Exception as exc:  # noqa: BLE001 - the others go on
                self._start_failed(spec, exc)

    def _launch(self, spec: LaunchSpec) -> tuple[LaunchedRun, IO[bytes], IndexAck | None]:
        """Start ``spec``'s worker through its launcher; the run's events.jsonl, to tail,
        and for a worker on this machine, how it learns how far that is indexed."""
        run_dir = self.store.run_dir(spec.run_id)
        variables = worker_variables(spec, run_dir, self.store.home, self._secrets.get(spec.run_id))
        launcher = launcher_for(spec.launcher, self._launchers)
        reader = open(run_dir / "events.jsonl", "rb")  # noqa: SIM115 - closed in _finish
        ack = None
        try:
            if spec.launcher == LOCAL:
                with contextlib.suppress(OSError):  # without it the worker never waits
                    ack = IndexAck()
                    variables = {**variables, ENV_ACK_FD: str(ack.fd)}
            return launcher.start(spec, run_dir, variables), reader, ack
        except BaseException:
            reader.close()
            if ack is not None:
                ack.close()
            raise

    @staticmethod
    def _running_fields(launched: LaunchedRun) -> dict[str, Any]:
        pid = launched.pid
        return {
            "status": "running",
            "started_at": time.time(),
            "pid": pid,
            "pid_start": procs.start_time(pid) if pid else None,
        }

    def _start_failed(self, spec: LaunchSpec, exc: Exception) -> None:
        """Starting ``spec`` failed in the supervisor itself (its store, most likely)."""
        if explain(exc, self.store.home) is not None:
            self._store_failed(exc)
        else:
            warn(f"run {spec.run_id}: could not be started ({exc!r})")
        message = self._scrub(spec.run_id, f"{type(exc).__name__}: {exc}")
        if spec.run_id not in self.results:
            self._record(spec.run_id, status="failed", reason=f"launch_failed: {message}",
                         ended_at=time.time(), error=message)  # fmt: skip
            self.results[spec.run_id] = self._result(spec.run_id, time.time())

    def _removed(self, spec: LaunchSpec) -> None:
        """A queued run whose record is gone (``mosaic rm``): nothing to start or record."""
        self.results[spec.run_id] = RunResult(
            run_id=spec.run_id, status="cancelled", reason="removed before it started",
            exit_code=None, signal=None, duration_s=0.0,
            run_dir=str(self.store.run_dir(spec.run_id)), final_metrics={}, summary={},
        )  # fmt: skip

    def _end_unstarted(self, run_id: str, reason: str) -> None:
        self._record(run_id, status="cancelled", reason=reason, ended_at=time.time())
        self.results[run_id] = self._result(run_id, time.time())

    # -- watching ------------------------------------------------------------------

    @property
    def active(self) -> list[RunProgress]:
        return [live.progress for live in self._live.values()]

    def cancel(self, run_id: str, reason: str = "cancelled") -> None:
        live = self._live.get(run_id)
        if live is not None:
            self._begin_kill(live, reason)
        elif any(s.run_id == run_id for s in self._queue):
            self._queue = deque(s for s in self._queue if s.run_id != run_id)
            self._end_unstarted(run_id, reason)

    def request_cancel_all(self, reason: str = "cancelled") -> None:
        """Safe from a signal handler: ``wait`` cancels every run at its next turn.

        A second request while runs are still stopping kills them at once.
        """
        if self._cancel_all_requested:
            for live in self._live.values():
                live.kill_started = float("-inf")
        self._cancel_all_requested = reason

    def cancel_all(self, reason: str = "cancelled") -> None:
        for run_id in [s.run_id for s in self._queue] + list(self._live):
            self.cancel(run_id, reason)

    def wait(
        self,
        on_progress: Callable[[list[RunProgress]], None] | None = None,
        progress_interval: float = 0.1,
    ) -> dict[str, RunResult]:
        """Drive every queued and live run to its end. Ctrl-C propagates to the caller."""
        next_progress = 0.0
        idle = self.poll_interval
        try:
            while self._queue or self._live:
                if self._cancel_all_requested:
                    self.cancel_all(self._cancel_all_requested)
                self._check_queue()
                self.start_ready()
                busy = False
                for live in list(self._live.values()):
                    try:
                        busy |= self._poll(live)
                    except Exception as exc:  # noqa: BLE001 - one run's trouble stays its own
                        self._poll_failed(live, exc)
                self._reaper.watch(
                    {r: live.run.pid for r, live in self._live.items() if live.run.pid}
                )
                now = time.monotonic()
                if on_progress is not None and now >= next_progress:
                    on_progress(self.active)
                    next_progress = now + progress_interval
                if busy:
                    if self._window_read:
                        idle = min(_FIRST_IDLE, self.poll_interval)
                else:
                    self._idle(idle)
                    idle = min(idle * 2, self.poll_interval)
                self._window_read = False
        finally:
            for live in self._live.values():
                live.forget_exit(for_good=True)
            self._reaper.close()
            for launcher in self._launchers.values():
                with contextlib.suppress(Exception):
                    launcher.close()
        self._recorder.retry(self.results)
        if on_progress is not None:
            on_progress([])
        return self.results

    def _idle(self, delay: float) -> None:
        """Sleep ``delay`` or until a local worker exits, whichever comes first: a run's end
        is then seen at once, not up to a poll interval later (Linux pidfds; elsewhere a
        plain sleep). A worker's descriptor wakes this once, and is closed then."""
        watched = {fd: live for live in self._live.values() if (fd := live.exit_fd()) is not None}
        if not watched:
            time.sleep(delay)
            return
        waiting = select.poll()
        for fd in watched:
            waiting.register(fd, select.POLLIN)
        for fd, _events in waiting.poll(delay * 1000):
            watched[fd].forget_exit()

    def _check_queue(self) -> None:
        """Drop queued runs that were cancelled or removed meanwhile (every 0.25 s)."""
        now = time.monotonic()
        if not self._queue or now < self._next_queue_check:
            return
        self._next_queue_check = now + _CANCEL_POLL
        if self.store_problem is not None:
            for spec in list(self._queue):
                self.cancel(spec.run_id, "store_unavailable")
            return
        try:
            state = self.store.cancel_requests([s.run_id for s in self._queue])
        except Exception as exc:  # noqa: BLE001 - the store failing stops everything
            self._store_failed(exc)
            return
        for spec in list(self._queue):
            if spec.run_id not in state:
                self._queue.remove(spec)
                self._removed(spec)
            elif state[spec.run_id]:
                self.cancel(spec.run_id, "cancelled")

    def _poll(self, live: _Live) -> bool:
        busy = live.run.pump()  # what the worker wrote elsewhere, appended at home
        if not live.running and live.run.started:
            live.running = True
            self._record(live.spec.run_id, **self._running_fields(live.run))
        busy |= self._read(live)
        ended = live.run.poll()
        if ended is not None:
            # What is left of its stream is indexed a chunk a turn, like a live run's, so
            # the other runs' telemetry keeps coming home meanwhile; it ends once all is in.
            if self._read(live):
                return True
            if not self._retry(live, ended):
                self._finish(live, ended)
            return True
        now = time.monotonic()
        if live.kill_reason is None:
            if now >= live.next_cancel_check:
                live.next_cancel_check = now + _CANCEL_POLL
                if self.store.get(live.spec.run_id)["cancel_requested"]:
                    self._begin_kill(live, "cancelled")
            if not live.run.started:  # queued where it runs: no deadline counts yet
                live.started = live.last_activity = now
            timeout, beat = live.spec.timeout, live.spec.heartbeat_timeout
            if timeout and now - live.started > timeout:
                self._begin_kill(live, "timeout")
            elif beat and now - live.last_activity > beat:
                self._begin_kill(live, "heartbeat_timeout")
        elif (
            not live.killed
            and live.kill_started is not None
            and now - live.kill_started > live.spec.kill_grace
        ):
            live.killed = True
            live.run.signal(signal.SIGKILL)
        return busy

    def _poll_failed(self, live: _Live, exc: Exception) -> None:
        """A store that fails stops every run; anything else stops only this one."""
        run_id = live.spec.run_id
        if explain(exc, self.store.home) is not None:
            self._store_failed(exc)
        elif isinstance(exc, sqlite3.OperationalError):
            pass  # busy for longer than the timeout: try again at the next turn
        else:
            warn(f"run {run_id}: the supervisor failed watching it ({exc!r}); stopping it")
            self._begin_kill(live, "supervisor_error")
        if run_id in self._live:
            try:
                ended = live.run.poll()
            except Exception as again:  # noqa: BLE001 - the launcher cannot tell: it ended
                ended = Ended(returncode=None, failure=f"launcher_error: {again!r}")
            if ended is not None:
                self._finish(live, ended)

    def _read(self, live: _Live) -> bool:
        if self.store_problem is not None:
            return False  # nothing can be indexed; the file keeps every line
        chunk = live.events.read(_READ_CHUNK)
        if not chunk:
            return False
        if live.ack is not None:
            # Said on reading, not once indexed: the worker writes its next lines while
            # these are indexed (one worker alone waited for each chunk's whole index).
            live.ack.tell(live.offset + len(chunk))
            self._window_read |= len(chunk) >= WAIT_AHEAD
        with collector_paused():
            indexed = self._index(live, chunk)
        if not indexed:
            # Another process indexed this run meanwhile (a rebuild): go on from where
            # the index stands, so that no line is indexed twice or skipped.
            run = self.store.get(live.spec.run_id)
            self._rewind(live, run["ingested_bytes"], run["next_seq"])
            return True
        live.indexed, live.indexed_seq = live.offset - live.reader.buffered, live.reader.next_seq
        return True

    def _index(self, live: _Live, chunk: bytes) -> bool:
        """Parse a chunk of the run's telemetry and index it; False: another process had."""
        run_id = live.spec.run_id
        items = live.reader.feed(chunk)
        live.offset += len(chunk)
        live.last_activity = time.monotonic()
        try:
            return self.store.ingest(
                run_id, items, live.offset - live.reader.buffered, live.reader.next_seq,
                expect_offset=live.indexed, scrub=self._scrubbers.get(run_id),
                progress=live.progress,
            )  # fmt: skip
        except BaseException:
            self._rewind(live, live.indexed, live.indexed_seq)  # read it again next time
            raise

    @staticmethod
    def _rewind(live: _Live, offset: int, next_seq: int) -> None:
        live.events.seek(offset)
        live.offset = live.indexed = offset
        if live.ack is not None:
            live.ack.tell(offset)
        live.indexed_seq = next_seq
        live.reader = TelemetryReader(expected_run_id=live.spec.run_id)
        live.reader.next_seq = next_seq

    def _retry(self, live: _Live, ended: Ended) -> bool:
        """Start a run whose place was lost again, if ``--retries`` allows; True if it did.

        The lost attempt's telemetry and logs move to ``attempts/<n>/`` and the
        index of the run starts over, so the run's ``events.jsonl`` is always
        one whole attempt: gap-free, one ``run_started``, one terminal event.
        """
        spec, run_id = live.spec, live.spec.run_id
        if (
            ended.failure is None
            or not ended.retryable
            or live.kill_reason is not None
            or live.attempt >= spec.retries
            or live.reader.terminal is not None
            or self.store_problem is not None
        ):
            return False
        from mosaic_core.runs.reindex import archive_attempt

        live.attempt += 1
        warn(f"run {run_id}: {ended.failure}; starting it again ({live.attempt} of {spec.retries})")
        live.events.close()
        if live.ack is not None:
            live.ack.close()
            live.ack = None
        try:
            archive_attempt(self.store, run_id, STATUSES, ACTIVE_STATUSES)
            live.run, live.events, live.ack = self._launch(spec)
        except (OSError, MosaicError) as exc:
            live.events = open(os.devnull, "rb")  # noqa: SIM115 - closed in _finish
            again = f"{ended.failure}; starting it again failed: {self._scrub(run_id, str(exc))}"
            self._finish(live, Ended(returncode=None, failure=again))
            return True
        self._rewind(live, 0, 0)
        live.running = live.run.started
        live.started = live.last_activity = time.monotonic()
        live.progress = RunProgress(run_id, spec.worker_type, live.wall_started)
        return True

    def _begin_kill(self, live: _Live, reason: str) -> None:
        if live.kill_reason is not None or live.run.poll() is not None:
            return  # stopping already, or ended (its stream still being indexed)
        live.kill_reason = reason
        live.kill_started = time.monotonic()
        live.progress.status = "stopping"
        live.run.signal(signal.SIGTERM)

    def _store_failed(self, exc: BaseException) -> None:
        """The store cannot record anything: stop every run (their workers could not
        report either) and keep their ends to record once it can."""
        self._recorder.failed(exc)
        if not self._stopped_for_store:
            self._stopped_for_store = True
            warn(f"{self.store_problem}; stopping every run")
        reason = self._store_reason()
        for live in self._live.values():
            self._begin_kill(live, reason)
        self._cancel_all_requested = self._cancel_all_requested or reason

    def _finish(self, live: _Live, ended: Ended) -> None:
        run_id = live.spec.run_id
        del self._live[run_id]
        live.forget_exit()
        live.events.close()
        if live.ack is not None:
            live.ack.close()
        # Nothing of a finished run may outlive it: grandchildren and orphans included,
        # and the fastlane frame rings that a killed writer could not remove.
        if live.run.pid:
            self._reaper.run_ended(run_id, live.run.pid)
        with contextlib.suppress(Exception):
            from mosaic_core import _fastlane as fastlane  # shared memory, only when a run ends

            fastlane.cleanup_stale(fastlane.segment_name(run_id))
        code = ended.returncode
        exit_code = code if code is not None and code >= 0 else None
        sig = procs.signal_name(-code) if code is not None and code < 0 else None
        terminal: tuple[str, dict[str, Any]] | None = None
        if live.reader.terminal is not None:
            terminal = (live.reader.terminal.event, live.reader.terminal.payload)
        kill_reason = live.kill_reason
        if self.store_problem is None:
            try:
                run = self.store.catch_up(run_id, final=True, scrub=self._scrubbers.get(run_id))
                if run["terminal_event"]:  # the first one, whoever indexed it
                    terminal = (run["terminal_event"], json.loads(run["summary"] or "{}"))
                if kill_reason is None and run["cancel_requested"]:
                    kill_reason = "cancelled"  # `mosaic cancel` from elsewhere got there first
            except Exception as exc:  # noqa: BLE001 - the end is recorded later if not now
                if explain(exc, self.store.home) is not None:
                    self._store_failed(exc)
        if kill_reason is None and terminal is None and self.store_problem is not None:
            kill_reason = self._store_reason()  # its telemetry could not be written either
        status, reason = _outcome(kill_reason, terminal, exit_code, sig, ended.failure)
        fields = {"exit_code": exit_code, "signal": sig, "ended_at": time.time()}
        shown = self._scrub(run_id, reason) if reason else reason
        recorded = self._record(run_id, status=status, reason=shown, **fields)
        if not recorded and kill_reason is None and terminal is None and self.store_problem:
            # The store failed right here, on this very record: then it is the reason.
            status, reason = _outcome(self._store_reason(), None, exit_code, sig)
            self._record(run_id, status=status, reason=reason, **fields)
        self.results[run_id] = self._result(run_id, live.wall_started)

    def _store_reason(self) -> str:
        return "disk_full" if isinstance(self.store_problem, StoreFull) else "store_unavailable"

    def _scrub(self, run_id: str, text: str) -> str:
        scrubber = self._scrubbers.get(run_id)
        return scrubber.text(text) if scrubber else text

    def _record(self, run_id: str, **fields: Any) -> bool:
        recorded = self._recorder.record(run_id, **fields)
        if self._recorder.problem is not None and not self._stopped_for_store:
            self._store_failed(self._recorder.problem)  # the store failed just now
        return recorded

    def _result(self, run_id: str, started: float) -> RunResult:
        return self._recorder.result(run_id, started)

    @property
    def store_problem(self) -> StoreError | None:
        """Why the store could not be written, if it failed; every run was stopped then."""
        return self._recorder.problem

    @property
    def unrecorded(self) -> list[str]:
        """Runs whose end the store has not taken (it failed under them)."""
        return self._recorder.unrecorded


def _outcome(
    kill_reason: str | None,
    terminal: tuple[str, Mapping[str, Any]] | None,
    exit_code: int | None,
    sig: str | None,
    failure: str | None = None,
) -> tuple[str, str | None]:
    """``(status, reason)`` from what the supervisor did, what the worker said, and what
    its launcher saw (``failure``: the run failed on the launcher's side)."""
    if kill_reason in ("timeout", "heartbeat_timeout", "disk_full", "store_unavailable",
                       "supervisor_error"):  # fmt: skip
        return "failed", kill_reason
    if kill_reason is not None:
        return "cancelled", kill_reason
    if terminal is not None:
        event, payload = terminal
        status = terminal_status(event) or "failed"
        if status == "failed":
            error = payload.get("error")
            kind = payload.get("error_type")
            return status, f"{kind}: {error}" if kind else str(error)
        if status == "cancelled":
            return status, str(payload.get("reason") or "cancelled")
        return status, None
    if failure is not None:
        return "failed", failure
    how = f"killed by {sig}" if sig else f"exit code {exit_code}"
    return "failed", f"worker exited without a terminal event ({how})"


def supervise_detached(run_id: str) -> int:
    """Entry point of a detached supervisor process (``mosaic run --detach``)."""
    store = RunStore()
    spec = LaunchSpec.load(store.run_dir(run_id) / "launch.json")
    secrets = os.environ.pop("MOSAIC_CONFIG_SECRETS", None)
    supervisor = Supervisor(store, secrets={run_id: secrets} if secrets else None)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, lambda *_: supervisor.request_cancel_all())
    supervisor.start(spec)
    results = supervisor.wait()
    return 0 if results[run_id].status == "completed" else 1


if __name__ == "__main__":
    sys.exit(supervise_detached(sys.argv[1]))
