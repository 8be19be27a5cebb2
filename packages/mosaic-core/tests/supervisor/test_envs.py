"""``mosaic env`` for real: a worker installed only in a Python 3.10 environment runs from here.

A small worker distribution (hatchling, an entry point, a plugin module, a
config, a runtime reporting its interpreter) is built in a temporary
directory and installed *only* into the new environment, through
``--requirement``, so this process cannot import it. The supervisor stays in
this interpreter; the worker's summary says which Python ran it and which
executable its parent (the supervisor) was.

Creating an environment installs attrs, pluggy and hatchling from pip's
cache (or the index), so the module is marked ``slow``; it still runs by
default.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from mosaic_core import ConfigError
from mosaic_core.runs import RunStore
from mosaic_core.venvs import find_python, install_spec
from mosaic_core.venvs.build import _requirement

pytestmark = pytest.mark.slow

TARGET = "3.10"
WORKER = "pyver"
DISTRIBUTION = "mosaic-pyver-worker"

PYPROJECT = f"""
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{DISTRIBUTION}"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["mosaic-core>=1.0,<2"]

[project.entry-points."mosaic.workers"]
{WORKER} = "mosaic_pyver.plugin"

[tool.hatch.build.targets.wheel]
packages = ["src/mosaic_pyver"]
"""

PLUGIN = '''
"""A worker that reports the interpreter it runs on, and its parent's."""

from __future__ import annotations

import dataclasses
import os
import sys

from mosaic_core import (
    TelemetryEmitter,
    TrainingConfigBase,
    WorkerCapabilities,
    WorkerMetadata,
    WorkerSpec,
    hookimpl,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PyverConfig(TrainingConfigBase):
    env_id: str = "Nothing-v0"
    algorithm: str = "count"
    total_steps: int = 3


class PyverRuntime:
    def __init__(self, config: PyverConfig) -> None:
        self.config = config

    def run(self) -> dict:
        c = self.config
        emitter = TelemetryEmitter(c.run_id)
        with emitter.lifecycle(
            worker_type="pyver", algorithm=c.algorithm, env_id=c.env_id, seed=c.seed,
            total_steps=c.total_steps, heartbeat_interval=None,
        ) as run:
            for step in range(c.total_steps):
                run.metrics(step, {"charts/step": float(step)})
            parent = f"/proc/{os.getppid()}/exe"
            run.summary.update(
                python=list(sys.version_info[:3]),
                executable=sys.executable,
                prefix=sys.prefix,
                parent_executable=os.path.realpath(parent) if os.path.exists(parent) else None,
            )
        return run.summary


@hookimpl
def mosaic_register_workers(register):
    register(
        WorkerSpec(
            metadata=WorkerMetadata(name="Python version reporter", version="0.1.0"),
            capabilities=WorkerCapabilities(worker_type="pyver"),
            config_class=PyverConfig,
            runtime_factory=PyverRuntime,
        )
    )
'''


def write_worker(root: pathlib.Path) -> pathlib.Path:
    (root / "src" / "mosaic_pyver").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src" / "mosaic_pyver" / "__init__.py").write_text("")
    (root / "src" / "mosaic_pyver" / "plugin.py").write_text(PLUGIN)
    return root


def mosaic(
    home: pathlib.Path, *args: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """The real ``mosaic`` command in this interpreter, with ``home`` as ``$MOSAIC_HOME``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}
    env["MOSAIC_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def run_json(home: pathlib.Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = mosaic(home, "run", *args, "--json", timeout=120)
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"no JSON from mosaic run: {done.stdout!r} {done.stderr!r}") from None


def env_list(home: pathlib.Path) -> list[dict[str, Any]]:
    done = mosaic(home, "env", "list", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The ``mosaic: error: ...`` line, and no traceback anywhere."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("mosaic: error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def leftovers(home: pathlib.Path) -> list[str]:
    envs = home / "envs"
    return sorted(p.name for p in envs.iterdir()) if envs.exists() else []


# -- fixtures: one real environment for the module --------------------------------------


@pytest.fixture(scope="module")
def python310() -> str:
    try:
        return find_python(TARGET)
    except ConfigError as exc:
        pytest.skip(f"no Python {TARGET} on this machine (needed for an environment): {exc}")


@pytest.fixture(scope="module")
def worker_src(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return write_worker(tmp_path_factory.mktemp("pyver-worker"))


@pytest.fixture(scope="module")
def env_home(
    tmp_path_factory: pytest.TempPathFactory, python310: str, worker_src: pathlib.Path
) -> pathlib.Path:
    """A ``$MOSAIC_HOME`` holding environment ``pyver``: Python 3.10 and the worker."""
    home = tmp_path_factory.mktemp("env-home")
    done = mosaic(home, "env", "create", WORKER, "--python", TARGET, "--requirement",
                  str(worker_src))  # fmt: skip
    assert done.returncode == 0, f"mosaic env create failed:\n{done.stdout}\n{done.stderr}"
    assert f"use it with `mosaic run {WORKER} --env {WORKER}`" in done.stdout
    return home


@pytest.fixture
def fresh_home(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "mosaic-home"


# -- the environment works -----------------------------------------------------------


def test_the_host_does_not_have_the_worker(env_home: pathlib.Path) -> None:
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(DISTRIBUTION)
    done = mosaic(env_home, "run", WORKER, "--set", "total_steps=2")
    assert done.returncode != 0
    assert f"no worker named {WORKER!r}" in one_error_line(done)


def test_env_list_shows_the_environment(env_home: pathlib.Path) -> None:
    (env,) = env_list(env_home)
    assert env["name"] == WORKER and env["worker_type"] == WORKER
    assert env["python_version"].startswith(f"{TARGET}.")
    assert env["exists"] is True
    assert pathlib.Path(env["path"]) == env_home / "envs" / WORKER
    assert pathlib.Path(env["python"]).is_relative_to(env["path"])
    (worker,) = env["workers"]
    assert worker["worker_type"] == WORKER and worker["distribution"] == DISTRIBUTION
    assert worker["distribution_version"] == "0.1.0"
    # mosaic-core came from where it is installed here: a local source is reused.
    assert install_spec("mosaic-core") in " ".join(env["requirements"])
    table = mosaic(env_home, "env", "list")
    assert table.returncode == 0
    assert WORKER in table.stdout and env["python_version"] in table.stdout


def test_run_in_the_environment_uses_its_python(env_home: pathlib.Path) -> None:
    assert sys.version_info[:2] != (3, 10), "the host must differ from the environment"
    code, result = run_json(env_home, WORKER, "--env", WORKER, "--set", "total_steps=5")
    assert code == 0, result
    assert result["status"] == "completed", result
    summary = result["summary"]
    # The worker ran on Python 3.10, in the environment ...
    assert summary["python"][:2] == [3, 10]
    assert pathlib.Path(summary["prefix"]) == env_home / "envs" / WORKER
    # ... started by the supervisor, which ran here, on this (3.11) interpreter.
    if summary["parent_executable"] is not None:
        assert summary["parent_executable"] == os.path.realpath(sys.executable)
    assert result["final_metrics"]["charts/step"] == 4.0
    with RunStore(env_home) as store:
        run = store.get(result["run_id"])
        assert run["env_name"] == WORKER
        assert run["python"] == str(env_home / "envs" / WORKER / "bin" / "python")
        assert run["total_steps"] == 5 and run["exit_code"] == 0
        seqs = [e["seq"] for e in store.events(result["run_id"])]
        assert seqs == list(range(len(seqs)))


def test_bad_config_is_refused_by_the_worker_in_the_environment(env_home: pathlib.Path) -> None:
    # The host cannot validate (it has no worker): the worker process does.
    code, result = run_json(env_home, WORKER, "--env", WORKER, "--set", "total_stepz=5")
    assert code == 2, result
    assert result["status"] == "failed" and result["exit_code"] == 2
    assert "total_stepz" in result["reason"] and "did you mean 'total_steps'" in result["reason"]
    with RunStore(env_home) as store:
        last = store.events(result["run_id"])[-1]
    assert last["event"] == "run_failed"
    assert last["payload"]["error_type"] == "ConfigError"
    assert last["payload"]["field"] == "total_stepz"
    assert "Traceback" not in last["payload"]["traceback"]

    code, result = run_json(env_home, WORKER, "--env", WORKER, "--set", "total_steps=0")
    assert code == 2 and "total_steps" in result["reason"], result


def host_copy(site: pathlib.Path, version: str) -> pathlib.Path:
    """The worker as the host sees it: ``version``, with one more config field."""
    package = site / "mosaic_pyver"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    plugin = PLUGIN.replace(
        "    total_steps: int = 3\n", "    total_steps: int = 3\n    host_only: int = 1\n"
    )
    assert "host_only" in plugin
    (package / "plugin.py").write_text(plugin)
    info = site / f"mosaic_pyver_worker-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(f"[mosaic.workers]\n{WORKER} = mosaic_pyver.plugin\n")
    return site


def mosaic_with_host_copy(
    home: pathlib.Path, site: pathlib.Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``mosaic`` with ``site`` on its own sys.path only: the worker process does not see it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOSAIC_")}
    env["MOSAIC_HOME"] = str(home)
    code = "import sys; sys.path.insert(0, sys.argv.pop(1)); from mosaic_core.cli.app import main; "
    code += "sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, str(site), *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_another_version_here_does_not_validate_for_the_environment(
    env_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # Version 0.0.9 here has a field the environment's 0.1.0 does not know; its config
    # class must not judge (nor fill in) the config the environment's worker gets.
    site = host_copy(tmp_path / "site", "0.0.9")
    done = mosaic_with_host_copy(env_home, site, "run", WORKER, "--env", WORKER, "--json",
                                 "--set", "total_steps=2")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed" and result["summary"]["python"][:2] == [3, 10]
    with RunStore(env_home) as store:
        config = json.loads((store.run_dir(result["run_id"]) / "config.json").read_text())
    assert "host_only" not in config


def test_the_same_version_here_validates_before_anything_starts(
    env_home: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    site = host_copy(tmp_path / "site", "0.1.0")
    with RunStore(env_home) as store:
        before = len(store.list_runs())
    done = mosaic_with_host_copy(env_home, site, "run", WORKER, "--env", WORKER, "--json",
                                 "--set", "total_stepz=2")  # fmt: skip
    assert done.returncode == 2
    assert "total_stepz" in one_error_line(done)
    with RunStore(env_home) as store:
        assert len(store.list_runs()) == before


# -- unhappy paths -----------------------------------------------------------------


def test_unknown_python_version_leaves_nothing(
    fresh_home: pathlib.Path, worker_src: pathlib.Path
) -> None:
    done = mosaic(fresh_home, "env", "create", WORKER, "--python", "3.99",
                  "--requirement", str(worker_src))  # fmt: skip
    assert done.returncode == 2
    line = one_error_line(done)
    assert "--python '3.99'" in line and "no such Python" in line
    assert leftovers(fresh_home) == []
    assert env_list(fresh_home) == []


def test_python_older_than_mosaic_core_supports_is_refused(fresh_home: pathlib.Path) -> None:
    try:
        find_python("3.9")
    except ConfigError as exc:
        if "needs Python >= 3.10" not in str(exc):
            pytest.skip("no Python 3.9 here")
    done = mosaic(fresh_home, "env", "create", WORKER, "--python", "3.9", "-r", "x")
    assert done.returncode == 2
    assert "mosaic-core needs Python >= 3.10" in one_error_line(done)
    assert leftovers(fresh_home) == []


def test_worker_not_installed_here_needs_a_requirement(fresh_home: pathlib.Path) -> None:
    done = mosaic(fresh_home, "env", "create", WORKER)
    assert done.returncode == 2
    line = one_error_line(done)
    assert f"worker {WORKER!r} is not installed here" in line and "--requirement" in line
    assert leftovers(fresh_home) == []


def test_uninstallable_requirement_removes_the_half_made_env(
    fresh_home: pathlib.Path, tmp_path: pathlib.Path, python310: str
) -> None:
    not_a_project = tmp_path / "not-a-project"
    not_a_project.mkdir()
    done = mosaic(fresh_home, "env", "create", WORKER, "--python", TARGET,
                  "--requirement", str(not_a_project))  # fmt: skip
    assert done.returncode == 1, done.stderr
    line = one_error_line(done)
    assert "pip could not install" in line and str(not_a_project) in line
    assert "the environment was removed" in line
    assert str(not_a_project) in done.stderr.split("mosaic: error:")[0]  # pip's own words
    assert leftovers(fresh_home) == []
    assert env_list(fresh_home) == []


def test_unknown_env_names_the_known_ones(env_home: pathlib.Path) -> None:
    done = mosaic(env_home, "run", WORKER, "--env", "nope", "--set", "total_steps=2")
    assert done.returncode == 2
    line = one_error_line(done)
    assert "no environment named 'nope'" in line and f"known: {WORKER}" in line


def test_env_without_the_requested_worker(env_home: pathlib.Path) -> None:
    done = mosaic(env_home, "run", "other", "--env", WORKER)
    assert done.returncode == 2
    assert f"environment {WORKER!r} provides {WORKER}, not 'other'" in one_error_line(done)


def test_created_env_without_the_requested_worker_is_removed(
    env_home: pathlib.Path, worker_src: pathlib.Path
) -> None:
    done = mosaic(env_home, "env", "create", "pyvr", "--python", TARGET,
                  "--requirement", str(worker_src))  # fmt: skip
    assert done.returncode == 1, done.stderr
    line = one_error_line(done)
    assert f"does not provide worker 'pyvr' (it has {WORKER})" in line
    assert leftovers(env_home) == [WORKER]
    assert [e["name"] for e in env_list(env_home)] == [WORKER]


def test_existing_env_needs_force(env_home: pathlib.Path, worker_src: pathlib.Path) -> None:
    before = env_list(env_home)
    done = mosaic(env_home, "env", "create", WORKER, "--python", TARGET,
                  "--requirement", str(worker_src))  # fmt: skip
    assert done.returncode == 2
    line = one_error_line(done)
    assert f"environment {WORKER!r} already exists" in line and "--force" in line
    assert env_list(env_home) == before


def test_failed_force_puts_the_old_env_back(env_home: pathlib.Path, tmp_path: pathlib.Path) -> None:
    before = env_list(env_home)
    not_a_project = tmp_path / "not-a-project"
    not_a_project.mkdir()
    done = mosaic(env_home, "env", "create", WORKER, "--python", TARGET, "--force",
                  "--requirement", str(not_a_project))  # fmt: skip
    assert done.returncode == 1
    assert "pip could not install" in one_error_line(done)
    assert leftovers(env_home) == [WORKER]
    assert env_list(env_home) == before
    code, result = run_json(env_home, WORKER, "--env", WORKER, "--set", "total_steps=2")
    assert code == 0 and result["summary"]["python"][:2] == [3, 10], result


# -- where mosaic-core and a worker are installed from -------------------------------


def _fake_dist(site: pathlib.Path, name: str, direct_url: dict[str, Any] | None) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))


def test_install_spec_follows_direct_url(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    source = tmp_path / "a source dir"
    source.mkdir()
    wheel = tmp_path / "demo_wheel-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    _fake_dist(site, "demo-index", None)
    _fake_dist(site, "demo-dir", {"url": source.as_uri(), "dir_info": {}})
    _fake_dist(site, "demo-editable", {"url": source.as_uri(), "dir_info": {"editable": True}})
    _fake_dist(site, "demo-gone", {"url": (tmp_path / "gone").as_uri(), "dir_info": {}})
    _fake_dist(site, "demo-wheel", {"url": wheel.as_uri(), "archive_info": {}})
    _fake_dist(site, "demo-remote", {"url": "https://example.org/demo-1.0.tar.gz",
                                     "archive_info": {"hash": "sha256=00"}})  # fmt: skip
    _fake_dist(site, "demo-git", {"url": "https://example.org/demo.git",
                                  "vcs_info": {"vcs": "git", "commit_id": "abc123"},
                                  "subdirectory": "pkg"})  # fmt: skip
    monkeypatch.syspath_prepend(str(site))

    assert install_spec("demo-index") == "demo-index==1.0"
    assert install_spec("demo-dir") == str(source)  # the path, with its space decoded
    assert _requirement("demo-dir") == str(source)
    assert install_spec("demo-editable") == str(source)
    assert _requirement("demo-editable") == f"-e {source}"
    assert install_spec("demo-gone") == "demo-gone==1.0"
    assert install_spec("demo-wheel") == f"demo-wheel @ {wheel.as_uri()}"
    assert install_spec("demo-remote") == "demo-remote @ https://example.org/demo-1.0.tar.gz"
    assert (
        install_spec("demo-git")
        == "demo-git @ git+https://example.org/demo.git@abc123#subdirectory=pkg"
    )


def test_mosaic_core_here_is_installable_elsewhere() -> None:
    spec = install_spec("mosaic-core")
    direct = importlib.metadata.distribution("mosaic-core").read_text("direct_url.json")
    if direct and "dir_info" in json.loads(direct):
        # Installed from a local directory, editable or not: that directory is reused.
        assert (pathlib.Path(spec) / "pyproject.toml").is_file()
        assert (pathlib.Path(spec) / "src" / "mosaic_core" / "venvs" / "build.py").is_file()
    else:
        assert spec.startswith("mosaic-core")
