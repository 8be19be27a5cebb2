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
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import IO, Any

import attrs

from mosaic_core import _procs as procs
from mosaic_core._context import DEFAULT_STOP_GRACE, STOP_GRACE_ENV
from mosaic_core.runs.reader import TelemetryEvent, TelemetryReader
from mosaic_core.runs.store import RunStore, terminal_status

__all__ = ["LaunchSpec", "RunProgress", "RunResult", "Supervisor", "reconcile"]

DEFAULT_HEARTBEAT_TIMEOUT = 300.0
_READ_CHUNK = 1 << 20
_CANCEL_POLL = 0.25


@attrs.frozen(kw_only=True)
class LaunchSpec:
    """How to start one prepared run. Saved as ``launch.json`` (never with secrets)."""

    run_id: str
    worker_type: str
    command: tuple[str, ...]
    timeout: float | None = None
    heartbeat_timeout: float | None = DEFAULT_HEARTBEAT_TIMEOUT
    gpus: str = ""
    #: The virtual environment the worker runs in (``mosaic run --env``), if any.
    venv: str | None = None
    #: Seconds between SIGTERM and SIGKILL when the run is stopped (cancel, Ctrl-C, a
    #: timeout): the worker's time to save a checkpoint (``$MOSAIC_STOP_GRACE`` tells it).
    kill_grace: float = DEFAULT_STOP_GRACE

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(attrs.asdict(self), handle, indent=2)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LaunchSpec:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        data["command"] = tuple(data["command"])
        return cls(**data)


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


@attrs.frozen(kw_only=True)
class RunResult:
    run_id: str
    status: str
    reason: str | None
    exit_code: int | None
    signal: str | None
    duration_s: float
    run_dir: str
    final_metrics: dict[str, Any]
    #: The terminal event's payload: ``run_completed``'s summary, ``run_failed``'s error;
    #: ``{}`` when the worker sent none.
    summary: dict[str, Any] = attrs.field(factory=dict)
    #: The seed the run used: its config's, or the one the worker reported choosing.
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class _Live:
    """The supervisor's bookkeeping for one running worker."""

    def __init__(self, spec: LaunchSpec, proc: subprocess.Popen[bytes], events: IO[bytes]) -> None:
        now = time.monotonic()
        self.spec = spec
        self.proc = proc
        self.events = events
        self.reader = TelemetryReader(expected_run_id=spec.run_id)
        self.offset = 0
        self.last_activity = now
        self.started = now
        self.wall_started = time.time()
        self.kill_reason: str | None = None
        self.kill_started: float | None = None
        self.killed = False
        self.next_cancel_check = now + _CANCEL_POLL
        self.progress = RunProgress(spec.run_id, spec.worker_type, self.wall_started)


class Supervisor:
    """Starts prepared runs and watches them to their end.

    ``start`` launches at once; ``submit`` queues a run to start when fewer
    than ``parallel`` runs are active. ``wait`` drives everything until no
    run is left and returns each run's :class:`RunResult`.
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
        self._live: dict[str, _Live] = {}
        self._queue: deque[LaunchSpec] = deque()
        self.results: dict[str, RunResult] = {}
        self._cancel_all_requested: str | None = None

    # -- starting ------------------------------------------------------------------

    def submit(self, spec: LaunchSpec) -> None:
        self._queue.append(spec)

    def start(self, spec: LaunchSpec) -> None:
        run_dir = self.store.run_dir(spec.run_id)
        events_fd = os.open(run_dir / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        env = dict(os.environ)
        env.update(
            MOSAIC_RUN_ID=spec.run_id,
            MOSAIC_RUN_DIR=str(run_dir),
            MOSAIC_TELEMETRY_FD=str(events_fd),
            MOSAIC_HOME=str(self.store.home),
            CUDA_VISIBLE_DEVICES=spec.gpus,
            PYTHONUNBUFFERED="1",
        )
        # How long the worker has between SIGTERM and SIGKILL, to save a checkpoint.
        env[STOP_GRACE_ENV] = repr(float(spec.kill_grace))
        if spec.venv:
            # The worker's own environment, not the host's: its bin first, no host paths.
            for name in ("PYTHONPATH", "PYTHONHOME"):
                env.pop(name, None)
            env["VIRTUAL_ENV"] = spec.venv
            env["PATH"] = os.pathsep.join([os.path.join(spec.venv, "bin"), env.get("PATH", "")])
        secret = self._secrets.get(spec.run_id)
        if secret:
            env["MOSAIC_CONFIG_SECRETS"] = secret
        else:
            env.pop("MOSAIC_CONFIG_SECRETS", None)
        try:
            with (
                open(run_dir / "stdout.log", "ab") as out,
                open(run_dir / "stderr.log", "ab") as err,
            ):
                proc = subprocess.Popen(
                    list(spec.command),
                    cwd=run_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    pass_fds=(events_fd,),
                    start_new_session=True,
                )
        except OSError as exc:
            os.close(events_fd)
            self.store.update(
                spec.run_id,
                status="failed",
                reason=f"launch_failed: {exc}",
                ended_at=time.time(),
                error=str(exc),
            )
            self.results[spec.run_id] = self._result(spec.run_id, time.time())
            return
        os.close(events_fd)
        self.store.update(
            spec.run_id,
            status="running",
            started_at=time.time(),
            pid=proc.pid,
            pid_start=procs.start_time(proc.pid),
            supervisor_pid=os.getpid(),
            supervisor_start=procs.start_time(os.getpid()),
        )
        reader = open(run_dir / "events.jsonl", "rb")  # noqa: SIM115 - closed in _finish
        self._live[spec.run_id] = _Live(spec, proc, reader)

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
            self.store.update(run_id, status="cancelled", reason=reason, ended_at=time.time())
            self.results[run_id] = self._result(run_id, time.time())

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
        while self._queue or self._live:
            if self._cancel_all_requested:
                self.cancel_all(self._cancel_all_requested)
            while self._queue and len(self._live) < self.parallel:
                self.start(self._queue.popleft())
            busy = False
            for live in list(self._live.values()):
                busy |= self._poll(live)
            now = time.monotonic()
            if on_progress is not None and now >= next_progress:
                on_progress(self.active)
                next_progress = now + progress_interval
            if not busy:
                time.sleep(self.poll_interval)
        if on_progress is not None:
            on_progress([])
        return self.results

    def _poll(self, live: _Live) -> bool:
        busy = self._read(live)
        now = time.monotonic()
        if live.kill_reason is None:
            if now >= live.next_cancel_check:
                live.next_cancel_check = now + _CANCEL_POLL
                if self.store.get(live.spec.run_id)["cancel_requested"]:
                    self._begin_kill(live, "cancelled")
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
            procs.signal_tree(live.proc.pid, signal.SIGKILL)
        if live.proc.poll() is not None:
            while self._read(live):
                pass
            self._finish(live)
            return True
        return busy

    def _read(self, live: _Live) -> bool:
        chunk = live.events.read(_READ_CHUNK)
        if not chunk:
            return False
        items = live.reader.feed(chunk)
        live.offset += len(chunk)
        live.last_activity = time.monotonic()
        self.store.ingest(
            live.spec.run_id, items, live.offset - live.reader.buffered, live.reader.next_seq
        )
        progress = live.progress
        for item in items:
            if isinstance(item, TelemetryEvent):
                progress.events += 1
                payload = item.payload
                step = payload.get("step")
                if type(step) is int:
                    progress.step = step
                if item.event == "metrics" and isinstance(payload.get("values"), dict):
                    progress.metrics.update(payload["values"])
                elif item.event == "run_started" and type(payload.get("total_steps")) is int:
                    progress.total_steps = payload["total_steps"]
        return True

    def _begin_kill(self, live: _Live, reason: str) -> None:
        if live.kill_reason is not None:
            return
        live.kill_reason = reason
        live.kill_started = time.monotonic()
        live.progress.status = "stopping"
        procs.signal_tree(live.proc.pid, signal.SIGTERM)

    def _finish(self, live: _Live) -> None:
        run_id = live.spec.run_id
        tail = live.reader.close()
        if tail:
            self.store.ingest(run_id, tail, live.offset, live.reader.next_seq)
        live.events.close()
        # Nothing of a finished run may outlive it: grandchildren included,
        # and the fastlane frame rings that a killed writer could not remove.
        procs.signal_tree(live.proc.pid, signal.SIGKILL)
        from mosaic_core import _fastlane as fastlane  # shared memory, only when a run ends

        fastlane.cleanup_stale(fastlane.segment_name(run_id))
        code = live.proc.returncode
        exit_code = code if code >= 0 else None
        sig = procs.signal_name(-code) if code < 0 else None
        terminal = live.reader.terminal
        kill_reason = live.kill_reason
        if kill_reason is None and self.store.get(run_id)["cancel_requested"]:
            kill_reason = "cancelled"  # `mosaic cancel` from elsewhere got there first
        status, reason = _outcome(kill_reason, terminal, exit_code, sig)
        self.store.update(
            run_id,
            status=status,
            reason=reason,
            exit_code=exit_code,
            signal=sig,
            ended_at=time.time(),
        )
        del self._live[run_id]
        self.results[run_id] = self._result(run_id, live.wall_started)

    def _result(self, run_id: str, started: float) -> RunResult:
        run = self.store.get(run_id)
        summary = json.loads(run["summary"]) if run["summary"] else {}
        return RunResult(
            run_id=run_id,
            status=run["status"],
            reason=run["reason"],
            exit_code=run["exit_code"],
            signal=run["signal"],
            duration_s=round((run["ended_at"] or time.time()) - (run["started_at"] or started), 3),
            run_dir=str(self.store.run_dir(run_id)),
            final_metrics=self.store.final_metrics(run_id),
            summary=summary if isinstance(summary, dict) else {"value": summary},
            seed=run["seed"],
        )


def _outcome(
    kill_reason: str | None, terminal: TelemetryEvent | None, exit_code: int | None, sig: str | None
) -> tuple[str, str | None]:
    """``(status, reason)`` from what the supervisor did and what the worker said."""
    if kill_reason in ("timeout", "heartbeat_timeout"):
        return "failed", kill_reason
    if kill_reason is not None:
        return "cancelled", kill_reason
    if terminal is not None:
        status = terminal_status(terminal.event) or "failed"
        if status == "failed":
            error = terminal.payload.get("error")
            kind = terminal.payload.get("error_type")
            return status, f"{kind}: {error}" if kind else str(error)
        if status == "cancelled":
            return status, str(terminal.payload.get("reason") or "cancelled")
        return status, None
    how = f"killed by {sig}" if sig else f"exit code {exit_code}"
    return "failed", f"worker exited without a terminal event ({how})"


def reconcile(store: RunStore) -> list[str]:
    """Settle runs whose supervisor died; returns the ids whose status changed.

    A run whose supervisor is gone is caught up from its ``events.jsonl``. If
    its worker is still alive it stays ``running`` and is reported with reason
    ``supervisor_lost``; if the worker is gone too, its own terminal event
    decides, and without one it is ``failed`` with reason ``supervisor_lost``.
    """
    changed = []
    for run in store.list_runs():
        if run["status"] not in ("pending", "running"):
            continue
        if procs.alive(run["supervisor_pid"], run["supervisor_start"]):
            continue
        if run["status"] == "pending" and time.time() - run["created_at"] < 60:
            continue  # a detached supervisor may still be on its way
        run = store.catch_up(run["run_id"])
        worker_alive = procs.alive(run["pid"], run["pid_start"])
        if worker_alive:
            if run["reason"] != "supervisor_lost":
                store.update(run["run_id"], reason="supervisor_lost")
                changed.append(run["run_id"])
            continue
        run = store.catch_up(run["run_id"], final=True)
        status = terminal_status(run["terminal_event"])
        store.update(
            run["run_id"],
            status=status or "failed",
            reason="supervisor_lost",
            ended_at=run["last_event_at"] or time.time(),
        )
        changed.append(run["run_id"])
    return changed


def supervise_detached(run_id: str) -> int:
    """Entry point of a detached supervisor process (``mosaic run --detach``)."""
    store = RunStore()
    spec = LaunchSpec.load(store.run_dir(run_id) / "launch.json")
    secrets = os.environ.pop("MOSAIC_CONFIG_SECRETS", None)
    supervisor = Supervisor(store, secrets={run_id: secrets} if secrets else None)
    signal.signal(signal.SIGTERM, lambda *_: supervisor.request_cancel_all())
    supervisor.start(spec)
    results = supervisor.wait()
    return 0 if results[run_id].status == "completed" else 1


if __name__ == "__main__":
    sys.exit(supervise_detached(sys.argv[1]))
