"""A small worker that misbehaves on purpose, for the supervisor's tests.

Its config field ``behavior`` picks what it does: finish normally, raise,
die by SIGKILL or a segfault, hang without heartbeats, flood telemetry,
write garbage to the telemetry channel, spawn a grandchild that ignores
SIGTERM, exit without a terminal event, or save a checkpoint when stopped
(taking ``stop_sleep`` seconds; ``silent`` also sends no heartbeat).
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import signal
import subprocess
import sys
import time
from typing import Literal

from mosaic_core import (
    RunCancelled,
    RunContext,
    TelemetryEmitter,
    TrainingConfigBase,
    WorkerCapabilities,
    WorkerMetadata,
    WorkerSpec,
    hookimpl,
)

Behavior = Literal[
    "ok", "fail", "sigkill", "segfault", "hang", "flood", "garbage", "grandchild",
    "no_terminal", "slow_start", "exit_nonzero", "save_on_stop",
]  # fmt: skip


@dataclasses.dataclass(frozen=True, kw_only=True)
class FixtureConfig(TrainingConfigBase):
    env_id: str = "Nothing-v0"
    algorithm: str = "count"
    total_steps: int = 20
    behavior: Behavior = "ok"
    step_sleep: float = 0.0
    api_key: str | None = None
    stop_sleep: float = 0.0
    silent: bool = False


class FixtureRuntime:
    def __init__(self, config: FixtureConfig) -> None:
        self.config = config

    def run(self) -> dict[str, object]:
        c = self.config
        emitter = TelemetryEmitter(c.run_id)
        if c.behavior == "slow_start":
            time.sleep(30)
        if c.behavior == "hang":
            emitter.run_started(total_steps=c.total_steps)
            emitter.flush()
            time.sleep(600)
        if c.behavior == "save_on_stop":
            return self._save_on_stop()
        if c.behavior == "no_terminal":
            emitter.run_started(total_steps=c.total_steps)
            emitter.metrics(0, {"x": 1.0})
            emitter.flush()
            os._exit(3)
        with emitter.lifecycle(
            worker_type="fixture", algorithm=c.algorithm, env_id=c.env_id, seed=c.seed,
            total_steps=c.total_steps, heartbeat_interval=0.2,
        ) as run:  # fmt: skip
            if c.behavior == "garbage":
                fd = int(os.environ["MOSAIC_TELEMETRY_FD"])
                emitter.flush()
                os.write(fd, b"not json at all\n\xff\xfe invalid utf8\n")
                os.write(fd, b'{"v": 1, "event": "warp_drive", "run_id": "x", "seq": 99}\n')
                os.write(fd, b"x" * (10 * 1024 * 1024) + b"\n")
            if c.behavior == "grandchild":
                code = (
                    "import signal, time, os; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
                    "open('grandchild.pid', 'w').write(str(os.getpid())); time.sleep(600)"
                )
                subprocess.Popen([sys.executable, "-c", code])
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                time.sleep(600)
            for step in range(c.total_steps):
                run.metrics(step, {"charts/episodic_return": float(step), "seed": c.seed or 0})
                if c.step_sleep:
                    time.sleep(c.step_sleep)
                if c.behavior == "sigkill" and step == c.total_steps // 2:
                    emitter.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                if c.behavior == "segfault" and step == c.total_steps // 2:
                    emitter.flush()
                    ctypes.string_at(0)
            if c.behavior == "fail":
                raise RuntimeError("the fixture failed on purpose")
            if c.behavior == "exit_nonzero":
                sys.exit(4)
            run.summary.update(steps=c.total_steps, secret_seen=c.api_key is not None)
        return run.summary

    def _save_on_stop(self) -> dict[str, object]:
        """Work until stopped; then save for ``stop_sleep`` seconds and record a checkpoint."""
        c = self.config
        context = RunContext.from_environment(c.run_id, "fixture", "0.0.1")
        with context.lifecycle(heartbeat_interval=None if c.silent else 0.2) as run:
            step = 0
            try:
                for step in range(c.total_steps):
                    if not c.silent:
                        run.metrics(step, {"x": float(step)})
                    time.sleep(c.step_sleep)
            except RunCancelled:
                time.sleep(c.stop_sleep)
                path = context.path("checkpoints", "stopped.json")
                path.parent.mkdir(exist_ok=True)
                path.write_text(str(context.stop_grace))
                context.record_checkpoint(path, step=step, format="json")
                raise
        return run.summary


@hookimpl
def mosaic_register_workers(register):  # type: ignore[no-untyped-def]
    register(
        WorkerSpec(
            metadata=WorkerMetadata(name="Fixture worker", version="0.0.1"),
            capabilities=WorkerCapabilities(worker_type="fixture"),
            config_class=FixtureConfig,
            runtime_factory=FixtureRuntime,
            smoke_config={"total_steps": 5},
        )
    )
