"""Real runs through the supervisor, in the kit's private ``MOSAIC_HOME``, and what they show.

Every run is a real worker process, started exactly as ``mosaic run`` starts
it (the worker's console module, or the SDK's generic entry point), with its
telemetry on its own descriptor. The record keeps the parsed stream, the
anomalies the reader found, and the worker's stdout and stderr.
"""

from __future__ import annotations

import contextlib
import pathlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from mosaic_core._telemetry import TERMINAL_EVENTS
from mosaic_core.conformance._outcomes import tail
from mosaic_core.runs.reader import Anomaly, TelemetryEvent, read_events
from mosaic_core.runs.supervisor import RunProgress, RunResult, Supervisor

if TYPE_CHECKING:
    from mosaic_core._spec import WorkerSpec
    from mosaic_core.runs.store import RunStore

__all__ = ["CANCEL_AFTER", "RunRecord", "launch"]

#: Seconds between a run's first event and the kit's SIGTERM in the cancel check.
CANCEL_AFTER = 0.1


@attrs.frozen(kw_only=True)
class RunRecord:
    """One finished run as the kit saw it."""

    result: RunResult
    events: tuple[TelemetryEvent, ...]
    anomalies: tuple[Anomaly, ...]
    stdout: str
    stderr: str
    #: When the kit sent SIGTERM (``time.time()``), if it cancelled the run.
    cancel_sent_at: float | None = None

    @property
    def run_dir(self) -> pathlib.Path:
        return pathlib.Path(self.result.run_dir)

    @property
    def terminals(self) -> list[TelemetryEvent]:
        return [e for e in self.events if e.event in TERMINAL_EVENTS]

    def outcome(self) -> str:
        """One line: how the run ended, for messages."""
        r = self.result
        how = f"signal {r.signal}" if r.signal else f"exit status {r.exit_code}"
        return f"{r.status} ({how}{'; ' + r.reason if r.reason else ''})"

    def logs(self) -> str:
        return f"stderr of the worker:\n{tail(self.stderr)}\nrun directory: {self.run_dir}"


def launch(
    store: RunStore,
    worker_type: str,
    spec: WorkerSpec,
    document: Mapping[str, Any],
    *,
    timeout: float,
    cancel_grace: float,
    validate: bool = True,
    cancel_after_start: bool = False,
    cancel_after_metrics: bool = False,
    launcher: str = "local",
    launcher_options: Mapping[str, Any] | None = None,
) -> RunRecord:
    """Run the worker once with ``document`` as its config; wait for its end.

    ``validate=False`` hands the config to the worker unchecked (as for a
    worker living in another environment), so the worker itself must reject
    a bad one. ``cancel_after_start`` cancels the run as soon as its first
    event arrives, as ``mosaic cancel`` would; ``cancel_after_metrics`` once
    its first ``metrics`` event says it is training. ``launcher`` and its
    checked ``launcher_options`` send the run elsewhere, as ``mosaic run
    --launcher``.
    """
    from mosaic_core.runs.launch import prepare_runs

    (prepared,) = prepare_runs(
        store,
        worker_type,
        spec if validate else None,
        document,
        console_module=spec.console_module,
        timeout=timeout,
        heartbeat_timeout=None,
        launcher=launcher,
        launcher_options=launcher_options,
    )
    launch_spec = attrs.evolve(prepared.launch, kill_grace=cancel_grace)
    secrets = {prepared.run_id: prepared.secrets_json} if prepared.secrets_json else None
    supervisor = Supervisor(store, parallel=1, poll_interval=0.01, secrets=secrets)
    supervisor.submit(launch_spec)
    sent: list[float] = []
    first_event: list[float] = []

    def on_progress(active: list[RunProgress]) -> None:
        # Cancel a run at work, as a user would: a moment after its first event (or metrics).
        for progress in active:
            if sent or progress.events < 1 or (cancel_after_metrics and not progress.metrics):
                continue
            if not first_event:
                first_event.append(time.monotonic())
            elif time.monotonic() - first_event[0] >= CANCEL_AFTER:
                sent.append(time.time())
                supervisor.cancel(progress.run_id, "cancelled by the conformance kit")

    cancelling = cancel_after_start or cancel_after_metrics
    results = supervisor.wait(on_progress if cancelling else None, 0.01)
    result = results[prepared.run_id]
    run_dir = pathlib.Path(result.run_dir)
    with open(run_dir / "events.jsonl", "rb") as handle:
        items = list(read_events(handle, expected_run_id=prepared.run_id))
    return RunRecord(
        result=result,
        events=tuple(i for i in items if isinstance(i, TelemetryEvent)),
        anomalies=tuple(i for i in items if isinstance(i, Anomaly)),
        stdout=_read(run_dir / "stdout.log"),
        stderr=_read(run_dir / "stderr.log"),
        cancel_sent_at=sent[0] if sent else None,
    )


def _read(path: pathlib.Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(encoding="utf-8", errors="replace")
    return ""
