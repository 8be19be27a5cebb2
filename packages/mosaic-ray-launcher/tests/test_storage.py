"""With a shared storage, the runs' checkpoints are written there as they go, not copied
home; the run's directory at home links to them and its manifest says where each lives.

The tests' nodes run on this machine, so a directory under the cluster's root
is mounted at the same path on every node and at home, as an NFS or EFS
mount is on a real cluster.
"""

from __future__ import annotations

import json
import pathlib
import signal

from .conftest import (
    LocalCluster,
    agents,
    events,
    mosaic,
    parse_results,
    placement,
    ray_args,
    results,
    run_processes,
    start,
    wait_until,
)


def test_checkpoints_are_written_to_the_storage_and_the_manifest_says_where(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    shared = cluster.root / "shared"
    shared.mkdir(exist_ok=True)
    done = mosaic(
        home, "run", "nap", "--set", "total_steps=12", "--set", "step_seconds=0.01",
        "--set", "checkpoint_every=4", "--seeds", "1,2", "--json",
        *ray_args(cluster, "--launcher-option", f"storage={shared.as_uri()}"), cluster=cluster,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for run in results(done):
        run_dir = pathlib.Path(run["run_dir"])
        assert run["status"] == "completed", run
        stored = shared / run_dir.name / "checkpoints"
        saved = sorted(p.name for p in stored.iterdir())
        assert saved == ["step_12.json", "step_4.json", "step_8.json"]
        assert placement(run_dir)["storage"] == str(shared / run_dir.name)
        # Home links to the storage: nothing was copied, every checkpoint is readable there.
        assert (run_dir / "checkpoints").is_symlink()
        assert (run_dir / "checkpoints").resolve() == stored.resolve()
        manifest = json.loads((run_dir / "analytics.json").read_text())
        where = manifest["metadata"]["mosaic_storage"]
        assert where["checkpoints"] == stored.as_uri()
        assert set(where) == {"checkpoints", "tensorboard", "videos"}
        files = manifest["artifacts"]["checkpoints"]["files"]
        assert files and all((run_dir / f).is_file() for f in files)
        saved_events = [e for e in events(run_dir) if e["event"] == "checkpoint_saved"]
        assert {e["payload"]["path"] for e in saved_events} == {
            f"checkpoints/step_{n}.json" for n in (4, 8, 12)
        }
        assert all((run_dir / e["payload"]["path"]).is_file() for e in saved_events)
    assert not list(cluster.node_dir.rglob("analytics.json")), "the nodes kept a run"
    assert wait_until(lambda: not agents(), 30), agents()


def test_a_storage_the_node_cannot_write_fails_the_run_at_once_naming_it(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    unwritable = "/proc/mosaic-storage"  # absolute, so accepted at home; nobody can make it
    done = mosaic(
        home, "run", "nap", "--json",
        *ray_args(cluster, "--launcher-option", f"storage={unwritable}"), cluster=cluster,
        timeout=120,
    )  # fmt: skip
    (run,) = results(done)
    assert done.returncode == 1 and run["status"] == "failed", run
    reason = str(run["reason"])
    assert reason.startswith(f"launch_failed: the shared storage {unwritable} cannot be written")
    assert "mounted at the same path on every node" in reason
    assert events(str(run["run_dir"])) == []  # no worker ever started
    assert wait_until(lambda: not agents(), 30), agents()


def test_what_a_run_saved_there_outlives_its_node(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    shared = cluster.root / "shared"
    shared.mkdir(exist_ok=True)
    cluster.add("node_c")
    runner = start(
        home, "run", "nap", "--set", "total_steps=100000", "--set", "step_seconds=0.05",
        "--set", "checkpoint_every=5", "--json",
        *ray_args(cluster, "--resources", "CPU=1,node_c=1",
                  "--launcher-option", f"storage={shared}"), cluster=cluster,
    )  # fmt: skip
    try:
        assert wait_until(lambda: list(shared.glob("*/checkpoints/step_10.json")), 120)
        cluster.remove("node_c")
        out, err = runner.communicate(timeout=180)
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGINT)
            runner.communicate(timeout=120)
        if "node_c" in cluster.nodes:
            cluster.remove("node_c")
    (run,) = parse_results(out, err)
    run_dir = pathlib.Path(run["run_dir"])
    assert run["status"] == "failed" and str(run["reason"]).startswith("node_lost: "), run
    kept = sorted((shared / run_dir.name / "checkpoints").iterdir())
    assert kept and (run_dir / "checkpoints" / "step_10.json").is_file()
    assert (run_dir / "checkpoints").resolve() == (shared / run_dir.name / "checkpoints").resolve()
    # Its keeper died with the node's processes; the worker did not go on without it.
    assert wait_until(lambda: not run_processes(run_dir.name), 20), run_processes(run_dir.name)
    assert wait_until(lambda: not agents(), 30), agents()
