"""A sweep sent to the cluster comes home equal to the same sweep run on this machine.

Eight bandit runs (the docs' example worker) and two short CleanRL PPO runs
go to the cluster with ``--launcher ray``, and the same runs, same seeds,
run here with the local launcher. Each run must land on a node of the
cluster (its ``placement.json`` names the node's resources), the sweep
must use both nodes, and each run's home directory must hold what the local
one holds: the same events in the same order with a gap-free ``seq``, the
same summary, the same checkpoint files byte for byte and the same
manifest. Set aside: timestamps, run ids, process ids, heartbeats (sent
every 5 s of wall-clock time) and CleanRL's ``charts/SPS`` (steps per
second of wall-clock time), which no two runs share; values of one step count
once whether they came in one metrics event or several.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import pytest

from .conftest import LocalCluster, events, mosaic, node_of, ray_args, results

BANDIT = ["--set", "total_steps=3000", "--set", "log_every=100", "--seeds", "1,2,3,4,5,6,7,8"]
CLEANRL = ["--set", "algorithm=ppo", "--set", "env_id=CartPole-v1", "--set", "total_steps=1024",
           "--set", "num_steps=256", "--seeds", "1,2"]  # fmt: skip
TIMED = {"charts/SPS"}  # a rate of wall-clock time


def comparable(run_dir: pathlib.Path) -> dict[str, Any]:
    """What must be equal between the same run here and on the cluster."""
    stream = events(run_dir)
    assert [e["seq"] for e in stream] == list(range(len(stream))), "seq with gaps or doubles"
    kept = []
    for event in stream:
        if event["event"] == "heartbeat":
            continue
        payload = dict(event["payload"])
        payload.pop("pid", None)
        if event["event"] == "metrics":
            payload["values"] = {k: v for k, v in payload["values"].items() if k not in TIMED}
            last = kept[-1] if kept else None
            if last and last[0] == "metrics" and last[1].get("step") == payload.get("step"):
                # Values of one step may come in one event or several (the CleanRL worker
                # sends what the script logged once it is idle for a moment of wall-clock
                # time): one entry here.
                last[1]["values"].update(payload["values"])
                continue
        if isinstance(payload.get("final_metrics"), dict):
            payload["final_metrics"] = {
                k: v for k, v in payload["final_metrics"].items() if k not in TIMED
            }
        kept.append((event["event"], payload))
    run_id = stream[0]["run_id"]
    manifest = json.loads((run_dir / "analytics.json").read_text().replace(run_id, "RUN"))
    checkpoints = {
        p.relative_to(run_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((run_dir / "checkpoints").rglob("*"))
        if p.is_file()
    }
    return {"events": kept, "manifest": manifest, "checkpoints": checkpoints}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    kept = dict(result["summary"] or {})
    if isinstance(kept.get("final_metrics"), dict):
        kept["final_metrics"] = {k: v for k, v in kept["final_metrics"].items() if k not in TIMED}
    return kept


def by_seed(runs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    out = {}
    for run in runs:
        config = json.loads((pathlib.Path(run["run_dir"]) / "config.json").read_text())
        out[config["seed"]] = run
    return out


def sweep_both_ways(
    cluster: LocalCluster, tmp_path: pathlib.Path, worker: str, args: list[str]
) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    there = mosaic(tmp_path / "there", "run", worker, *args, "--json", *ray_args(cluster),
                   cluster=cluster)  # fmt: skip
    here = mosaic(tmp_path / "here", "run", worker, *args, "--json", cluster=cluster)
    assert there.returncode == 0, there.stderr[-3000:]
    assert here.returncode == 0, here.stderr[-3000:]
    return by_seed(results(there)), by_seed(results(here))


def assert_equal_runs(there: dict[int, Any], here: dict[int, Any]) -> None:
    assert sorted(there) == sorted(here)
    for seed in there:
        remote, local = there[seed], here[seed]
        assert remote["status"] == local["status"] == "completed", (remote, local)
        assert summary(remote) == summary(local), seed
        a = comparable(pathlib.Path(remote["run_dir"]))
        b = comparable(pathlib.Path(local["run_dir"]))
        assert a["events"] == b["events"], f"seed {seed}: the events differ"
        assert a["checkpoints"] == b["checkpoints"] and a["checkpoints"], seed
        assert a["manifest"] == b["manifest"], seed


def test_a_bandit_sweep_spreads_over_the_nodes_and_comes_home_as_run_here(
    cluster: LocalCluster, tmp_path: pathlib.Path
) -> None:
    there, here = sweep_both_ways(cluster, tmp_path, "bandit", BANDIT)
    assert len(there) == 8
    nodes = {seed: node_of(run["run_dir"]) for seed, run in there.items()}
    assert set(nodes.values()) == {"node_a", "node_b"}, nodes  # spread, and only on them
    assert_equal_runs(there, here)
    # Everything came home, and the nodes keep nothing of these runs (a node removed by
    # another test keeps its runs' directories, as a dead machine keeps its disk).
    for run in there.values():
        assert not list(cluster.node_dir.glob(f"*/{pathlib.Path(run['run_dir']).name}*")), run


def test_cleanrl_runs_on_the_cluster_come_home_as_run_here(
    cluster: LocalCluster, tmp_path: pathlib.Path
) -> None:
    pytest.importorskip("cleanrl", reason="CleanRL itself comes from mosaic-cleanrl-setup")
    there, here = sweep_both_ways(cluster, tmp_path, "cleanrl", CLEANRL)
    assert {node_of(run["run_dir"]) for run in there.values()} <= {"node_a", "node_b"}
    assert_equal_runs(there, here)
    for run in there.values():  # CleanRL's own TensorBoard files came home too
        assert list((pathlib.Path(run["run_dir"]) / "tensorboard").glob("events.out.tfevents.*"))
