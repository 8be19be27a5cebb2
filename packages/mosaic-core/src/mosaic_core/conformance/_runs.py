"""Checks of the smoke run: its telemetry stream, its heartbeats, its manifest, its checkpoints.

The run itself is the worker under test's (:meth:`WorkerUnderTest.smoke_run
<mosaic_core.conformance._subject.WorkerUnderTest.smoke_run>`), made once and
shared by these checks.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from mosaic_core.conformance._outcomes import CheckFailed, CheckSkipped

if TYPE_CHECKING:
    from mosaic_core.conformance._launch import RunRecord
    from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = [
    "check_checkpoints",
    "check_heartbeats",
    "check_manifest",
    "check_smoke_run",
    "stream_problems",
]


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
    "run the job inside `with context.lifecycle(...) as run:` (the RunContext a runtime "
    "factory with a `context` parameter is given), which emits run_started first and exactly "
    "one terminal event"
)


def check_smoke_run(kit: WorkerUnderTest) -> str:
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


def check_heartbeats(kit: WorkerUnderTest) -> str:
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
            "timeout. Emit heartbeats while working: context.lifecycle() sends one "
            "every 5 s by default, or call run.heartbeat(step=...) from the training loop"
        )
    span = events[-1].timestamp - events[0].timestamp if events else 0.0
    return f"{beats} heartbeats in {span:.2f} s; longest silence {worst:.2f} s"


def check_manifest(kit: WorkerUnderTest) -> str:
    """A valid ``analytics.json`` in the run directory, naming this run and worker."""
    from mosaic_core._errors import ManifestError
    from mosaic_core._manifest import MANIFEST_FILENAME, WorkerAnalyticsManifest

    record = kit.completed_smoke_run()
    path = record.run_dir / MANIFEST_FILENAME
    if not path.exists():
        raise CheckFailed(
            f"the completed run wrote no {MANIFEST_FILENAME} in its run directory "
            f"{record.run_dir}; call context.write_manifest() (or record_checkpoint()) of the "
            "run's RunContext before run_completed"
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


def check_checkpoints(kit: WorkerUnderTest) -> str:
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
            "smoke run lists no checkpoint file; save one at the end of a run and record it "
            "with context.record_checkpoint(path, step=...), which lists it in the manifest"
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
