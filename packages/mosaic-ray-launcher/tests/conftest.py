"""A real multi-node Ray cluster on this machine, and the real ``mosaic`` command against it.

The cluster is ``ray.cluster_utils.Cluster`` on 127.0.0.1: a head that runs
no run (0 CPUs) and two nodes, ``node_a`` and ``node_b``, each with 2 CPUs
and a custom resource of its own name, so a run's ``placement.json`` (the
node's resources) tells where it went. Tests add and remove further nodes.
Everything lives under one short temporary directory (``RAY_TMPDIR``: Ray's
sessions, sockets and address file; the nodes' run directories), so nothing
reaches another Ray on the machine; at the end every node is removed, and no
process of Ray or of a run may be left (checked by that directory, in the
processes' command lines and environments).

The nodes ``node_a`` and ``node_b``, and this machine, have the nap worker
(``tests/napworker``, distribution ``mosaic-nap-worker`` 0.1.0) on their
``PYTHONPATH``; a node added with ``nap=False`` does not: that is a node
without the worker installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

HERE = pathlib.Path(__file__).resolve().parent
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep 127.0.0.1 (Ray would take the external IP)
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "OMP_NUM_THREADS": "1",
    "SDL_VIDEODRIVER": "dummy",
    "SDL_AUDIODRIVER": "dummy",
}
# Ray notices a dead node within ~1.5 s instead of ~30 s.
HEALTH = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
          "health_check_initial_delay_ms": 0}  # fmt: skip
NODE_CUSTOM = {"node_a", "node_b", "node_c", "bare"}


def install_nap(root: pathlib.Path) -> pathlib.Path:
    """The nap worker as an installed distribution in ``root`` (for ``PYTHONPATH``)."""
    shutil.copytree(HERE / "napworker" / "mosaic_nap", root / "mosaic_nap")
    info = root / "mosaic_nap_worker-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mosaic-nap-worker\nVersion: 0.1.0\n"
        "Requires-Dist: mosaic-core>=1.1,<2\n"
    )
    (info / "entry_points.txt").write_text("[mosaic.workers]\nnap = mosaic_nap.plugin\n")
    (info / "RECORD").write_text("")
    return root


class LocalCluster:
    """The tests' cluster: its address, its nodes by custom resource, where runs live."""

    def __init__(self, cluster: Any, root: pathlib.Path, nap: pathlib.Path) -> None:
        self.cluster = cluster
        self.root = root
        self.nap = nap
        self.node_dir = root / "nodes"
        self.nodes: dict[str, Any] = {}

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add(self, name: str, *, cpus: int = 2, nap: bool = True) -> Any:
        """A node with resource ``name``, the nap worker on its path unless ``nap=False``."""
        saved = os.environ.get("PYTHONPATH")
        paths = [str(self.nap)] if nap else []
        paths += [p for p in (saved or "").split(os.pathsep) if p and p != str(self.nap)]
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)
        try:
            node = self.cluster.add_node(
                num_cpus=cpus, resources={name: 100}, node_ip_address="127.0.0.1",
                object_store_memory=80 * 2**20,
            )  # fmt: skip
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
        self.nodes[name] = node
        return node

    def remove(self, name: str) -> None:
        """The node dies: its raylet and every process of it are killed at once."""
        self.cluster.remove_node(self.nodes.pop(name), allow_graceful=False)

    def node_id(self, name: str) -> str:
        return str(self.nodes[name].node_id)

    def leftovers(self) -> dict[int, str]:
        """Live processes of this cluster or of runs on its nodes."""
        marker = str(self.root)
        found = {}
        for pid, cmdline in processes().items():
            if pid == os.getpid():
                continue
            if marker in cmdline or marker in environ_of(pid).get("MOSAIC_RUN_DIR", ""):
                found[pid] = cmdline
        return found


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    root = pathlib.Path(tempfile.mkdtemp(prefix="mrl-", dir="/tmp"))  # short: Ray's sockets
    (root / "ray").mkdir()
    nap = install_nap(tmp_path_factory.mktemp("nap-site"))
    saved = dict(os.environ)
    os.environ.update(RAY_ENV, RAY_TMPDIR=str(root / "ray"))
    made = None
    try:
        from ray.cluster_utils import Cluster

        made = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 0, "node_ip_address": "127.0.0.1",
                            "include_dashboard": False, "object_store_memory": 80 * 2**20,
                            "_system_config": HEALTH},
        )  # fmt: skip
        local = LocalCluster(made, root, nap)
        local.add("node_a")
        local.add("node_b")
        yield local
    finally:
        if made is not None:
            with contextlib.suppress(Exception):
                made.shutdown()
            with contextlib.suppress(Exception):
                if made.head_node is not None:
                    made.remove_node(made.head_node, allow_graceful=False)
        os.environ.clear()
        os.environ.update(saved)
        left = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            left = LocalCluster(None, root, nap).leftovers()
            if not left:
                break
            time.sleep(0.5)
        for pid in left:  # never leave them running, even when the check below fails
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"the cluster or its runs left processes: {left}"


@pytest.fixture
def home(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "mosaic-home"
    path.mkdir()
    return path


# -- the mosaic command --------------------------------------------------------------


def environment(home: pathlib.Path, cluster: LocalCluster | None = None) -> dict[str, str]:
    env = {**os.environ, **RAY_ENV, "MOSAIC_HOME": str(home)}
    if cluster is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(cluster.nap), os.environ.get("PYTHONPATH", "")) if p
        )
    return env


def ray_args(cluster: LocalCluster, *more: str) -> list[str]:
    """``--launcher ray --address ...`` for the tests' cluster, node directories in it."""
    return ["--launcher", "ray", "--address", cluster.address,
            "--launcher-option", f"node_dir={cluster.node_dir}", *more]  # fmt: skip


def mosaic(
    home: pathlib.Path, *args: str, cluster: LocalCluster | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The ``mosaic`` command; on a timeout it is interrupted like Ctrl-C (which cancels its
    runs), so no run outlives the test."""
    command = [sys.executable, "-m", "mosaic_core", *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment(home, cluster),
    ) as process:  # fmt: skip
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=120)
            pytest.fail(f"mosaic {' '.join(args)} took over {timeout} s:\n{out}\n{err[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def start(home: pathlib.Path, *args: str, cluster: LocalCluster) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mosaic_core", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=environment(home, cluster),
    )  # fmt: skip


def results(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The runs of ``mosaic run --json``."""
    return parse_results(done.stdout, done.stderr)


def parse_results(out: str, err: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(out)
    except ValueError:
        raise AssertionError(f"no JSON on stdout:\n{out}\n{err[-3000:]}") from None
    return list(data["runs"]) if "runs" in data else [data]


def events(run_dir: pathlib.Path | str, name: str = "events.jsonl") -> list[dict[str, Any]]:
    lines = (pathlib.Path(run_dir) / name).read_text().splitlines()
    return [json.loads(line) for line in lines]


def placement(run_dir: pathlib.Path | str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pathlib.Path(run_dir) / "placement.json").read_text())
    return data


def node_of(run_dir: pathlib.Path | str) -> str:
    """The custom resource of the node the run ran on: where it went."""
    names = set(placement(run_dir)["node_resources"]) & NODE_CUSTOM
    assert len(names) == 1, placement(run_dir)
    return names.pop()


def wait_until(condition: Any, timeout: float = 60.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())


# -- processes -----------------------------------------------------------------------


def processes() -> dict[int, str]:
    """Every live process: pid -> command line (zombies have none and are left out)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmdline:
                found[int(entry)] = cmdline
    return found


def environ_of(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            data = handle.read()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in data.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def run_processes(run_id: str) -> dict[int, str]:
    """Live processes of a run on any node: its keeper, its worker and what they started."""
    found = processes().items()
    return {pid: cmd for pid, cmd in found if environ_of(pid).get("MOSAIC_RUN_ID") == run_id}


def agents() -> dict[int, str]:
    """Live agent actors of the launcher (their processes are named after the class)."""
    return {pid: cmd for pid, cmd in processes().items() if "RunAgent" in cmd}
