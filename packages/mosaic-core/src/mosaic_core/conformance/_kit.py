"""The kit's runner: the checks chosen, run once each, in order, with their results.

:class:`Conformance` is the worker under test together with the checks of
the registry; it is the one object the three ways in (``mosaic check``, the
pytest plugin, :func:`check_worker`) drive. A check returns a short note
when the worker passes, raises :class:`~mosaic_core.conformance.CheckFailed`
with what to fix, or :class:`~mosaic_core.conformance.CheckSkipped` with the
reason it does not apply. Nothing here imports pytest.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from mosaic_core.__about__ import __version__
from mosaic_core._errors import MosaicError, did_you_mean
from mosaic_core.conformance._outcomes import (
    CheckFailed,
    CheckResult,
    CheckSkipped,
    Report,
    Status,
)
from mosaic_core.conformance._registry import CHECKS, Check
from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = ["Conformance", "check_worker", "select_checks"]


def select_checks(select: Iterable[str] | None = None) -> list[Check]:
    """The checks named in ``select`` (all when None), in the kit's order.

    An unknown id is a :class:`~mosaic_core.MosaicError` with a did-you-mean.
    """
    if select is None:
        return list(CHECKS)
    wanted = list(select)
    known = [c.id for c in CHECKS]
    for name in wanted:
        if name not in known:
            raise MosaicError(
                f"unknown conformance check {name!r}{did_you_mean(name, known)}; "
                f"the checks are: {', '.join(known)}"
            )
    return [c for c in CHECKS if c.id in wanted]


class Conformance(WorkerUnderTest):
    """One worker under test, its checks, and their results.

    ``workdir`` holds the private ``MOSAIC_HOME`` of the kit's runs; without
    one, a temporary directory is made and :meth:`close` removes it.
    ``timeout`` bounds each run in seconds; ``max_silence`` is the longest a
    run may go without a telemetry event; ``cancel_grace`` is how long a
    worker has to stop after SIGTERM; ``import_budget`` is how long the
    plugin module may take to import. ``launcher`` (``"ray"``, say) and
    ``launcher_options`` run the kit's runs through that launcher.
    """

    @functools.cached_property
    def _results(self) -> dict[str, CheckResult]:
        """Each check's result, computed once."""
        return {}

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
        """Run the checks named in ``select`` (all by default) in the kit's order;
        ``on_result`` sees each result as it comes."""
        results = []
        for check in select_checks(select):
            result = self.run(check.id)
            if on_result is not None:
                on_result(result)
            results.append(result)
        return Report(
            worker_type=self.worker_type,
            results=tuple(results),
            mosaic_core_version=__version__,
            requirement=self.requirement(),
        )

    def requirement(self) -> str:
        """What the worker declares about mosaic-core, in words, for the kit's reports:
        ``mosaic-gridworld-worker 0.1.0 requires mosaic-core>=1.1,<2``."""
        from mosaic_core.conformance._static import core_requirement

        worker, _, _ = self.discovery()
        if worker is None or worker.distribution is None:
            return ""
        where = f"{worker.distribution} {worker.distribution_version}"
        declared = core_requirement(worker.distribution)
        if declared is None:
            return f"{where} declares no mosaic-core requirement"
        return f"{where} requires mosaic-core{declared or ' (any version)'}"

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
    but it returns a :class:`~mosaic_core.conformance.Report` instead of
    raising: ``report.ok`` says whether every check passed or was skipped.
    """
    with Conformance(worker_type, **options) as kit:
        return kit.run_all(select)
