"""What ``mosaic run`` loads before its worker sends ``run_started``, in both processes.

Starting a run should cost an interpreter or two, not the whole of mosaic-core:
the host imports the ``run`` command's module alone (not every command module
and command plugin), and the worker is told its plugin's module, so it does
not read every installed distribution's entry points; nor does the host, once it has
found the worker (the module is remembered until something is installed), and it
records the runs' provenance only once their workers are started. These tests pin the
modules left out, by name; the times are the benchmarks' (``benchmarks/ingest.py``).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from mosaic_core.cli.index import COMMAND_MODULES
from mosaic_core.runs import RunStore, resolve_worker
from mosaic_core.runs.worker_cache import WorkerCache

from .conftest import Mosaic, install_plugin

PROBE = '''
"""A worker that writes the modules its process holds as its run starts."""

import dataclasses
import json
import sys

from mosaic_core import (
    TelemetryEmitter, TrainingConfigBase, WorkerCapabilities, WorkerMetadata, WorkerSpec,
    hookimpl,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeConfig(TrainingConfigBase):
    env_id: str = "Probe-v0"
    algorithm: str = "probe"
    total_steps: int = 1
    out: str = ""


class ProbeRuntime:
    def __init__(self, config):
        self.config = config

    def run(self):
        with TelemetryEmitter(self.config.run_id).lifecycle(
            worker_type="probe", heartbeat_interval=None
        ) as run:
            with open(self.config.out, "w") as handle:
                json.dump(sorted(sys.modules), handle)
        return run.summary


@hookimpl
def mosaic_register_workers(register):
    register(WorkerSpec(
        metadata=WorkerMetadata(name="Probe", version="0.0.1"),
        capabilities=WorkerCapabilities(worker_type="probe"),
        config_class=ProbeConfig,
        runtime_factory=ProbeRuntime,
    ))
'''

# Run as the host: `mosaic ...`, writing the modules it holds when it starts the worker.
HOST = """
import json, sys
OUT = sys.argv[1]
def at_worker_start(event, args):
    executed = event == "subprocess.Popen" and "mosaic_core.worker_main" in list(args[1] or ())
    if executed or event == "os.fork":
        with open(OUT, "w") as handle:
            json.dump(sorted(sys.modules), handle)
sys.addaudithook(at_worker_start)
from mosaic_core.cli import main
sys.exit(main(sys.argv[2:]))
"""

#: Not needed to start a run, in either process.
NEVER = {
    "matplotlib", "numpy", "torch", "gymnasium", "mlflow", "libcst",
    "mosaic_core.cli.builtin", "mosaic_core.plugins.commands", "mosaic_core.venvs",
    "mosaic_core.query", "mosaic_core.operators", "mosaic_core.interop", "mosaic_core.migrate",
    "mosaic_core._fastlane", "multiprocessing", "urllib.request",
}  # fmt: skip


@pytest.fixture
def probe_site(tmp_path: pathlib.Path, site: pathlib.Path) -> pathlib.Path:
    """The probe worker, installed next to the fixture worker."""
    install_plugin(site, "mosaic-probe", "probe", "mosaictest_probe", PROBE)
    return site


def _run_probe(
    tmp_path: pathlib.Path, *args: str, start: str = "fork"
) -> tuple[dict[str, Any], set[str], set[str]]:
    """``mosaic run probe``: its JSON result and the host's and the worker's modules;
    ``start="exec"``: the worker's command executed (as other launchers and hosts do)
    rather than the host forked."""
    host, worker = tmp_path / "host.json", tmp_path / "worker.json"
    # A directory of its own: the current one is on sys.path, and a file made in it (by
    # another test run) would change what the host finds installed.
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", HOST, str(host), "run", "probe", "--json",
         "--set", f"out={worker}", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
        env={**os.environ, "MOSAIC_WORKER_START": start},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result, set(json.loads(host.read_text())), set(json.loads(worker.read_text()))


def _present(names: set[str], modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names)}


def test_the_host_starts_a_run_without_the_other_commands_or_plugins(
    home: pathlib.Path, probe_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    result, host, _ = _run_probe(tmp_path)
    assert result["status"] == "completed"
    assert set(COMMAND_MODULES) & host == {"mosaic_core.cli.runs"}
    assert _present(NEVER, host) == set()
    # The run context and manifests are the worker's (the grace period is a constant).
    assert not {"mosaic_core._context", "mosaic_core._manifest"} & host


def test_the_worker_is_told_its_plugin_module_and_reads_no_distribution(
    home: pathlib.Path, probe_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    result, _, worker = _run_probe(tmp_path, start="exec")
    launch = json.loads((pathlib.Path(result["run_dir"]) / "launch.json").read_text())
    assert launch["command"][1:7] == [
        "-m", "mosaic_core.worker_main", "--worker", "probe", "--worker-module",
        "mosaictest_probe",
    ]  # fmt: skip
    assert "mosaictest_probe" in worker
    # No scan of the installed distributions (importlib.metadata parses their metadata
    # with the email package), no host, and no run context for a runtime that takes none.
    host_only = {"importlib.metadata", "email", "sqlite3", "mosaic_core.runs", "mosaic_core.cli"}
    assert _present(host_only | {"mosaic_core._context"} | NEVER, worker) == set()
    # Nor pathlib (with urllib.parse and ipaddress) for a config without a path field.
    assert not {"pathlib", "urllib.parse", "traceback"} & worker


def test_a_worker_module_that_is_wrong_falls_back_to_discovery(
    probe_site: pathlib.Path, tmp_path: pathlib.Path, home: pathlib.Path
) -> None:
    """A launch.json from before a plugin was renamed, or a module that registers another
    worker: the worker finds itself by its entry point, as it did before."""
    config = tmp_path / "config.json"
    for module in ("mosaictest_no_such_module", "fixture_worker"):
        out = tmp_path / f"{module}.json"
        config.write_text(json.dumps({"run_id": "r1", "out": str(out)}))
        done = subprocess.run(
            [sys.executable, "-m", "mosaic_core.worker_main", "--worker", "probe",
             "--worker-module", module, "--config", str(config)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "MOSAIC_TELEMETRY_FD": "1"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert '"event":"run_completed"' in done.stdout
        assert "importlib.metadata" in json.loads(out.read_text())  # it did look


def test_an_unknown_worker_with_a_module_says_what_is_installed(
    probe_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"run_id": "r1"}))
    done = subprocess.run(
        [sys.executable, "-m", "mosaic_core.worker_main", "--worker", "prob",
         "--worker-module", "mosaictest_probe", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "MOSAIC_TELEMETRY_FD": "1"},
    )  # fmt: skip
    assert done.returncode == 1
    expected = "no worker named 'prob' (did you mean 'probe'?); installed: fixture, probe"
    assert expected in done.stderr


def _launch_and_provenance(result: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    run_dir = pathlib.Path(result["run_dir"])
    launch = json.loads((run_dir / "launch.json").read_text())
    return launch["command"], json.loads((run_dir / "provenance.json").read_text())


def test_a_worker_found_before_starts_without_reading_any_distribution(
    home: pathlib.Path, probe_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    first, first_host, _ = _run_probe(tmp_path)
    second, host, _ = _run_probe(tmp_path)
    assert "importlib.metadata" in first_host  # the first run looked
    assert _present({"importlib.metadata", "email", "mosaic_core.runs.provenance"}, host) == set()
    for result in first, second:
        assert result["status"] == "completed"
        command, provenance = _launch_and_provenance(result)
        assert command[5:7] == ["--worker-module", "mosaictest_probe"]
        # Recorded in full all the same, once the worker was started.
        assert provenance["worker"] == {
            "type": "probe", "distribution": "mosaic-probe", "version": "0.0.1",
        }  # fmt: skip
        assert provenance["packages"]["mosaic-probe"] == "0.0.1"
        assert provenance["packages"]["mosaic-core"] and provenance["host"]


def test_a_distribution_installed_since_is_seen(
    home: pathlib.Path, probe_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    assert _run_probe(tmp_path)[0]["status"] == "completed"
    info = probe_site / "mosaic_probe_two-0.0.2.dist-info"  # registers the same worker
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mosaic-probe-two\nVersion: 0.0.2\n"
    )
    (info / "entry_points.txt").write_text("[mosaic.workers]\nprobe = mosaictest_probe\n")
    done = subprocess.run(  # the same interpreter and sys.path as the first run
        [sys.executable, "-c", HOST, str(tmp_path / "host.json"), "run", "probe", "--json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path / "cwd",
    )  # fmt: skip
    assert done.returncode == 1
    assert "worker 'probe' is ambiguous: mosaic-probe 0.0.1 and mosaic-probe-two" in done.stderr


def test_an_entry_point_edited_in_place_is_seen(
    home: pathlib.Path, probe_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    assert _run_probe(tmp_path)[0]["status"] == "completed"
    (probe_site / "mosaictest_probe_b.py").write_text(textwrap.dedent(PROBE).lstrip())
    points = probe_site / "mosaic_probe-0.0.1.dist-info" / "entry_points.txt"
    points.write_text("[mosaic.workers]\nprobe = mosaictest_probe_b\n")
    result, _, worker = _run_probe(tmp_path)
    assert result["status"] == "completed"
    assert _launch_and_provenance(result)[0][5:7] == ["--worker-module", "mosaictest_probe_b"]
    assert "mosaictest_probe_b" in worker


def test_a_remembered_module_that_no_longer_registers_the_worker_is_not_used(
    home: pathlib.Path, site: pathlib.Path
) -> None:
    with RunStore(home) as store:
        WorkerCache(home).put("fixture", "mosaictest_no_such_module", "mosaic-fixture")
        resolved = resolve_worker(store, "fixture")
        assert resolved.module == "fixture_worker" and resolved.spec is not None
        assert resolved.distribution == "mosaic-fixture"
        assert WorkerCache(home).get("fixture") == ("fixture_worker", "mosaic-fixture")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"x": {"stamp": 1, "workers": 2}}'])
def test_a_damaged_cache_is_no_cache(home: pathlib.Path, site: pathlib.Path, text: str) -> None:
    cache = WorkerCache(home)
    cache.path.parent.mkdir(parents=True)
    cache.path.write_text(text)
    assert cache.get("fixture") is None
    with RunStore(home) as store:
        assert resolve_worker(store, "fixture").module == "fixture_worker"
    assert WorkerCache(home).get("fixture") == ("fixture_worker", "mosaic-fixture")


def test_a_home_that_cannot_be_written_keeps_no_cache(
    home: pathlib.Path, site: pathlib.Path
) -> None:
    home.mkdir()
    (home / "cache").write_text("a file where the directory would go")
    cache = WorkerCache(home)
    cache.put("fixture", "fixture_worker", "mosaic-fixture")  # says nothing, fails nothing
    assert cache.get("fixture") is None
    assert (home / "cache").read_text().startswith("a file")


def test_every_run_has_its_provenance_queued_and_detached_ones_too(
    mosaic: Mosaic, home: pathlib.Path
) -> None:
    done = mosaic("run", "fixture", "--seeds", "1,2,3", "--parallel", "1", "--json",
                  "--set", "total_steps=2", check=True)  # fmt: skip
    runs = [pathlib.Path(r["run_dir"]) for r in json.loads(done.stdout)["runs"]]
    done = mosaic("run", "fixture", "--set", "total_steps=2", "--detach", "--json", check=True)
    detached = json.loads(done.stdout)
    runs.append(pathlib.Path(detached["run_dir"]))  # written before its supervisor starts
    assert len(runs) == 4
    for run_dir in runs:
        provenance = json.loads((run_dir / "provenance.json").read_text())
        assert provenance["worker"]["distribution"] == "mosaic-fixture"
        assert provenance["packages"]["mosaic-fixture"] == "0.0.1"
    follow = mosaic("logs", detached["run_id"], "--follow", timeout=60)  # until it has ended
    assert follow.returncode == 0


def test_a_file_made_in_the_current_directory_keeps_the_cache(
    home: pathlib.Path, probe_site: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """The current directory is on sys.path: what is made there (outputs, an editor's
    swap files) is no distribution, and must not send each run back to discovery."""
    assert _run_probe(tmp_path)[0]["status"] == "completed"
    (tmp_path / "cwd" / "results.csv").write_text("step,return\n")
    _, host, _ = _run_probe(tmp_path)
    assert "importlib.metadata" not in host
