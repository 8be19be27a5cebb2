"""The kit's three doors: ``mosaic check``, ``pytest --mosaic-worker``, ``WorkerConformance``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mosaic_core.conformance import CHECK_IDS


def mosaic(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=dict(os.environ),
    )  # fmt: skip


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args],
        capture_output=True, text=True, timeout=120, cwd=directory, env=dict(os.environ),
    )  # fmt: skip


# -- mosaic check ----------------------------------------------------------------------


def test_mosaic_check_passes_a_conforming_worker_with_exit_0(kit_env: Any) -> None:
    done = mosaic("check", "kf-good")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  smoke-run" in done.stdout
    assert "SKIP  operator-protocol" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("16 passed, 1 skipped in ")


def test_mosaic_check_json_reports_every_check_and_exit_1_on_failure(kit_env: Any) -> None:
    done = mosaic("check", "kf-twoterm", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [r["id"] for r in report["results"]] == list(CHECK_IDS)
    failed = {r["id"]: r["message"] for r in report["results"] if r["status"] == "failed"}
    assert list(failed) == ["smoke-run"]
    assert "2 terminal events" in failed["smoke-run"]
    assert report["ok"] is False and report["counts"]["failed"] == 1


def test_mosaic_check_k_runs_only_the_named_checks(kit_env: Any) -> None:
    done = mosaic("check", "kf-nodict", "-k", "entry-point,metadata", "--json")
    assert done.returncode == 0
    assert [r["id"] for r in json.loads(done.stdout)["results"]] == ["entry-point", "metadata"]
    done = mosaic("check", "kf-nodict", "-k", "smoke-run")
    assert done.returncode == 1
    assert "FAIL  smoke-run" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "kf-good", "-k", "smoke"), "unknown conformance check 'smoke'"),
        (("check",), "name the worker to check"),
    ],
)
def test_mosaic_check_usage_error_exits_2(
    kit_env: Any, args: tuple[str, ...], message: str
) -> None:
    done = mosaic(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_mosaic_check_list_names_every_check() -> None:
    done = mosaic("check", "--list")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == list(CHECK_IDS)


# -- pytest ------------------------------------------------------------------------------


def test_pytest_mosaic_worker_option_adds_one_test_per_check(kit_env: Any, tmp_path: Path) -> None:
    done = pytest_in(tmp_path, "--mosaic-worker", "kf-good")
    assert done.returncode == 0, done.stdout
    assert "PASSED mosaic-worker[kf-good]::smoke-run" in done.stdout
    assert "16 passed, 1 skipped" in done.stdout
    done = pytest_in(tmp_path, "--mosaic-worker", "kf-missingckpt", "-k", "checkpoints")
    assert done.returncode == 1
    assert "FAILED mosaic-worker[kf-missingckpt]::checkpoints" in done.stdout
    assert "checkpoints/never-written.pt" in done.stdout
    assert "1 failed, 16 deselected" in done.stdout


def test_worker_conformance_subclass_gets_one_test_id_per_check(
    kit_env: Any, tmp_path: Path
) -> None:
    (tmp_path / "test_worker.py").write_text(
        textwrap.dedent(
            """
            from mosaic_core.conformance import WorkerConformance

            class TestGood(WorkerConformance):
                worker_type = "kf-good"

            class TestNoManifest(WorkerConformance):
                worker_type = "kf-nomanifest"
            """
        )
    )
    done = pytest_in(tmp_path)
    assert "PASSED test_worker.py::TestGood::test_conformance[cancel]" in done.stdout
    assert "FAILED test_worker.py::TestNoManifest::test_conformance[manifest]" in done.stdout
    assert "[manifest] the completed run wrote no analytics.json" in done.stdout
    assert done.returncode == 1


def test_subclass_without_worker_type_says_what_to_set(kit_env: Any, tmp_path: Path) -> None:
    (tmp_path / "test_worker.py").write_text(
        "from mosaic_core.conformance import WorkerConformance\n\n"
        "class TestMine(WorkerConformance):\n    pass\n"
    )
    done = pytest_in(tmp_path, "-k", "entry-point")
    assert done.returncode == 1
    assert "set worker_type = 'NAME' on the WorkerConformance subclass" in done.stdout


def test_plugin_is_registered_and_inert_when_not_asked(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_plain(pytestconfig):
                assert pytestconfig.pluginmanager.hasplugin("mosaic")
                loaded = [m for m in sys.modules if m.startswith("mosaic_core.conformance.")]
                assert loaded == ["mosaic_core.conformance.pytest_plugin"]
            """
        )
    )
    done = pytest_in(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "1 passed" in done.stdout
