"""The MOSAIC conformance kit against the installed ray worker: one test per check.

The ray worker declares checkpoints, cancellation and an operator, so the
checks of those must pass here, never be skipped.
"""

from __future__ import annotations

from typing import ClassVar

from mosaic_core.conformance import Conformance, WorkerConformance

MUST_RUN = {
    "smoke-run", "manifest", "checkpoints", "failing-run", "cancel", "cancel-checkpoint",
    "operator-protocol",
}  # fmt: skip


class TestConformance(WorkerConformance):
    worker_type = "ray"
    # A Ray run starts its own Ray (~5 s) before training: more than the kit's default.
    conformance_options: ClassVar[dict[str, object]] = {"timeout": 300.0}

    def test_conformance(self, mosaic_check: str, mosaic_conformance: Conformance) -> None:
        result = mosaic_conformance.run(mosaic_check)
        if mosaic_check in MUST_RUN:
            assert result.status != "skipped", f"[{mosaic_check}] skipped: {result.message}"
        super().test_conformance(mosaic_check, mosaic_conformance)
