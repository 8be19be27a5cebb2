"""The bandit worker against the SDK: discovery, config, and real runs in a child process.

The tests use the platform's public faces where they need it: ``mosaic_core.plugins``
to discover the worker, ``mosaic_core.runs`` to read its telemetry, and
``mosaic_core.testing`` to run it as ``mosaic run`` does, in the private ``MOSAIC_HOME``
of the ``mosaic_home`` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mosaic_core import (
    ConfigError,
    ManifestError,
    RunContext,
    WorkerAnalyticsManifest,
    load_worker_config,
)
from mosaic_core.plugins import discover_workers
from mosaic_core.runs import TelemetryEvent, TelemetryReader
from mosaic_core.testing import run_json

from mosaic_bandit.config import BanditConfig
from mosaic_bandit.operator import BanditOperator
from mosaic_bandit.plugin import SPEC

HERE = Path(__file__).resolve().parent.parent


def run_worker_process(args: list[str], run_dir: Path) -> tuple[int, list[TelemetryEvent], str]:
    """Start a worker as its launcher would; read its telemetry from a dedicated pipe."""
    read_fd, write_fd = os.pipe()
    env = dict(
        os.environ,
        MOSAIC_RUN_ID="bandit-test",
        MOSAIC_RUN_DIR=str(run_dir),
        MOSAIC_TELEMETRY_FD=str(write_fd),
    )
    child = subprocess.Popen(
        [sys.executable, *args], env=env, pass_fds=(write_fd,), stderr=subprocess.PIPE
    )
    os.close(write_fd)
    reader = TelemetryReader(expected_run_id="bandit-test")
    items = []
    with os.fdopen(read_fd, "rb") as channel:
        while chunk := channel.read1(1 << 16):
            items += reader.feed(chunk)
    items += reader.close()
    stderr = child.stderr.read().decode() if child.stderr else ""
    status = child.wait()
    assert all(isinstance(item, TelemetryEvent) for item in items), items
    assert reader.gaps == []
    return status, items, stderr  # type: ignore[return-value]


def test_entry_point_is_discovered() -> None:
    found = discover_workers(load=["bandit"])
    assert found.workers["bandit"].status == "ok"
    assert found.runnable("bandit") is SPEC


def test_plugin_module_imports_nothing_heavy() -> None:
    code = "import sys, mosaic_bandit.plugin; print('mosaic_bandit.runtime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_direct_and_nested_configs_load_the_same() -> None:
    direct = load_worker_config(HERE / "config.json", BanditConfig)
    nested = load_worker_config(HERE / "config-nested.json", BanditConfig)
    assert direct == nested
    assert BanditConfig.from_dict(direct.to_dict()) == direct


def test_bad_config_names_field_value_and_expectation() -> None:
    with pytest.raises(ConfigError, match=r"'epsilon': got 2.0 \(float\); expected a number >="):
        BanditConfig.from_dict({"run_id": "r", "epsilon": 2})
    with pytest.raises(ConfigError, match="did you mean 'epsilon'"):
        BanditConfig.from_dict({"run_id": "r", "epsilom": 0.2})
    with pytest.raises(ConfigError, match=r"'arm_means\[1\]': got 1.5"):
        BanditConfig.from_dict({"run_id": "r", "arm_means": [0.5, 1.5]})
    with pytest.raises(ConfigError, match="at most total_steps"):
        BanditConfig.from_dict({"run_id": "r", "total_steps": 50, "log_every": 100})


@pytest.mark.parametrize(
    "launch",
    [
        ["-m", "mosaic_core.worker_main", "--worker", "bandit", "--config"],
        ["-m", "mosaic_bandit", "--config"],
    ],
    ids=["worker_main", "console_module"],
)
def test_run_completes_with_checkpoint_and_manifest(launch: list[str], tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"seed": 1, "total_steps": 500}))
    status, events, stderr = run_worker_process([*launch, str(config)], tmp_path)
    assert status == 0, stderr
    names = [e.event for e in events]
    assert names[0] == "run_started"
    assert names[-2:] == ["checkpoint_saved", "run_completed"]
    assert names.count("metrics") == 5
    assert events[0].payload["total_steps"] == 500
    assert events[-1].payload["best_arm"] == 2
    manifest = WorkerAnalyticsManifest.load(tmp_path)
    assert manifest.worker_type == "bandit"
    assert manifest.missing_files(tmp_path) == []


def test_bad_config_fails_the_run_with_exit_status_2(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"epsilon": 2}))
    launch = ["-m", "mosaic_core.worker_main", "--worker", "bandit", "--config", str(config)]
    status, events, stderr = run_worker_process(launch, tmp_path)
    assert status == 2
    assert [e.event for e in events] == ["run_failed"]
    assert events[0].payload["field"] == "epsilon"
    assert "Traceback" not in stderr


def test_mosaic_run_trains_and_the_operator_plays_the_best_arm(mosaic_home: Path) -> None:
    code, result, stderr = run_json("bandit", "total_steps=500", "seed=1")
    assert code == 0 and result["status"] == "completed", stderr
    run = RunContext.open(result["run_dir"])
    assert run.latest_checkpoint().name == "final.json"
    assert run.metadata["algorithm"] == "epsilon_greedy"
    assert BanditOperator(result["run_dir"]).select_action(None, {}) == 2


def test_an_unknown_bandit_fails_the_run_naming_env_id(mosaic_home: Path) -> None:
    code, result, _ = run_json("bandit", "env_id=NoSuchBandit-v0")
    assert code == 2 and result["status"] == "failed" and "env_id" in result["reason"]
    with pytest.raises(ManifestError, match="has no checkpoint"):
        BanditOperator(result["run_dir"])
