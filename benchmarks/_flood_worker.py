"""The ingest benchmark's worker: metrics events as fast as TelemetryEmitter takes them.

``benchmarks/ingest.py`` installs this module into a temporary site
directory with a ``*.dist-info`` whose entry point (group
``mosaic.workers``) names it, so the supervisor discovers and runs it
exactly as a pip-installed worker. Worker type ``bench-flood``:
``total_steps`` metrics events, each with three values, between
``run_started`` and ``run_completed`` and nothing else (no heartbeats), so a
run holds exactly ``total_steps + 2`` events.

When the process ends it prints ``exit <Unix seconds>`` to its stdout
(``stdout.log`` under the supervisor), which the benchmark reads to know
when the last worker was done.
"""

from __future__ import annotations

import atexit
import dataclasses
import time

from mosaic_core import (
    TelemetryEmitter,
    TrainingConfigBase,
    WorkerCapabilities,
    WorkerMetadata,
    WorkerSpec,
    hookimpl,
)

WORKER_TYPE = "bench-flood"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FloodConfig(TrainingConfigBase):
    env_id: str = "Flood-v0"
    algorithm: str = "flood"
    total_steps: int = 50_000


def _say_exit() -> None:
    print(f"exit {time.time()!r}", flush=True)


class FloodRuntime:
    def __init__(self, config: FloodConfig) -> None:
        self.config = config

    def run(self) -> dict[str, object]:
        c = self.config
        atexit.register(_say_exit)
        emitter = TelemetryEmitter(c.run_id)
        with emitter.lifecycle(
            worker_type=WORKER_TYPE, algorithm=c.algorithm, env_id=c.env_id, seed=c.seed,
            total_steps=c.total_steps, heartbeat_interval=None,
        ) as run:  # fmt: skip
            metrics = emitter.metrics
            for i in range(c.total_steps):
                metrics(
                    i,
                    {
                        "charts/episodic_return": (i % 500) * 0.731,
                        "losses/value_loss": 1.0 / (i + 1),
                        "charts/SPS": 1000 + i % 3000,
                    },
                )
            run.summary["metrics_events"] = c.total_steps
        return run.summary


@hookimpl
def mosaic_register_workers(register):  # type: ignore[no-untyped-def]
    register(
        WorkerSpec(
            metadata=WorkerMetadata(name="Ingest benchmark flood worker", version="0.0.1"),
            capabilities=WorkerCapabilities(worker_type=WORKER_TYPE),
            config_class=FloodConfig,
            runtime_factory=FloodRuntime,
            smoke_config={"total_steps": 5},
        )
    )
