"""Real runs through the supervisor, in the kit's private ``MOSAIC_HOME``, and what they show.

Every run is a real worker process, started exactly as ``mosaic run`` starts
it (the worker's console module, or the SDK's generic entry point), with its
telemetry on its own descriptor. The record keeps the parsed stream, the
anomalies the reader found, and the worker's stdout and stderr.
"""

from __future__ import annotations

import contextlib
import itertools
import pathlib
import time
from collections.abc import Mapping
from typing import Any

import attrs

from mosaic_core._telemetry import TERMINAL_EVENTS
from mosaic_core.conformance._kit import CheckFailed, CheckSkipped, Conformance, tail
from mosaic_core.runs.reader import Anomaly, TelemetryEvent, read_events
from mosaic_core.runs.supervisor import RunProgress, RunResult, Supervisor

__all__ = ["CANCEL_AFTER", "RunRecord", "launch", "smoke_run", "stream_problems"]

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
    kit: Conformance,
    document: Mapping[str, Any],
    *,
    validate: bool = True,
    cancel_after_start: bool = False,
) -> RunRecord:
    """Run the worker once with ``document`` as its config; wait for its end.

    ``validate=False`` hands the config to the worker unchecked (as for a
    worker living in another environment), so the worker itself must reject
    a bad one. ``cancel_after_start`` cancels the run as soon as its first
    event arrives, as ``mosaic cancel`` would.
    """
    from mosaic_core.runs.launch import prepare_runs

    spec = kit.spec
    (prepared,) = prepare_runs(
        kit.store,
        kit.worker_type,
        spec if validate else None,
        document,
        console_module=spec.console_module,
        timeout=kit.timeout,
        heartbeat_timeout=None,
    )
    launch_spec = attrs.evolve(prepared.launch, kill_grace=kit.cancel_grace)
    secrets = {prepared.run_id: prepared.secrets_json} if prepared.secrets_json else None
    supervisor = Supervisor(kit.store, parallel=1, poll_interval=0.01, secrets=secrets)
    supervisor.submit(launch_spec)
    sent: list[float] = []
    first_event: list[float] = []

    def on_progress(active: list[RunProgress]) -> None:
        # Cancel a run at work, as a user would: a moment after its first event.
        for progress in active:
            if sent or progress.events < 1:
                continue
            if not first_event:
                first_event.append(time.monotonic())
            elif time.monotonic() - first_event[0] >= CANCEL_AFTER:
                sent.append(time.time())
                supervisor.cancel(progress.run_id, "cancelled by the conformance kit")

    results = supervisor.wait(on_progress if cancel_after_start else None, 0.01)
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


def smoke_run(kit: Conformance) -> RunRecord:
    smoke = kit.spec.smoke_config
    if smoke is None:
        raise CheckFailed(
            "WorkerSpec.smoke_config is not set, so the kit cannot make a short run: give a "
            "config (without run_id) small enough for a run of a few seconds, e.g. "
            "smoke_config={'total_steps': 200}"
        )
    return launch(kit, dict(smoke))


def stream_problems(record: RunRecord) -> list[str]:
    """What is wrong with a run's telemetry stream, whatever its outcome."""
    problems = [f"{a.kind}: {a.detail}" for a in record.anomalies]
    events = record.events
    if not events:
        return [*problems, "the worker emitted no telemetry event at all"]
    # A run that fails while loading its config never starts: a lone run_failed is valid.
    if events[0].event != "run_started" and not (len(events) == 1 and events[0].is_terminal):
        problems.append(
            f"the first event is {events[0].event} (seq {events[0].seq}); run_started must come "
            "first, before any metrics or heartbeat"
        )
    seqs = [e.seq for e in events]
    if seqs != list(range(len(events))):
        problems.append(f"seq is not 0, 1, 2, ... without gaps: {seqs[:20]}")
    terminals = record.terminals
    if len(terminals) != 1:
        shown = ", ".join(f"{e.event} at seq {e.seq}" for e in terminals) or "none"
        problems.append(
            f"{len(terminals)} terminal events ({shown}); a run ends with exactly one of "
            "run_completed, run_failed, run_cancelled"
        )
    elif events[-1] is not terminals[0]:
        problems.append(f"{events[-1].event} (seq {events[-1].seq}) after {terminals[0].event}")
    return problems


_LIFECYCLE_HINT = (
    "run the job inside `with TelemetryEmitter(config.run_id).lifecycle(...) as run:`, which "
    "emits run_started first and exactly one terminal event"
)


def check_smoke_run(kit: Conformance) -> str:
    """A short real run completes with a valid, gap-free stream and one terminal event."""
    record = kit.smoke_run()
    problems = stream_problems(record)
    if record.result.status != "completed" or record.result.exit_code != 0:
        problems.insert(0, f"the run ended {record.outcome()}")
    for event in record.events:
        if event.event == "metrics":
            payload = event.payload
            if type(payload.get("step")) is not int or not isinstance(payload.get("values"), dict):
                problems.append(
                    f"metrics (seq {event.seq}) has payload {payload!r}; expected "
                    '{"step": int, "values": {...}}'
                )
                break
    terminal = record.terminals[-1] if record.terminals else None
    if terminal is not None and terminal.event != "run_completed":
        detail = terminal.payload.get("error") or terminal.payload.get("reason") or ""
        problems.append(f"it ended with {terminal.event}: {detail}")
    if problems:
        raise CheckFailed(
            "the smoke run (smoke_config "
            f"{dict(kit.spec.smoke_config or {})!r}) is not a valid run:\n- "
            + "\n- ".join(problems)
            + f"\nhint: {_LIFECYCLE_HINT}\n"
            + record.logs()
        )
    started = record.events[0].payload
    return f"{len(record.events)} events, completed in {record.result.duration_s:.2f} s" + (
        "" if "total_steps" in started else "; run_started carries no total_steps"
    )


def check_heartbeats(kit: Conformance) -> str:
    """The run is never silent for long, and every heartbeat is well formed."""
    record = kit.completed_smoke_run()
    events = record.events
    steps = []
    for event in events:
        if event.event == "heartbeat":
            step = event.payload.get("step")
            if step is not None and (type(step) is not int or step < 0):
                raise CheckFailed(
                    f"heartbeat (seq {event.seq}) carries step={step!r}; expected an int >= 0"
                )
            if step is not None:
                steps.append(step)
    if steps != sorted(steps):
        raise CheckFailed(f"heartbeat steps go backwards: {steps[:20]}")
    worst, where = 0.0, ""
    for before, after in itertools.pairwise(events):
        gap = after.timestamp - before.timestamp
        if gap > worst:
            worst = gap
            where = f"between {before.event} (seq {before.seq}) and {after.event} (seq {after.seq})"
    beats = sum(e.event == "heartbeat" for e in events)
    if worst > kit.max_silence:
        raise CheckFailed(
            f"the worker was silent for {worst:.1f} s {where} (limit {kit.max_silence:g} s); "
            "the supervisor kills a worker that stays silent longer than its heartbeat "
            "timeout. Emit heartbeats while working: TelemetryEmitter.lifecycle() sends one "
            "every 5 s by default, or call run.heartbeat(step=...) from the training loop"
        )
    span = events[-1].timestamp - events[0].timestamp if events else 0.0
    return f"{beats} heartbeats in {span:.2f} s; longest silence {worst:.2f} s"


def check_manifest(kit: Conformance) -> str:
    """A valid ``analytics.json`` in the run directory, naming this run and worker."""
    from mosaic_core._errors import ManifestError
    from mosaic_core._manifest import MANIFEST_FILENAME, WorkerAnalyticsManifest

    record = kit.completed_smoke_run()
    path = record.run_dir / MANIFEST_FILENAME
    if not path.exists():
        raise CheckFailed(
            f"the completed run wrote no {MANIFEST_FILENAME} in its run directory "
            f"{record.run_dir}; build a mosaic_core.WorkerAnalyticsManifest and "
            "manifest.save(run_dir) before run_completed, with run_dir from $MOSAIC_RUN_DIR"
        )
    try:
        manifest = WorkerAnalyticsManifest.load(path)
    except ManifestError as exc:
        raise CheckFailed(f"{MANIFEST_FILENAME} is not a valid manifest: {exc}") from None
    if manifest.run_id != record.result.run_id:
        raise CheckFailed(
            f"{MANIFEST_FILENAME} names run_id {manifest.run_id!r}; this run is "
            f"{record.result.run_id!r} (use config.run_id)"
        )
    if manifest.worker_type != kit.worker_type:
        raise CheckFailed(
            f"{MANIFEST_FILENAME} names worker_type {manifest.worker_type!r}; expected "
            f"{kit.worker_type!r}"
        )
    artifacts = manifest.artifacts
    dirs = {
        "artifacts.tensorboard.log_dir": artifacts.tensorboard.log_dir
        if artifacts.tensorboard
        else None,
        "artifacts.logs_dir": artifacts.logs_dir,
        "artifacts.videos_dir": artifacts.videos_dir,
    }
    for name, relative in dirs.items():
        if relative is not None and not (record.run_dir / relative).exists():
            raise CheckFailed(f"{MANIFEST_FILENAME}: {name} {relative!r} does not exist")
    return f"{MANIFEST_FILENAME} valid for run {manifest.run_id}"


def check_checkpoints(kit: Conformance) -> str:
    """With ``supports_checkpointing``: the manifest lists checkpoint files, and they exist."""
    from mosaic_core._manifest import WorkerAnalyticsManifest

    if not kit.spec.capabilities.supports_checkpointing:
        raise CheckSkipped("the worker does not declare supports_checkpointing")
    record = kit.completed_smoke_run()
    try:
        manifest = WorkerAnalyticsManifest.load(record.run_dir)
    except Exception:  # noqa: BLE001 - the manifest check reports it
        raise CheckSkipped("no valid manifest (see manifest)") from None
    checkpoints = manifest.artifacts.checkpoints
    if checkpoints is None or not checkpoints.files:
        raise CheckFailed(
            "the worker declares supports_checkpointing, but the manifest of the completed "
            "smoke run lists no checkpoint file; save one at the end of a run and list it in "
            "CheckpointMetadata(files=(...,), latest=...)"
        )
    listed = [*checkpoints.files, *([checkpoints.latest] if checkpoints.latest else [])]
    missing = [p for p in listed if not (record.run_dir / p).exists()]
    announced = [e.payload.get("path") for e in record.events if e.event == "checkpoint_saved"]
    missing += [
        f"{p} (from checkpoint_saved)"
        for p in announced
        if not isinstance(p, str) or not (record.run_dir / p).exists()
    ]
    if missing:
        raise CheckFailed(
            "checkpoint files that do not exist under the run directory "
            f"{record.run_dir}: {', '.join(map(str, missing))}; paths are relative to the "
            "run directory, such as 'checkpoints/final.pt'"
        )
    if checkpoints.latest and checkpoints.latest not in checkpoints.files:
        raise CheckFailed(f"checkpoints.latest {checkpoints.latest!r} is not among files")
    return f"{len(checkpoints.files)} checkpoint file(s) ({checkpoints.format}) exist"
