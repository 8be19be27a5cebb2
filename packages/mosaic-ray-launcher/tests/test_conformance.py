"""The conformance kit passes for the bandit worker through the Ray launcher: every check
of the contract holds for its runs on the cluster, as for its runs here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from mosaic_core.conformance import WorkerConformance

from .conftest import LocalCluster, node_of


class TestBanditThroughRay(WorkerConformance):
    worker_type = "bandit"
    conformance_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(autouse=True)
    def _through_the_cluster(self, cluster: LocalCluster) -> Iterator[None]:
        """The kit's runs go to the tests' cluster (its address is known only now)."""
        options = {"address": cluster.address, "node_dir": str(cluster.node_dir)}
        type(self).conformance_options = {"launcher": "ray", "launcher_options": options}
        yield

    def test_the_kits_runs_ran_on_the_cluster(self, mosaic_conformance: Any) -> None:
        record = mosaic_conformance.smoke_run()
        assert record.result.status == "completed"
        assert node_of(record.run_dir) in ("node_a", "node_b")
