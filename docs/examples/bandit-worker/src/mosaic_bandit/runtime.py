"""One training run, inside the worker process: telemetry, checkpoints, manifest.

A run that is stopped (``mosaic cancel``, Ctrl-C, a timeout) gets
``RunCancelled`` wherever it is; it saves what it learned and ends as
cancelled, within the ``context.stop_grace`` seconds it is given.
"""

from __future__ import annotations

import json
import random
from typing import Any

from mosaic_core import ConfigError, RunCancelled, RunContext

from mosaic_bandit.config import BanditConfig

ENVIRONMENTS = ("bernoulli-bandit",)


class BanditRuntime:
    def __init__(self, config: BanditConfig, context: RunContext) -> None:
        self.config = config
        self.context = context  # the run's directory, telemetry, checkpoints and manifest

    def run(self) -> dict[str, Any]:
        config = self.config
        with self.context.lifecycle(
            algorithm=config.algorithm,
            env_id=config.env_id,
            seed=config.seed,
            total_steps=config.total_steps,
        ) as run:
            if config.env_id not in ENVIRONMENTS:
                # Where a gymnasium worker's gym.make() would refuse an unknown id.
                raise ConfigError.bad_value("env_id", config.env_id, f"one of {ENVIRONMENTS}")
            rng = random.Random(config.seed)
            arms = range(len(config.arm_means))
            counts = [0 for _ in arms]
            values = [0.0 for _ in arms]
            total_reward = regret = 0.0
            best_mean = max(config.arm_means)
            step = 0
            try:
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
                    if config.checkpoint_every and step % config.checkpoint_every == 0:
                        self.save_checkpoint(values, counts, step, f"step_{step}.json")
            except RunCancelled:
                # Stopped: keep what was learned, then let the run end as cancelled.
                self.save_checkpoint(values, counts, step, f"step_{step}.json")
                raise
            self.save_checkpoint(values, counts, config.total_steps, "final.json")
            self.context.write_manifest(algorithm=config.algorithm, config=config.to_dict())
            run.summary.update(
                mean_reward=total_reward / config.total_steps,
                regret=regret,
                best_arm=max(arms, key=values.__getitem__),
            )
        return run.summary

    def save_checkpoint(self, values: list[float], counts: list[int], step: int, name: str) -> None:
        """Write the learned values; the context announces the checkpoint (checkpoint_saved)
        and lists it in the run's manifest, analytics.json, as the latest."""
        path = self.context.path("checkpoints", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"values": values, "counts": counts}), encoding="utf-8")
        self.context.record_checkpoint(path, step=step, format="json")
