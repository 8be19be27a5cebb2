"""What happens to runs when a node dies, or lacks the worker: exactly its runs fail (or start
again elsewhere with ``--retries``), and a node without the worker fails its run at once.

The nap worker's runs last without using CPU, so three nodes can hold six of
them while one node is removed (its raylet and every process on it killed at
once, as when a machine dies).
"""

from __future__ import annotations

import json
import pathlib
import signal
import time

from .conftest import (
    LocalCluster,
    agents,
    events,
    install_nap,
    mosaic,
    node_of,
    parse_results,
    placement,
    ray_args,
    results,
    run_processes,
    start,
    wait_until,
)

SEEDS = "1,2,3,4,5,6"


def run_dirs(home: pathlib.Path) -> list[pathlib.Path]:
    root = home / "runs"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def all_running(home: pathlib.Path, count: int) -> bool:
    """``count`` runs, each placed on a node and past its first metrics event."""
    dirs = run_dirs(home)
    return (
        len(dirs) == count
        and all(
            "node_id" in placement(d) and b'"event":"metrics"' in (d / "events.jsonl").read_bytes()
            for d in dirs
            if (d / "placement.json").exists()
        )
        and all((d / "placement.json").exists() for d in dirs)
    )


def sweep_losing_node_c(
    cluster: LocalCluster, home: pathlib.Path, *more: str
) -> tuple[list[dict[str, object]], dict[str, str]]:
    """Six nap runs over node_a, node_b and a node_c that is removed once all run."""
    cluster.add("node_c")
    runner = start(
        home, "run", "nap", "--set", "total_steps=150", "--set", "step_seconds=0.1",
        "--seeds", SEEDS, "--json", *ray_args(cluster, *more), cluster=cluster,
    )  # fmt: skip
    try:
        assert wait_until(lambda: all_running(home, 6), 120), "the six runs never all ran"
        where = {d.name: node_of(d) for d in run_dirs(home)}
        assert "node_c" in where.values(), f"no run went to node_c: {where}"
        cluster.remove("node_c")
        out, err = runner.communicate(timeout=180)
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGINT)
            runner.communicate(timeout=120)
        if "node_c" in cluster.nodes:
            cluster.remove("node_c")
    return parse_results(out, err), where


def test_removing_a_node_fails_exactly_its_runs_with_node_lost(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    runs, where = sweep_losing_node_c(cluster, home)
    for run in runs:
        run_id = str(run["run_id"])
        if where[run_id] == "node_c":
            assert run["status"] == "failed", run
            assert str(run["reason"]).startswith("node_lost: node "), run
            stream = events(str(run["run_dir"]))
            assert stream[0]["event"] == "run_started"  # what came home before stays home
        else:
            assert run["status"] == "completed" and run["reason"] is None, run
        assert not run_processes(run_id), "a process of the run outlived it"
    assert wait_until(lambda: not agents(), 30), agents()


def test_retries_start_exactly_the_lost_runs_again_elsewhere(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    runs, where = sweep_losing_node_c(cluster, home, "--retries", "1")
    lost = {run_id for run_id, node in where.items() if node == "node_c"}
    for run in runs:
        run_dir = pathlib.Path(str(run["run_dir"]))
        assert run["status"] == "completed", run
        stream = events(run_dir)
        # One whole attempt in events.jsonl: seq 0.., one run_started, one terminal event.
        assert [e["seq"] for e in stream] == list(range(len(stream)))
        assert [e["event"] for e in stream].count("run_started") == 1
        assert stream[-1]["event"] == "run_completed"
        if run["run_id"] in lost:
            assert node_of(run_dir) in ("node_a", "node_b")  # elsewhere this time
            lost_attempt = run_dir / "attempts" / "0"
            assert events(lost_attempt)[0]["event"] == "run_started"
            assert json.loads((lost_attempt / "placement.json").read_text())["failure"].startswith(
                "node_lost"
            )
        else:
            assert not (run_dir / "attempts").exists(), "a run that was not lost started again"
    assert lost


def test_a_node_without_the_worker_fails_its_run_at_once_naming_it(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    cluster.add("bare", cpus=1, nap=False)
    try:
        started = time.monotonic()
        done = mosaic(
            home, "run", "nap", "--json", *ray_args(cluster, "--resources", "CPU=1,bare=1"),
            cluster=cluster, timeout=120,
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        cluster.remove("bare")
    (run,) = results(done)
    assert done.returncode == 1
    assert run["status"] == "failed", run
    reason = str(run["reason"])
    assert reason.startswith("launch_failed: worker 'nap' needs mosaic-nap-worker 0.1.0, which is")
    assert "not installed on node " in reason and "pip install 'mosaic-nap-worker==0.1.0'" in reason
    assert took < 60, f"the run took {took:.0f} s to fail"
    assert events(str(run["run_dir"])) == []  # no worker ever started
    assert not run_processes(str(run["run_id"]))
    assert wait_until(lambda: not agents(), 30), agents()


def test_a_worker_shipped_with_the_runs_working_dir_runs_on_a_node_without_it(
    cluster: LocalCluster, home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Ray's runtime_env working_dir carries the worker (its package and dist-info) to the
    node, which has neither; the run completes there."""
    shipped = install_nap(tmp_path / "shipped")
    cluster.add("bare", cpus=1, nap=False)
    try:
        runtime_env = json.dumps({"working_dir": str(shipped)})
        done = mosaic(
            home, "run", "nap", "--json", *ray_args(
                cluster, "--resources", "CPU=1,bare=1",
                "--launcher-option", f"runtime_env={runtime_env}",
            ), cluster=cluster, timeout=240,
        )  # fmt: skip
    finally:
        cluster.remove("bare")
    (run,) = results(done)
    assert run["status"] == "completed", (run, done.stderr[-3000:])
    assert node_of(str(run["run_dir"])) == "bare"
    stream = events(str(run["run_dir"]))
    assert stream[0]["event"] == "run_started" and stream[-1]["event"] == "run_completed"
    assert wait_until(lambda: not agents(), 30), agents()


def test_cancel_mid_run_leaves_nothing_running_on_any_node(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    runner = start(
        home, "run", "nap", "--set", "total_steps=100000", "--set", "step_seconds=0.05",
        "--json", *ray_args(cluster), cluster=cluster,
    )  # fmt: skip
    try:
        assert wait_until(lambda: all_running(home, 1), 120), "the run never ran"
        (run_dir,) = run_dirs(home)
        assert run_processes(run_dir.name), "the run's keeper and worker should be running"
        cancel = mosaic(home, "cancel", run_dir.name, cluster=cluster, timeout=60)
        assert cancel.returncode == 0, cancel.stderr
        out, err = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGINT)
            runner.communicate(timeout=120)
    (run,) = parse_results(out, err)
    assert run["status"] == "cancelled" and run["reason"] == "cancelled", run
    assert run["signal"] is None, "the worker had to be killed: SIGTERM did not stop it"
    stream = events(run_dir)
    assert stream[-1]["event"] == "run_cancelled"
    assert stream[-2]["event"] == "checkpoint_saved"  # saved on SIGTERM, and brought home
    assert (run_dir / stream[-2]["payload"]["path"]).is_file()
    assert not run_processes(run_dir.name), run_processes(run_dir.name)
    assert wait_until(lambda: not agents(), 30), agents()
    assert not list(cluster.node_dir.rglob(run_dir.name))


def test_a_run_outlives_its_home_and_a_later_mosaic_runs_brings_it_home(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    runner = start(
        home, "run", "nap", "--set", "total_steps=60", "--set", "step_seconds=0.1",
        "--json", *ray_args(cluster), cluster=cluster,
    )  # fmt: skip
    try:
        assert wait_until(lambda: all_running(home, 1), 120), "the run never ran"
        runner.kill()  # the home side dies at once: no cancel, nothing flushed
        runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    (run_dir,) = run_dirs(home)
    node_dir = pathlib.Path(placement(run_dir)["node_run_dir"])
    before = len(events(run_dir))
    pulled = mosaic(home, "pull", run_dir.name, cluster=cluster, timeout=120)
    assert pulled.returncode == 0 and "it is still running" in pulled.stdout, pulled
    assert len(events(run_dir)) > before  # nobody supervises it: pull brings telemetry too
    # The run goes on on its node and writes its whole stream there.
    assert wait_until(lambda: (node_dir / "exit.json").exists(), 120), "the run did not go on"
    on_node = events(node_dir)
    assert len(events(run_dir)) < len(on_node)  # home had only the beginning
    shown = mosaic(home, "runs", "--json", cluster=cluster, timeout=120)
    (row,) = json.loads(shown.stdout)
    assert row["status"] == "completed" and row["reason"] == "supervisor_lost", row
    stream = events(run_dir)
    assert stream == on_node  # the whole stream, nothing doubled
    assert [e["seq"] for e in stream] == list(range(len(stream)))
    assert stream[-1]["event"] == "run_completed" and row["events"] == len(stream)
    assert (run_dir / "checkpoints" / "step_60.json").is_file()
    assert not node_dir.exists() and wait_until(lambda: not agents(), 30)


def test_cancelling_a_run_whose_home_died_stops_it_on_its_node_and_brings_it_home(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    runner = start(
        home, "run", "nap", "--set", "total_steps=100000", "--set", "step_seconds=0.05",
        "--json", *ray_args(cluster), cluster=cluster,
    )  # fmt: skip
    try:
        assert wait_until(lambda: all_running(home, 1), 120), "the run never ran"
        runner.kill()  # the home side dies at once: nobody supervises the run now
        runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    (run_dir,) = run_dirs(home)
    node_dir = pathlib.Path(placement(run_dir)["node_run_dir"])
    assert run_processes(run_dir.name), "the run should go on without its home"
    cancel = mosaic(home, "cancel", run_dir.name, cluster=cluster, timeout=120)
    assert cancel.returncode == 0 and f"cancelled {run_dir.name} (cancelled)" in cancel.stdout
    assert wait_until(lambda: not run_processes(run_dir.name), 20), run_processes(run_dir.name)
    stream = events(run_dir)
    assert [e["seq"] for e in stream] == list(range(len(stream)))
    assert stream[-1]["event"] == "run_cancelled"  # the worker's last words came home
    assert (run_dir / stream[-2]["payload"]["path"]).is_file()  # its checkpoint too
    assert not node_dir.exists() and wait_until(lambda: not agents(), 30), agents()
