"""The conformance kit: every contract of a MOSAIC worker, checked against the installed worker.

Three ways in, all running the same checks, each with its own stable id:

- ``mosaic check WORKER [--json] [-k CHECK]`` from the shell;
- ``pytest --mosaic-worker WORKER``, or a test class deriving from
  :class:`WorkerConformance`, in a worker's own test suite;
- :func:`check_worker` from Python, which returns a :class:`Report`.

An environment family's tests run :func:`check_env_task` on each task
(:func:`env_task_cases` lists them for ``pytest.mark.parametrize``).

A worker tells the kit how to make a short run through
``WorkerSpec.smoke_config`` and how to make a run fail through
``WorkerSpec.failing_config``; the kit needs no other knowledge of it. Names
resolve lazily, so importing this package (pytest does, through the plugin)
costs nothing until a check runs.
"""

from __future__ import annotations

from mosaic_core._lazy import lazy_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core.conformance._families import check_env_task, env_task_cases
    from mosaic_core.conformance._kit import Conformance, check_worker, select_checks
    from mosaic_core.conformance._outcomes import CheckFailed, CheckResult, CheckSkipped, Report
    from mosaic_core.conformance._registry import CHECK_IDS, CHECKS, Check
    from mosaic_core.conformance._static import HEAVY_MODULES
    from mosaic_core.conformance._testclass import WorkerConformance

_LAZY = {
    "CHECKS": "mosaic_core.conformance._registry",
    "CHECK_IDS": "mosaic_core.conformance._registry",
    "Check": "mosaic_core.conformance._registry",
    "CheckFailed": "mosaic_core.conformance._outcomes",
    "CheckResult": "mosaic_core.conformance._outcomes",
    "CheckSkipped": "mosaic_core.conformance._outcomes",
    "Conformance": "mosaic_core.conformance._kit",
    "HEAVY_MODULES": "mosaic_core.conformance._static",
    "Report": "mosaic_core.conformance._outcomes",
    "select_checks": "mosaic_core.conformance._kit",
    "WorkerConformance": "mosaic_core.conformance._testclass",
    "check_env_task": "mosaic_core.conformance._families",
    "check_worker": "mosaic_core.conformance._kit",
    "env_task_cases": "mosaic_core.conformance._families",
}


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, "mosaic_core.conformance")


__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "HEAVY_MODULES",
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "Conformance",
    "Report",
    "WorkerConformance",
    "check_env_task",
    "check_worker",
    "env_task_cases",
    "select_checks",
]
