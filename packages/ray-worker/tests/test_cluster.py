"""Runs on an existing Ray cluster: the run joins it, uses it, and never stops it, not even
when it is cancelled.

The head node is this module's own: started on 127.0.0.1 with its own
ports and temporary directory, in a session of its own, and stopped by
signalling that session only. Never ``ray stop``: it stops every Ray on
the machine.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from .conftest import (
    PPO_TINY,
    cancel,
    events,
    process_tree,
    processes_mentioning,
    run_ray,
    start_long_run,
    wait_for_metrics,
    wait_until,
)

ENV_RUNNER = "ray::SingleAgentEnvRunner"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def loopback_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides of a loopback cluster keep Ray from swapping 127.0.0.1 for the external IP."""
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


class Head:
    def __init__(self, process: subprocess.Popen[bytes], address: str, temp_dir: str) -> None:
        self.process = process
        self.address = address
        self.temp_dir = temp_dir

    def services(self) -> set[int]:
        """The pids of the head's own daemons (GCS and raylet executables), found by its
        temporary directory; its worker processes come and go and are not counted."""
        return {
            pid
            for pid, cmd in processes_mentioning(self.temp_dir).items()
            if os.path.basename(cmd.split()[0]) in ("gcs_server", "raylet")
        }

    def job_actors(self) -> dict[int, str]:
        """RLlib actors living in the head's session (its workers are its descendants)."""
        members = process_tree(self.process.pid)
        return {pid: cmd for pid, cmd in processes_mentioning(ENV_RUNNER).items() if pid in members}


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Head]:
    ray = shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray"
    temp_dir = tempfile.mkdtemp(prefix="mosaic-test-head-")  # short: Ray's socket paths
    port = free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}  # fmt: skip
    log = tmp_path_factory.mktemp("head") / "head.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1",
             f"--port={port}", f"--dashboard-agent-listen-port={free_port()}",
             f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
             "--num-cpus=2", "--object-store-memory=134217728", "--include-dashboard=false",
             "--disable-usage-stats", f"--temp-dir={temp_dir}"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    cluster = Head(process, f"127.0.0.1:{port}", temp_dir)
    try:
        if not wait_until(lambda: len(cluster.services()) >= 2 and _answers(port), 90):
            pytest.fail(f"the test's Ray head did not come up:\n{log.read_text()[-3000:]}")
        yield cluster
    finally:
        # Stop this head only: its session holds the `ray start` process, GCS, raylet, workers.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            if wait_until(lambda: not cluster.services(), 15):
                break
        process.wait(10)
        assert not processes_mentioning(temp_dir), "the test's head left processes behind"
        shutil.rmtree(temp_dir, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError:
        return False
    return True


def test_run_joins_the_cluster_and_leaves_it_running(mosaic_home: pathlib.Path, head: Head) -> None:
    before = head.services()
    result = run_ray(
        mosaic_home,
        f"ray_address={head.address}",
        "num_env_runners=1",
        "total_steps=400",
        *PPO_TINY,
    )
    assert result["command_exit"] == 0 and result["status"] == "completed", result
    summary = result["summary"]
    assert summary["ray_address"] == head.address and summary["ray_nodes"] == 1
    assert summary["env_steps"] >= 400
    assert (pathlib.Path(result["run_dir"]) / "checkpoints/final/rllib_checkpoint.json").exists()
    assert events(result)[0]["payload"]["ray_address"] == head.address
    # Every daemon the head had is still there (a loaded head may start one more meanwhile).
    assert before and before <= head.services(), "the run must not stop a cluster it did not start"
    assert wait_until(lambda: not head.job_actors()), head.job_actors()


def test_cancel_on_a_cluster_ends_the_runs_actors_not_the_cluster(
    mosaic_home: pathlib.Path, head: Head
) -> None:
    before = head.services()
    runner = start_long_run(
        mosaic_home, f"ray_address={head.address}", "num_env_runners=1", *PPO_TINY
    )
    wait_for_metrics(mosaic_home, runner)
    assert wait_until(head.job_actors), "the run's env runner should live on the cluster"
    result = cancel(runner)
    assert result["status"] == "cancelled" and result["signal"] != "SIGKILL", result
    stream = events(result)
    assert stream[-1]["event"] == "run_cancelled"
    # The learner's state is kept: RunCancelled came out of Ray's core wrapped in a
    # SystemError here, and is still the cancellation.
    (saved,) = [e["payload"] for e in stream if e["event"] == "checkpoint_saved"]
    assert saved["reason"] == "stopped" and stream[-1]["payload"]["checkpoint"] == saved["path"]
    assert before and before <= head.services()  # the cluster's daemons outlive the run
    assert wait_until(lambda: not head.job_actors()), head.job_actors()


def test_an_address_without_a_head_fails_at_once(mosaic_home: pathlib.Path) -> None:
    started = time.monotonic()
    result = run_ray(mosaic_home, f"ray_address=127.0.0.1:{free_port()}", "total_steps=200")
    assert result["status"] == "failed" and "no Ray head answers" in result["reason"]
    assert time.monotonic() - started < 60
