"""The UI benchmark's probe: one metric every ``interval`` seconds, ``total_steps`` times.

``benchmarks/ui.py`` installs it as a distribution (worker type
``bench-probe``) and measures how long each of its events takes from the
emitter to a point on the browser's curve.
"""

from __future__ import annotations

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

WORKER_TYPE = "bench-probe"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeConfig(TrainingConfigBase):
    env_id: str = "Probe-v0"
    algorithm: str = "probe"
    total_steps: int = 30
    interval: float = 0.4


class ProbeRuntime:
    def __init__(self, config: ProbeConfig) -> None:
        self.config = config

    def run(self) -> dict[str, object]:
        c = self.config
        emitter = TelemetryEmitter(c.run_id)
        with emitter.lifecycle(worker_type=WORKER_TYPE, algorithm=c.algorithm, env_id=c.env_id,
                               total_steps=c.total_steps) as run:  # fmt: skip
            time.sleep(4.0)  # the page opens and starts following the run
            for step in range(1, c.total_steps + 1):
                emitter.metrics(step, {"probe/value": float(step % 7)})
                time.sleep(c.interval)
        return run.summary


@hookimpl
def mosaic_register_workers(register):  # type: ignore[no-untyped-def]
    register(
        WorkerSpec(
            metadata=WorkerMetadata(name="UI benchmark probe", version="0.0.1"),
            capabilities=WorkerCapabilities(worker_type=WORKER_TYPE),
            config_class=ProbeConfig,
            runtime_factory=ProbeRuntime,
        )
    )
