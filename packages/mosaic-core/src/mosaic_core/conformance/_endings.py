"""Runs that do not complete: a failing run, a run with a bad config, a cancelled run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mosaic_core._errors import ConfigError
from mosaic_core.conformance._config import base_document
from mosaic_core.conformance._outcomes import CheckFailed, CheckSkipped
from mosaic_core.conformance._runs import stream_problems

if TYPE_CHECKING:
    from mosaic_core.conformance._launch import RunRecord
    from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = ["UNKNOWN_KEY", "check_bad_config_run", "check_cancel", "check_failing_run"]

#: The key the bad-config run adds; no worker has a field of that name.
UNKNOWN_KEY = "mosaic_conformance_unknown_key"

_RUN_WORKER = (
    "let the SDK run the job: no console_module (the generic entry point), or a console "
    "module that calls mosaic_core.run_worker(SPEC)"
)


def _fail(what: str, problems: list[str], record: RunRecord, hint: str) -> CheckFailed:
    return CheckFailed(f"{what}:\n- " + "\n- ".join(problems) + f"\nhint: {hint}\n" + record.logs())


def check_failing_run(kit: WorkerUnderTest) -> str:
    """A run that fails ends with ``run_failed`` (error, type, traceback) and a non-zero exit."""
    spec = kit.spec
    if spec.failing_config is None:
        raise CheckSkipped(
            "WorkerSpec.failing_config is not set; set it to config changes (merged over "
            "smoke_config) that pass validation but make run() raise, such as "
            "{'env_id': 'NoSuchEnv-v0'}, so the kit can check how a failure is reported"
        )
    try:
        record = kit.launch(kit.smoke_document(spec.failing_config))
    except ConfigError as exc:
        raise CheckFailed(
            f"the config validation rejects failing_config {dict(spec.failing_config)!r}: "
            f"{exc}; failing_config must be a valid config that fails at run time (a bad "
            "config is what bad-config-run checks)"
        ) from None
    problems = stream_problems(record)
    terminals = record.terminals
    terminal = terminals[-1] if terminals else None
    if terminal is None:
        problems.append(
            f"the worker ended {record.outcome()} without run_failed: an exception escaped "
            "without being reported"
        )
    elif terminal.event != "run_failed":
        problems.append(f"it ended with {terminal.event}, not run_failed")
    else:
        for key in ("error", "error_type", "traceback"):
            value = terminal.payload.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"run_failed carries {key}={value!r}; expected a non-empty string")
    result = record.result
    if result.signal or not result.exit_code:
        problems.append(
            f"the worker ended with {result.signal or f'exit status {result.exit_code}'}; "
            "a failed run exits with a non-zero status (1)"
        )
    if problems:
        raise _fail(
            f"the failing run (failing_config {dict(spec.failing_config)!r})",
            problems,
            record,
            "raise inside `with emitter.lifecycle(...)`, which emits run_failed with the "
            f"traceback, and {_RUN_WORKER}",
        )
    assert terminal is not None
    return (
        f"run_failed with {terminal.payload['error_type']}: "
        f"{str(terminal.payload['error'])[:80]}; exit status {result.exit_code}"
    )


def check_bad_config_run(kit: WorkerUnderTest) -> str:
    """A run given an unknown key fails at once: ``run_failed`` with ConfigError, exit 2."""
    record = kit.launch(kit.smoke_document({UNKNOWN_KEY: 1}), validate=False)
    problems = stream_problems(record)
    terminal = record.terminals[-1] if record.terminals else None
    if terminal is None or terminal.event != "run_failed":
        problems.append(
            f"it ended {record.outcome()} with {terminal.event if terminal else 'no terminal'}"
            " event; a bad config ends with run_failed"
        )
    else:
        if terminal.payload.get("error_type") != "ConfigError":
            problems.append(
                f"run_failed has error_type {terminal.payload.get('error_type')!r}; expected "
                "'ConfigError'"
            )
        if UNKNOWN_KEY not in str(terminal.payload.get("error")):
            problems.append(f"the error does not name the key {UNKNOWN_KEY!r}")
    if record.result.exit_code != 2:
        problems.append(
            f"the worker ended with {record.result.signal or record.result.exit_code}; a bad "
            "config exits with status 2"
        )
    if "Traceback (most recent call last)" in record.stderr:
        problems.append("stderr shows a traceback; a bad config is one clear line, no traceback")
    if problems:
        raise _fail(
            f"the run with the unknown key {UNKNOWN_KEY!r}",
            problems,
            record,
            f"load the config with mosaic_core.load_worker_config and {_RUN_WORKER}",
        )
    return "run_failed with ConfigError naming the key; exit status 2; no traceback"


def _long_document(kit: WorkerUnderTest, factor: int = 1000) -> dict[str, Any]:
    """The smoke config, with total_steps scaled up when the config has it and allows it."""
    smoke = kit.smoke_document()
    try:
        steps = kit.spec.config_class.from_dict(base_document(kit)).to_dict().get("total_steps")
        if type(steps) is int:
            longer = {**smoke, "total_steps": steps * factor}
            kit.spec.config_class.from_dict({**base_document(kit), **longer})
            return longer
    except Exception:  # noqa: BLE001 - then the smoke config as it is
        pass
    return smoke


def check_cancel(kit: WorkerUnderTest) -> str:
    """SIGTERM during a run stops it within the grace period, with ``run_cancelled``."""
    from mosaic_core import _procs as procs

    for factor in (1000, 1_000_000):  # a fast worker may finish the first before SIGTERM
        record = kit.launch(_long_document(kit, factor), cancel_after_start=True)
        terminal = record.terminals[-1] if record.terminals else None
        result = record.result
        sent = record.cancel_sent_at
        too_soon = sent is None or (
            terminal is not None
            and (terminal.event == "run_completed" or terminal.timestamp <= sent)
        )
        if not too_soon:
            break
    if too_soon:
        ended = terminal.event if terminal else result.status
        raise CheckSkipped(
            f"the run ended ({ended}) in {result.duration_s:.2f} s, before SIGTERM reached it; "
            "a smoke_config with total_steps (or one that runs for about a second) lets the "
            "kit cancel a run"
        )
    problems = stream_problems(record) if terminal is not None else []
    if result.signal == "SIGKILL":
        problems.append(
            f"the worker ignored SIGTERM for {kit.cancel_grace:g} s and was killed with SIGKILL"
        )
    elif terminal is None and result.signal != "SIGTERM":
        problems.append(f"the worker ended {record.outcome()} without run_cancelled")
    elif terminal is not None and terminal.event != "run_cancelled":
        problems.append(
            f"SIGTERM ended the run with {terminal.event}; expected run_cancelled. "
            "RunCancelled derives from BaseException: do not catch it"
        )
    pid = kit.store.get(result.run_id)["pid"]
    left = {p for p in procs.run_processes(pid, session=pid) if procs.alive(p)} if pid else set()
    if left:
        problems.append(f"processes of the run survived it: {sorted(left)}")
    if problems:
        raise _fail(
            "the cancelled run",
            problems,
            record,
            "SIGTERM raises mosaic_core.RunCancelled in the main thread under run_worker; "
            "stop child processes when it propagates",
        )
    assert sent is not None  # too_soon covers the run that was never signalled
    took = max(0.0, (kit.store.get(result.run_id)["ended_at"] or sent) - sent)
    how = "run_cancelled" if terminal is not None else "killed by SIGTERM, no run_cancelled"
    return f"{how} {took:.2f} s after SIGTERM; nothing left running"
