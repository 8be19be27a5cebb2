"""A run stopped mid-training keeps what it learned, for a worker that declares checkpoints.

The kit starts a long run, cancels it (SIGTERM, then SIGKILL after the
kit's ``cancel_grace``, exactly as ``mosaic cancel`` does) as soon as its
first ``metrics`` event shows it training, and then asks of the run
directory what a user would: a manifest listing a checkpoint that exists,
which the worker's operator loads and plays a step with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mosaic_core.conformance._endings import _long_document
from mosaic_core.conformance._outcomes import CheckFailed, CheckSkipped

if TYPE_CHECKING:
    from mosaic_core.conformance._launch import RunRecord
    from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = ["check_cancel_checkpoint"]

_HINT = (
    "when RunCancelled reaches the runtime (SIGTERM under run_worker), save the policy, "
    "record it with context.record_checkpoint(path, step=...) and raise again; "
    "context.stop_grace is the time there is"
)


def check_cancel_checkpoint(kit: WorkerUnderTest) -> str:
    """A worker with ``supports_checkpointing`` keeps a playable checkpoint when cancelled."""
    from mosaic_core._context import RunContext
    from mosaic_core._errors import MosaicError

    if not kit.spec.capabilities.supports_checkpointing:
        raise CheckSkipped("the worker does not declare supports_checkpointing")
    record = kit.launch(_long_document(kit, 1_000_000), cancel_after_metrics=True)
    result = record.result
    if record.cancel_sent_at is None:
        raise CheckSkipped(
            f"the run ended ({result.status}) in {result.duration_s:.2f} s before a metrics event "
            "showed it training, so it was not cancelled; a smoke_config with total_steps lets "
            "the kit make a long run"
        )
    if result.signal == "SIGKILL":
        raise _failed(
            record,
            f"the worker did not end within the grace period ({kit.cancel_grace:g} s) and was "
            "killed with SIGKILL; saving must fit in it",
        )
    try:
        checkpoint = RunContext.open(record.run_dir).latest_checkpoint()
    except MosaicError as exc:
        raise _failed(record, f"the cancelled run left no checkpoint: {exc}") from None
    if not checkpoint.exists():
        raise _failed(record, f"its manifest names {checkpoint}, which does not exist")
    relative = checkpoint.relative_to(record.run_dir).as_posix()
    announced = [e.payload.get("path") for e in record.events if e.event == "checkpoint_saved"]
    if relative not in announced:
        raise _failed(record, f"{relative} was listed but no checkpoint_saved announced it")
    return f"{relative} kept; " + _play(kit, record)


def _play(kit: WorkerUnderTest, record: RunRecord) -> str:
    """Load the run's operator (from its directory, as a user names it) and play one step."""
    from mosaic_core._errors import ProtocolError
    from mosaic_core.operators.client import OperatorRequestError

    if kit.spec.operator_factory is None:
        return "the worker declares no operator_factory, so it was not loaded"
    started = record.events[0].payload if record.events else {}
    env_id = started.get("env_id") if isinstance(started.get("env_id"), str) else None
    spec = f"{kit.worker_type}:{record.run_dir}"
    note = ""
    try:
        try:
            client = _open(spec, env_id)
        except ProtocolError:
            if env_id is None:
                raise
            # The environment may not be makeable here; the operator must still load.
            client, note = _open(spec, None), f" ({env_id} cannot be made here)"
            env_id = None
    except ProtocolError as exc:
        raise _failed(record, f"its operator ({spec}) did not load it: {exc}") from None
    try:
        if env_id is None:
            return f"the operator loaded it; no step played{note or ' (no env_id)'}"
        client.reset(0)
        step = client.call("step")
        if step.get("type") != "step":
            raise _failed(record, f"its operator answered a step with {step!r}")
    except (ProtocolError, OperatorRequestError) as exc:
        raise _failed(record, f"its operator could not play it: {exc}") from None
    finally:
        client.close()
    return f"the operator loaded it and played a step of {env_id}"


def _open(spec: str, env_id: str | None) -> Any:
    from mosaic_core.operators.client import OperatorClient

    client = OperatorClient.spawn(spec, env_id, render="none", timeout=60.0)
    try:
        client.ping()  # the first answer: the operator was built and the server runs
    except BaseException:
        client.close()
        raise
    return client


def _failed(record: RunRecord, problem: str) -> CheckFailed:
    return CheckFailed(
        f"the run cancelled mid-training ({record.outcome()}): {problem}\nhint: {_HINT}\n"
        + record.logs()
    )
