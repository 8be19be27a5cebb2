"""The kit's core: one worker under test, its checks, and their results.

A :class:`Conformance` holds what the checks share and computes each piece
once: the discovery of the worker, the smoke run, the failing run. A check
is a function of the kit that returns a short note when the worker passes,
raises :class:`CheckFailed` with what to fix, or raises :class:`CheckSkipped`
with the reason it does not apply. Nothing here imports pytest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import attrs

from mosaic_core._errors import MosaicError, did_you_mean

if TYPE_CHECKING:
    from mosaic_core._discovery import BrokenPlugin, DiscoveredWorker
    from mosaic_core._spec import WorkerSpec
    from mosaic_core.conformance._runs import RunRecord
    from mosaic_core.runs.store import RunStore

__all__ = [
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "Conformance",
    "Report",
    "check_worker",
]

Status = Literal["passed", "failed", "skipped"]

#: The run id the in-process config checks use.
CHECK_RUN_ID = "conformance-check"


class CheckFailed(MosaicError, AssertionError):
    """The worker breaks the contract; the message says what to fix."""


class CheckSkipped(Exception):
    """The check does not apply to this worker (or cannot run); the message says why."""


@attrs.frozen
class Check:
    """One check: a stable id, a one-line summary, and the function that runs it."""

    id: str
    summary: str
    func: Callable[[Conformance], str]


@attrs.frozen(kw_only=True)
class CheckResult:
    id: str
    status: Status
    message: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


@attrs.frozen(kw_only=True)
class Report:
    """The results of one ``check_worker`` call, in check order."""

    worker_type: str
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped checks do not count against a worker)."""
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "skipped": 0}
        for result in self.results:
            out[result.status] += 1
        return out

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker": self.worker_type,
            "ok": self.ok,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }


def _checks() -> tuple[Check, ...]:
    from mosaic_core.conformance._registry import CHECKS

    return CHECKS


def select_checks(select: Iterable[str] | None = None) -> list[Check]:
    """The checks named in ``select`` (all when None), in the kit's order.

    An unknown id is a :class:`~mosaic_core._errors.MosaicError` with a did-you-mean.
    """
    checks = _checks()
    if select is None:
        return list(checks)
    wanted = list(select)
    known = [c.id for c in checks]
    for name in wanted:
        if name not in known:
            raise MosaicError(
                f"unknown conformance check {name!r}{did_you_mean(name, known)}; "
                f"the checks are: {', '.join(known)}"
            )
    return [c for c in checks if c.id in wanted]


class Conformance:
    """One worker under test, and everything its checks share.

    ``workdir`` holds the private ``MOSAIC_HOME`` of the kit's runs; without
    one, a temporary directory is made and :meth:`close` removes it.
    ``timeout`` bounds each run in seconds; ``max_silence`` is the longest a
    run may go without a telemetry event; ``cancel_grace`` is how long a
    worker has to stop after SIGTERM; ``import_budget`` is how long the
    plugin module may take to import.
    """

    def __init__(
        self,
        worker_type: str,
        *,
        workdir: str | os.PathLike[str] | None = None,
        timeout: float = 120.0,
        max_silence: float = 15.0,
        cancel_grace: float = 5.0,
        import_budget: float = 2.0,
    ) -> None:
        self.worker_type = worker_type
        self.timeout = timeout
        self.max_silence = max_silence
        self.cancel_grace = cancel_grace
        self.import_budget = import_budget
        self._own_workdir = workdir is None
        self.workdir = os.fspath(workdir or tempfile.mkdtemp(prefix="mosaic-check-"))
        self._results: dict[str, CheckResult] = {}
        self._cache: dict[str, Any] = {}
        self._store: RunStore | None = None

    # -- what the checks share -------------------------------------------------------

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for; its value (or error) after."""
        if key not in self._cache:
            try:
                self._cache[key] = (True, compute())
            except (CheckFailed, CheckSkipped) as exc:
                self._cache[key] = (False, exc)
        ok, value = self._cache[key]
        if not ok:
            raise type(value)(*value.args)
        return value

    def discovery(self) -> tuple[DiscoveredWorker | None, BrokenPlugin | None, str | None]:
        """``(worker, broken, problem)``: exactly one is set.

        ``worker`` when it loaded (``worker.spec`` is None for a legacy entry
        point), ``broken`` when its plugin failed, ``problem`` (a message)
        when no installed plugin provides it.
        """
        from mosaic_core.conformance._static import discover

        result: tuple[DiscoveredWorker | None, BrokenPlugin | None, str | None]
        result = self.once("discovery", lambda: discover(self.worker_type))
        return result

    @property
    def spec(self) -> WorkerSpec:
        """The worker's spec; :class:`CheckSkipped` when the worker did not load."""
        worker, _, _ = self.discovery()
        if worker is None or worker.spec is None:
            raise CheckSkipped(
                f"worker {self.worker_type!r} did not load as a runnable worker (see entry-point)"
            )
        return worker.spec

    @property
    def store(self) -> RunStore:
        if self._store is None:
            from mosaic_core.runs.store import RunStore

            self._store = RunStore(os.path.join(self.workdir, "mosaic-home"))
        return self._store

    def smoke_run(self) -> RunRecord:
        """The smoke run, started the first time a check needs it."""
        from mosaic_core.conformance._runs import smoke_run

        record: RunRecord = self.once("smoke-run", lambda: smoke_run(self))
        return record

    def completed_smoke_run(self) -> RunRecord:
        """The smoke run if it completed; :class:`CheckSkipped` otherwise."""
        try:
            record = self.smoke_run()
        except CheckFailed:
            raise CheckSkipped("there is no smoke run (see smoke-run)") from None
        if record.result.status != "completed":
            raise CheckSkipped(
                f"the smoke run did not complete ({record.result.status}; see smoke-run)"
            )
        return record

    # -- running checks ----------------------------------------------------------------

    def run(self, check_id: str) -> CheckResult:
        """Run one check (once: a second call returns the first result)."""
        if check_id in self._results:
            return self._results[check_id]
        (check,) = select_checks([check_id])
        started = time.perf_counter()
        status: Status
        try:
            message = check.func(self)
            status = "passed"
        except CheckFailed as exc:
            status, message = "failed", str(exc)
        except CheckSkipped as exc:
            status, message = "skipped", str(exc)
        except Exception as exc:  # noqa: BLE001 - a crash in a check is that check's failure
            import traceback

            status = "failed"
            message = (
                f"the check itself crashed on this worker: {type(exc).__name__}: {exc}\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            )
        result = CheckResult(
            id=check_id, status=status, message=message, seconds=time.perf_counter() - started
        )
        self._results[check_id] = result
        return result

    def run_all(
        self,
        select: Iterable[str] | None = None,
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> Report:
        results = []
        for check in select_checks(select):
            result = self.run(check.id)
            if on_result is not None:
                on_result(result)
            results.append(result)
        return Report(worker_type=self.worker_type, results=tuple(results))

    def close(self) -> None:
        """Close the run store; remove the work directory if the kit made it."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Conformance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_worker(
    worker_type: str,
    *,
    select: Iterable[str] | None = None,
    **options: Any,
) -> Report:
    """Run the conformance checks against an installed worker; the one-call API.

    ``select`` names the checks to run (all by default); ``options`` are
    those of :class:`Conformance`. Like ``gymnasium.utils.env_checker.check_env``,
    but it returns a :class:`Report` instead of raising: ``report.ok`` says
    whether every check passed or was skipped.
    """
    with Conformance(worker_type, **options) as kit:
        return kit.run_all(select)


def describe(value: Any, limit: int = 120) -> str:
    """A short repr for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tail(text: str, lines: int = 15) -> str:
    """The last ``lines`` lines of ``text``, indented, for a failure message."""
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (empty)"
