"""One training run, inside the worker process: telemetry, checkpoint, manifest."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from mosaic_core import (
    ArtifactsMetadata,
    CheckpointMetadata,
    TelemetryEmitter,
    WorkerAnalyticsManifest,
)

from mosaic_bandit.config import BanditConfig
from mosaic_bandit.plugin import METADATA

ENVIRONMENTS = ("bernoulli-bandit",)


class BanditRuntime:
    def __init__(self, config: BanditConfig) -> None:
        self.config = config
        self.run_dir = Path(os.environ.get("MOSAIC_RUN_DIR") or Path("runs", config.run_id))

    def run(self) -> dict[str, Any]:
        config = self.config
        emitter = TelemetryEmitter(config.run_id)
        with emitter.lifecycle(
            worker_type="bandit",
            algorithm=config.algorithm,
            env_id=config.env_id,
            seed=config.seed,
            total_steps=config.total_steps,
        ) as run:
            if config.env_id not in ENVIRONMENTS:
                # Where a gymnasium worker's gym.make() would raise for an unknown id.
                raise ValueError(
                    f"unknown env_id {config.env_id!r}; this worker provides {ENVIRONMENTS}"
                )
            rng = random.Random(config.seed)
            arms = range(len(config.arm_means))
            counts = [0 for _ in arms]
            values = [0.0 for _ in arms]
            total_reward = regret = 0.0
            best_mean = max(config.arm_means)
            for step in range(1, config.total_steps + 1):
                if rng.random() < config.epsilon:
                    arm = rng.choice(arms)
                else:
                    arm = max(arms, key=values.__getitem__)
                reward = 1.0 if rng.random() < config.arm_means[arm] else 0.0
                counts[arm] += 1
                values[arm] += (reward - values[arm]) / counts[arm]
                total_reward += reward
                regret += best_mean - config.arm_means[arm]
                if step % config.log_every == 0:
                    run.metrics(
                        step,
                        {"charts/mean_reward": total_reward / step, "charts/regret": regret},
                    )
            checkpoint = self.save_checkpoint(values, counts)
            run.checkpoint_saved(checkpoint, step=config.total_steps)
            self.write_manifest(checkpoint)
            run.summary.update(
                mean_reward=total_reward / config.total_steps,
                regret=regret,
                best_arm=max(arms, key=values.__getitem__),
            )
        return run.summary

    def save_checkpoint(self, values: list[float], counts: list[int]) -> str:
        """Write the learned values; return the path relative to the run directory."""
        relative = "checkpoints/final.json"
        path = self.run_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"values": values, "counts": counts}), encoding="utf-8")
        return relative

    def write_manifest(self, checkpoint: str) -> None:
        manifest = WorkerAnalyticsManifest(
            run_id=self.config.run_id,
            worker_type="bandit",
            artifacts=ArtifactsMetadata(
                checkpoints=CheckpointMetadata(
                    format="json", files=(checkpoint,), latest=checkpoint
                ),
            ),
            metadata={"worker": METADATA.to_dict(), "config": self.config.to_dict()},
        )
        manifest.save(self.run_dir)  # writes <run_dir>/analytics.json
