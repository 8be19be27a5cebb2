"""The MOSAIC conformance kit against the bandit worker: one test per check.

Run one check with ``pytest -k smoke-run``; ``mosaic check bandit`` runs the same checks.
"""

from mosaic_core.conformance import WorkerConformance


class TestConformance(WorkerConformance):
    worker_type = "bandit"
