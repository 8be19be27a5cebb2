"""``mosaic run --launcher ray`` refuses what cannot work before any run exists (exit 2, one
line naming the option), takes ``$RAY_ADDRESS``, and sends a run where ``--resources`` says."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import sys

import pytest

from mosaic_core.runs import RunStore

from .conftest import LocalCluster, mosaic, node_of, ray_args, results


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "--launcher ray needs the cluster's address: --address HOST:PORT"),
        (("--address", "ray://10.0.0.5:10001"), "a Ray Client address"),
        (("--address", "127.0.0.1:{port}"), "no Ray head answers there"),
        (
            ("--address", "{cluster}", "--launcher-option", "scheduling=PACK"),
            "scheduling='PACK': expected one of SPREAD, DEFAULT",
        ),
        (
            ("--address", "{cluster}", "--launcher-option", "namespce=x"),
            "launcher 'ray' has no such option (did you mean 'namespace'?)",
        ),
        (
            ("--address", "{cluster}", "--launcher-option", "runtime_env=[1]"),
            "runtime_env=[1]: expected a JSON object",
        ),
        (
            ("--address", "{cluster}", "--launcher-option", "storage=s3://bucket/runs"),
            "storage='s3://bucket/runs': only a directory every node mounts is supported",
        ),
        (
            ("--address", "{cluster}", "--launcher-option", "storage=shared/runs"),
            "storage='shared/runs': expected an absolute path or a file:// URI",
        ),
        (
            ("--address", "{cluster}", "--env", "base"),
            "--env 'base' is an environment of this machine",
        ),
        (("--launcher", "rya"), "no launcher 'rya' (did you mean 'ray'?)"),
    ],
)
def test_what_cannot_work_is_refused_before_any_run_exists(
    cluster: LocalCluster, home: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...], says: str,
) -> None:  # fmt: skip
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    given = [a.format(port=free_port(), cluster=cluster.address) for a in args]
    launcher = [] if "--launcher" in given else ["--launcher", "ray"]
    if "--env" in given:  # an environment on record, so that the launcher is what refuses
        with RunStore(home) as store:
            store.save_env({
                "name": "base", "worker_type": "bandit", "path": sys.prefix,
                "python": sys.executable, "python_version": "3", "requirements": [],
                "workers": [{"worker_type": "bandit"}], "created_at": 0.0,
            })  # fmt: skip
    done = mosaic(home, "run", "bandit", *launcher, *given, cluster=cluster, timeout=60)
    assert done.returncode == 2, done
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mosaic: error: ") and says in line, line
    assert not list((home / "runs").glob("*")) if (home / "runs").exists() else True


def test_the_address_comes_from_ray_address_and_resources_pick_the_node(
    cluster: LocalCluster, home: pathlib.Path
) -> None:
    env_address = {"RAY_ADDRESS": cluster.address}
    os.environ.update(env_address)
    try:
        args = [a for a in ray_args(cluster) if a not in ("--address", cluster.address)]
        done = mosaic(home, "run", "bandit", "--json", *args, "--resources", "CPU=0.5,node_b=1",
                      cluster=cluster, timeout=120)  # fmt: skip
    finally:
        os.environ.pop("RAY_ADDRESS")
    (run,) = results(done)
    assert run["status"] == "completed", done.stderr[-2000:]
    assert node_of(run["run_dir"]) == "node_b"
    launch = json.loads((pathlib.Path(run["run_dir"]) / "launch.json").read_text())
    assert launch["launcher"] == "ray"
    assert launch["launcher_options"]["address"] == cluster.address
    assert launch["launcher_options"]["resources"] == {"CPU": 0.5, "node_b": 1.0}
    assert launch["launcher_options"]["worker_distribution"] == ["mosaic-bandit-worker", "0.1.0"]


def test_mosaic_launchers_lists_ray_and_its_options(home: pathlib.Path) -> None:
    done = mosaic(home, "launchers", "--json")
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["local"]["distribution"] == "mosaic-core (built in)"
    assert rows["ray"]["status"] == "ok"
    assert rows["ray"]["distribution"].startswith("mosaic-ray-launcher ")
    assert set(rows["ray"]["options"]) == {
        "runtime_env", "node_dir", "keep_on_node", "namespace", "scheduling", "storage"
    }  # fmt: skip
