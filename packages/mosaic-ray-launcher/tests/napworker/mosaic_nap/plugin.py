"""The nap worker's spec, config and runtime (one module: it is a test fixture)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import Ge

from mosaic_core import (
    RunCancelled,
    RunContext,
    TrainingConfigBase,
    WorkerCapabilities,
    WorkerMetadata,
    WorkerSpec,
    hookimpl,
)


@dataclass(frozen=True, kw_only=True)
class NapConfig(TrainingConfigBase):
    env_id: str = "Nap-v0"
    """nothing to play"""
    algorithm: str = "nap"
    """how to spend a step"""
    total_steps: Annotated[int, Ge(1)] = 20
    """steps to nap"""
    step_seconds: Annotated[float, Ge(0)] = 0.05
    """the length of a nap"""


class NapRuntime:
    def __init__(self, config: NapConfig, context: RunContext) -> None:
        self.config = config
        self.context = context

    def run(self) -> dict[str, Any]:
        c = self.config
        with self.context.lifecycle(
            algorithm=c.algorithm, env_id=c.env_id, seed=c.seed, total_steps=c.total_steps
        ) as run:
            step = 0
            try:
                for step in range(1, c.total_steps + 1):
                    time.sleep(c.step_seconds)
                    run.metrics(step, {"nap/step": float(step), "nap/seed": float(c.seed or 0)})
                    if c.checkpoint_every and step % c.checkpoint_every == 0:
                        self.save(step)
            except RunCancelled:
                self.save(step)
                raise
            self.save(step)
            run.summary.update(steps=step)
        return run.summary

    def save(self, step: int) -> None:
        path = self.context.path("checkpoints", f"step_{step}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"step": step, "seed": self.config.seed}), encoding="utf-8")
        self.context.record_checkpoint(path, step=step, format="json")


def make_runtime(config: NapConfig, context: RunContext) -> NapRuntime:
    return NapRuntime(config, context)


SPEC = WorkerSpec(
    metadata=WorkerMetadata(
        name="Nap worker", version="0.1.0", description="naps between steps",
        author="The MOSAIC developers", license="MIT",
    ),
    capabilities=WorkerCapabilities(
        worker_type="nap", supported_paradigms=("sequential",), env_families=("nap",),
        action_spaces=("discrete",), observation_spaces=("vector",),
        supports_checkpointing=True,
    ),
    config_class=NapConfig,
    runtime_factory=make_runtime,
    smoke_config={"total_steps": 5},
)  # fmt: skip


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)
