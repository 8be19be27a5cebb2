"""The relay loses and doubles nothing when batches go missing on the way home, and
``mosaic pull`` brings a running run's checkpoints home on request."""

from __future__ import annotations

import importlib
import pathlib
import signal
from typing import Any

import pytest

from mosaic_core.plugins import discover_workers
from mosaic_core.runs import RunStore, Supervisor, prepare_runs
from mosaic_ray_launcher.plugin import check
from mosaic_ray_launcher.relay import Streams
from mosaic_ray_launcher.run import RayRun

from .conftest import LocalCluster, events, mosaic, placement, ray_args, start, wait_until


def test_batches_lost_on_the_way_home_are_asked_for_again(
    cluster: LocalCluster, home: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch in three never reaches the home file, one answer in five is Ray's "actor
    unavailable": the home copy still equals the node's byte for byte, and the index holds
    every event once."""
    import ray

    monkeypatch.syspath_prepend(str(cluster.nap))
    importlib.invalidate_caches()
    spec = discover_workers(load=["nap"]).runnable("nap")
    options = check({"address": cluster.address, "node_dir": str(cluster.node_dir),
                     "keep_on_node": True}, spec.capabilities)  # fmt: skip
    arrived, appended = RayRun._arrived, Streams.append
    calls = {"arrived": 0, "append": 0, "dropped": 0, "unavailable": 0}

    def flaky_arrival(self: Any, result: dict[str, Any], *, next_read: bool) -> bool:
        calls["arrived"] += 1
        if calls["arrived"] % 5 == 0 and result["exit"] is None:
            calls["unavailable"] += 1
            raise ray.exceptions.ActorUnavailableError("the test's hiccup", None)
        return bool(arrived(self, result, next_read=next_read))

    def lossy_append(self: Any, chunks: list[bytes]) -> int:
        calls["append"] += 1
        if calls["append"] % 3 == 0 and any(chunks):
            calls["dropped"] += 1
            return 0  # read on the node, never written here
        return int(appended(self, chunks))

    monkeypatch.setattr(RayRun, "_arrived", flaky_arrival)
    monkeypatch.setattr(Streams, "append", lossy_append)
    with RunStore(home) as store:
        (prepared,) = prepare_runs(
            store, "nap", spec, {"total_steps": 400, "step_seconds": 0.005},
            launcher="ray", launcher_options=options,
        )  # fmt: skip
        supervisor = Supervisor(store, parallel=1)
        supervisor.submit(prepared.launch)
        result = supervisor.wait()[prepared.run_id]
        assert result.status == "completed", result
        run_dir = store.run_dir(prepared.run_id)
        node_dir = pathlib.Path(placement(run_dir)["node_run_dir"])
        try:
            assert calls["dropped"] >= 2 and calls["unavailable"] >= 1, calls
            for stream in ("events.jsonl", "stdout.log", "stderr.log"):
                assert (run_dir / stream).read_bytes() == (node_dir / stream).read_bytes()
            stream = events(run_dir)
            assert [e["seq"] for e in stream] == list(range(len(stream)))
            kinds = [e["event"] for e in stream if e["event"] != "heartbeat"]
            assert kinds == ["run_started", *["metrics"] * 400, "checkpoint_saved", "run_completed"]
            assert store.get(prepared.run_id)["events"] == len(stream)
            assert store.anomalies(prepared.run_id) == []
        finally:
            import shutil

            shutil.rmtree(node_dir, ignore_errors=True)
    assert not ray.is_initialized(), "the supervisor leaves the cluster when it is done"


def test_pull_brings_a_running_runs_checkpoints_home(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    runner = start(
        home, "run", "nap", "--set", "total_steps=100000", "--set", "step_seconds=0.05",
        "--set", "checkpoint_every=10", "--json", *ray_args(cluster), cluster=cluster,
    )  # fmt: skip
    try:
        runs = home / "runs"
        assert wait_until(lambda: runs.is_dir() and any(runs.iterdir()), 60)
        (run_dir,) = list(runs.iterdir())

        def saved_on_node() -> bool:
            where = (
                placement(run_dir).get("node_run_dir")
                if (run_dir / "placement.json").exists()
                else None
            )
            return bool(where) and (pathlib.Path(where) / "checkpoints" / "step_20.json").exists()

        assert wait_until(saved_on_node, 120), "the run saved no checkpoint on its node"
        assert not (run_dir / "checkpoints" / "step_20.json").exists()
        pulled = mosaic(home, "pull", run_dir.name, cluster=cluster, timeout=120)
        assert pulled.returncode == 0, pulled.stderr
        assert "it is still running" in pulled.stdout
        assert (run_dir / "checkpoints" / "step_20.json").is_file()
    finally:
        runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=120)
    assert runner.returncode == 130, err[-2000:]
    assert events(run_dir)[-1]["event"] == "run_cancelled"
