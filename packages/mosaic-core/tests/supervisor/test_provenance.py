"""Provenance is read where the worker runs: another environment's packages, not the host's."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import venv
from typing import Any

import pytest

from mosaic_core.runs import collect_provenance
from mosaic_core.runs.provenance import git_state


def test_the_packages_are_those_of_the_worker_s_own_interpreter(tmp_path: pathlib.Path) -> None:
    # A bare environment (no pip): what its interpreter sees, read by that interpreter.
    venv.EnvBuilder(with_pip=False).create(tmp_path / "env")
    python = tmp_path / "env" / "bin" / "python"
    there = collect_provenance(worker_type="toy", worker_distribution="mosaic-toy",
                               worker_version="9.9", python=str(python), cwd=tmp_path)  # fmt: skip
    assert there["packages"] == {} and "error" not in there
    assert there["executable"].startswith(str(tmp_path / "env"))
    assert there["worker"] == {"type": "toy", "distribution": "mosaic-toy", "version": "9.9"}
    assert there["git"] is None  # tmp_path is no git work tree
    here = collect_provenance(worker_type="toy", worker_distribution="mosaic-core",
                              worker_version=None, cwd=tmp_path)  # fmt: skip
    assert "mosaic-core" in here["packages"] and here["python"] == sys.version.split()[0]
    assert here["worker"]["version"] == here["packages"]["mosaic-core"]


def test_an_interpreter_that_cannot_answer_is_recorded_not_fatal(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    record = collect_provenance(worker_type="toy", worker_distribution=None, worker_version="1",
                                python=str(broken), cwd=tmp_path)  # fmt: skip
    assert record["packages"] == {} and "could not read its packages" in record["error"]
    assert subprocess.run([str(broken)]).returncode == 3


def test_git_says_the_commit_and_whether_tracked_files_changed(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "train.txt").write_text("x")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    (repo / "untracked.txt").write_text("not counted")
    clean = git_state(repo)
    assert clean == {"commit": commit, "dirty": False, "directory": str(repo.resolve())}
    (repo / "train.txt").write_text("changed")
    record = collect_provenance(worker_type="toy", worker_distribution=None, worker_version="1",
                                cwd=repo)  # fmt: skip
    assert record["git"] == {"commit": commit, "dirty": True, "directory": str(repo.resolve())}
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no git at all: no record, no error
    assert git_state(repo) is None


SNAPSHOT = """
import json, sys
from mosaic_core.runs import collect_provenance
record = collect_provenance(worker_type="toy", worker_distribution="mosaic-toy",
                            worker_version=None, home=sys.argv[1])
print(json.dumps({"read": "importlib.metadata" in sys.modules, "packages": record["packages"],
                  "worker": record["worker"]}))
"""


def test_the_packages_are_remembered_until_something_is_installed(tmp_path: pathlib.Path) -> None:
    site, home, cwd = tmp_path / "site", tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    info = site / "mosaic_toy-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mosaic-toy\nVersion: 1.0\n")
    paths = [str(site), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}

    def snapshot() -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-c", SNAPSHOT, str(home)], capture_output=True,
                              text=True, env=env, cwd=cwd, timeout=60, check=True)  # fmt: skip
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    first, second = snapshot(), snapshot()
    assert first["read"] and not second["read"]  # the second came from the cache
    assert first["packages"] == second["packages"] and first["packages"]["mosaic-toy"] == "1.0"
    assert second["worker"] == {"type": "toy", "distribution": "mosaic-toy", "version": "1.0"}
    other = site / "mosaic_other-2.0.dist-info"  # installed since: read again
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: mosaic-other\nVersion: 2.0\n")
    third = snapshot()
    assert third["read"] and third["packages"]["mosaic-other"] == "2.0"
    # Its metadata rewritten in place (no new directory): read again too.
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mosaic-toy\nVersion: 1.1\n")
    fourth = snapshot()
    assert fourth["read"] and fourth["packages"]["mosaic-toy"] == "1.1"
    assert not snapshot()["read"]
