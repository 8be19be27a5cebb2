"""Provenance is read where the worker runs: another environment's packages, not the host's."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import venv

from mosaic_core.runs import collect_provenance


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
