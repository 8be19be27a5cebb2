"""Fixtures for the operator tests: operator processes on real pipes, a worker with an operator."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent

OPTOY_PLUGIN = '''
"""A worker whose operator plays the action written in its checkpoint directory."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from mosaic_core import (
    TrainingConfigBase, WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl, serve_main,
)


@dataclass(frozen=True, kw_only=True)
class OpToyConfig(TrainingConfigBase):
    env_id: str = "CartPole-v1"
    algorithm: str = "fixed"
    total_steps: int = 1


class FixedOperator:
    """Always the same action, read from ``policy.json``; ``boom`` makes loading fail."""

    def __init__(self, checkpoint, **options):
        if options.get("boom"):
            raise RuntimeError("optoy: this checkpoint cannot be loaded")
        with open(os.path.join(checkpoint, "policy.json")) as handle:
            self.action = json.load(handle)["action"]
        self.checkpoint = checkpoint
        self.options = options
        self.seeds = []

    def reset(self, seed=None):
        self.seeds.append(seed)

    def select_action(self, observation, info):
        return self.options.get("action", self.action)

    def close(self):
        pass


class CrashingRuntime:
    """Publishes a frame to a fastlane ring named after its run, then dies by SIGKILL."""

    def __init__(self, config):
        self.config = config

    def run(self):
        import signal

        from mosaic_core._fastlane import FastlaneWriter, segment_name

        writer = FastlaneWriter.create(segment_name(self.config.run_id), width=2, height=2)
        writer.publish(bytes(12))
        print(writer.name, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


SPEC = WorkerSpec(
    metadata=WorkerMetadata(name="Operator toy", version="0.1.0"),
    capabilities=WorkerCapabilities(worker_type="optoy"),
    config_class=OpToyConfig,
    runtime_factory=CrashingRuntime,
    operator_factory=FixedOperator,
)


@hookimpl
def mosaic_register_workers(register):
    register(SPEC)


if __name__ == "__main__":
    raise SystemExit(serve_main(SPEC))
'''


def _write_plugin(root: Path) -> None:
    info = root / "mosaic_test_optoy-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mosaic-test-optoy\nVersion: 0.1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[mosaic.workers]\noptoy = mosaictest_optoy\n", encoding="utf-8"
    )
    (root / "mosaictest_optoy.py").write_text(
        textwrap.dedent(OPTOY_PLUGIN).lstrip(), encoding="utf-8"
    )


@pytest.fixture(scope="session")
def optoy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("optoy")
    _write_plugin(root)
    return root


@pytest.fixture
def op_env(
    tmp_path: Path, optoy_dir: Path, clean_env: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """This process and its operator children: test envs and the optoy worker importable,
    a private MOSAIC_HOME, no display."""
    paths = [str(HERE), str(optoy_dir)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    clean_env.setenv("PYTHONPATH", os.pathsep.join(paths))
    clean_env.setenv("MOSAIC_HOME", str(tmp_path / "home"))
    clean_env.setenv("SDL_VIDEODRIVER", "dummy")
    clean_env.syspath_prepend(str(HERE))
    clean_env.syspath_prepend(str(optoy_dir))
    yield dict(os.environ)
    sys.modules.pop("mosaictest_optoy", None)


@pytest.fixture
def spawn(op_env: dict[str, str]) -> Iterator[Any]:
    """``spawn(operators, env, **kw)``: an OperatorClient on a fresh operator process."""
    from mosaic_core.operators import OperatorClient

    started: list[OperatorClient] = []

    def start(operators: Any, env: str | None = "mosaictest_envs:counting", **kw: Any) -> Any:
        kw.setdefault("timeout", 20.0)
        kw.setdefault("environ", op_env)
        client = OperatorClient.spawn(operators, env, **kw)
        started.append(client)
        return client

    yield start
    for client in started:
        client.close(timeout=2.0)
