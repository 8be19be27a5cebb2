"""``WorkerConformance``: subclass it in a worker's tests, name the worker, get every check.

It needs no import of pytest: the ``mosaic`` pytest plugin (registered by
mosaic-core under ``pytest11``) parametrizes ``test_conformance`` with one
test id per check and provides the fixtures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from mosaic_core.conformance._kit import Conformance

__all__ = ["WorkerConformance"]


class WorkerConformance:
    """Base class for a worker's conformance tests, in the manner of fsspec's abstract tests.

    ::

        from mosaic_core.conformance import WorkerConformance

        class TestConformance(WorkerConformance):
            worker_type = "myworker"

    Instead of the ``worker_type`` attribute, a subclass may override the
    ``mosaic_worker`` fixture. ``conformance_options`` passes options to
    :class:`~mosaic_core.conformance.Conformance` (``timeout``,
    ``max_silence``, ``cancel_grace``, ``import_budget``).
    """

    #: The worker type to check: the entry point's name.
    worker_type: ClassVar[str] = ""
    #: Keyword options for :class:`~mosaic_core.conformance.Conformance`.
    conformance_options: ClassVar[dict[str, Any]] = {}

    def test_conformance(self, mosaic_check: str, mosaic_conformance: Conformance) -> None:
        """One conformance check; the test id is the check id, e.g. ``[smoke-run]``."""
        from mosaic_core.conformance.pytest_plugin import report

        report(mosaic_conformance.run(mosaic_check))
