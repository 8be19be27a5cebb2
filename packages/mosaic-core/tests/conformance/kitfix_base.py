"""A worker for the conformance kit's own tests: correct by default, wrong on request.

``make_spec(worker_type, ...)`` builds a conforming spec; each negative
fixture changes one thing: a config class, a smoke config whose
``behavior`` breaks one contract rule, a missing hook value. The kit must
pass the correct worker and fail each broken one with the right check id.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaic_core import (
    ArtifactsMetadata,
    CheckpointMetadata,
    RunCancelled,
    RunContext,
    TelemetryEmitter,
    TrainingConfigBase,
    WorkerAnalyticsManifest,
    WorkerCapabilities,
    WorkerMetadata,
    WorkerSpec,
)

VERSION = "0.1.0"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FixConfig(TrainingConfigBase):
    env_id: str = "Line-v0"
    algorithm: str = "count"
    total_steps: int = 20
    behavior: str = "ok"
    silence: float = 0.0


@dataclasses.dataclass
class LenientConfig:
    """The original guide's config: from_dict drops what it does not know, checks nothing."""

    run_id: str
    seed: int | None = None
    env_id: str = "Line-v0"
    algorithm: str = "count"
    total_steps: int = 20
    behavior: str = "ok"
    silence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LenientConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclasses.dataclass
class NoRunIdConfig:
    """A config that forgot the protocol's run_id."""

    seed: int | None = None
    total_steps: int = 20

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoRunIdConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclasses.dataclass(frozen=True, kw_only=True)
class LossyConfig(FixConfig):
    """to_dict() forgets a field, so the round trip loses it."""

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.pop("total_steps")
        return data


class FixRuntime:
    def __init__(self, config: Any, worker_type: str) -> None:
        self.config = config
        self.worker_type = worker_type
        self.run_dir = Path(os.environ.get("MOSAIC_RUN_DIR") or Path("runs", config.run_id))

    def run(self) -> Any:
        c = self.config
        emitter = TelemetryEmitter(c.run_id)
        behavior = c.behavior
        if behavior == "bare_raise":
            emitter.run_started(total_steps=c.total_steps)
            raise RuntimeError("failed without reporting it")
        if behavior == "metrics_first":
            emitter.metrics(0, {"x": 0.0})
        if behavior == "ignore_sigterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with emitter.lifecycle(
            heartbeat_interval=None if behavior == "silent" else 0.2,
            worker_type="kitfix",
            algorithm=c.algorithm,
            env_id=c.env_id,
            seed=c.seed,
            total_steps=c.total_steps,
        ) as run:
            if c.env_id != "Line-v0":
                raise ValueError(f"unknown env_id {c.env_id!r}")
            if behavior == "silent":
                time.sleep(c.silence)
            if behavior == "seq_gap":
                self._raw(emitter, "heartbeat", emitter.seq + 5, {})
            try:
                for step in range(c.total_steps):
                    run.metrics(step, {"charts/episodic_return": float(step)})
                    # A step of work. It also keeps SIGTERM from landing, most of the time,
                    # inside emit(), where it can make the SDK repeat a seq (a known defect).
                    time.sleep(0.01 if behavior == "ignore_sigterm" else 0.002)
            except RunCancelled:
                if behavior != "keep_nothing":
                    self._keep(emitter, c.run_id)
                raise
            checkpoint = "checkpoints/final.json"
            (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            (self.run_dir / checkpoint).write_text(json.dumps({"steps": c.total_steps}))
            if behavior == "missing_checkpoint":
                checkpoint = "checkpoints/never-written.pt"
            if behavior != "no_manifest":
                WorkerAnalyticsManifest(
                    run_id=c.run_id,
                    worker_type=self.worker_type,
                    artifacts=ArtifactsMetadata(
                        checkpoints=CheckpointMetadata(format="json", files=(checkpoint,))
                    ),
                ).save(self.run_dir)
            run.summary.update(steps=c.total_steps)
        if behavior == "two_terminals":
            self._raw(emitter, "run_completed", emitter.seq, {"again": True})
        if behavior == "nodict":
            return [run.summary]
        return run.summary

    def _keep(self, emitter: TelemetryEmitter, run_id: str) -> None:
        """Stopped: save, announce and list a checkpoint, as a worker that keeps its policy."""
        checkpoint = "checkpoints/stopped.json"
        (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (self.run_dir / checkpoint).write_text(json.dumps({"stopped": True}))
        emitter.checkpoint_saved(checkpoint, step=0)
        WorkerAnalyticsManifest(
            run_id=run_id,
            worker_type=self.worker_type,
            artifacts=ArtifactsMetadata(
                checkpoints=CheckpointMetadata(format="json", files=(checkpoint,))
            ),
        ).save(self.run_dir)

    @staticmethod
    def _raw(emitter: TelemetryEmitter, event: str, seq: int, payload: dict[str, Any]) -> None:
        """Write an envelope behind the emitter's back, as a buggy worker would."""
        emitter.flush()
        line = {
            "v": 1,
            "event": event,
            "run_id": emitter.run_id,
            "seq": seq,
            "timestamp": time.time(),
            "payload": payload,
        }
        os.write(int(os.environ["MOSAIC_TELEMETRY_FD"]), (json.dumps(line) + "\n").encode())


class KitOperator:
    """A policy that always picks action 0, loaded from a run's latest checkpoint."""

    def __init__(self, run_dir: str) -> None:
        self.state = json.loads(RunContext.open(run_dir).latest_checkpoint().read_text())

    def reset(self, seed: int | None = None) -> None:
        pass

    def select_action(self, observation: Any, info: Mapping[str, Any]) -> int:
        return 0

    def close(self) -> None:
        pass


def make_spec(worker_type: str, **changes: Any) -> WorkerSpec:
    """A conforming spec for ``worker_type``; ``changes`` replace its fields."""
    fields: dict[str, Any] = {
        "metadata": WorkerMetadata(
            name=f"Kit fixture {worker_type}", version=VERSION, description="a test worker"
        ),
        "capabilities": WorkerCapabilities(worker_type=worker_type, supports_checkpointing=True),
        "config_class": FixConfig,
        "runtime_factory": lambda config: FixRuntime(config, worker_type),
        "smoke_config": {"total_steps": 20},
        "failing_config": {"env_id": "NoSuchLine-v0"},
    }
    fields.update(changes)
    return WorkerSpec(**fields)
