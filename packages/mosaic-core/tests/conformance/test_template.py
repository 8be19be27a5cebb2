"""``mosaic new worker``: the package it writes installs and passes the kit with zero edits."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from mosaic_core import ConfigError
from mosaic_core.cli import new
from mosaic_core.cli.new import render_worker, template_variables

CORE = Path(__file__).resolve().parents[2]
CLEAN = ("PYTHONPATH", "VIRTUAL_ENV", "MOSAIC_LOAD_PLUGINS", "MOSAIC_STRICT_PLUGINS",
         "MOSAIC_TELEMETRY_FD", "MOSAIC_RUN_ID", "MOSAIC_RUN_DIR")  # fmt: skip


def run(*argv: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_template_variables_for_a_hyphenated_name() -> None:
    names = template_variables("grid-world")
    assert names["package"] == "mosaic_grid_world"
    assert names["dist"] == "mosaic-grid-world-worker"
    assert names["Class"] == "GridWorld"


def test_a_new_worker_depends_on_the_minor_version_that_made_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(new, "__version__", "1.4.2")
    assert template_variables("gridworld")["mosaic_pin"] == ">=1.4,<2"


@pytest.mark.parametrize("name", ["Grid", "1grid", "grid world", ""])
def test_bad_worker_name_is_a_config_error(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a lower-case worker type"):
        render_worker(name, tmp_path / "out")


def test_existing_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an empty directory"):
        render_worker("gridworld", tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_mosaic_new_worker_writes_the_whole_package(tmp_path: Path) -> None:
    out = run(sys.executable, "-m", "mosaic_core", "new", "worker", "gridworld", "--dir",
              tmp_path / "w")  # fmt: skip
    assert "wrote 12 files" in out
    files = sorted(str(p.relative_to(tmp_path / "w")) for p in (tmp_path / "w").rglob("*"))
    assert files == [
        ".gitignore", "CHANGELOG.md", "README.md", "pyproject.toml", "src",
        "src/mosaic_gridworld", "src/mosaic_gridworld/__init__.py",
        "src/mosaic_gridworld/config.py", "src/mosaic_gridworld/plugin.py",
        "src/mosaic_gridworld/py.typed", "src/mosaic_gridworld/runtime.py", "tests",
        "tests/test_config.py", "tests/test_conformance.py", "tests/test_runtime.py",
    ]  # fmt: skip
    pyproject = (tmp_path / "w" / "pyproject.toml").read_text()
    assert 'gridworld = "mosaic_gridworld.plugin"' in pyproject
    assert f'"mosaic-core{template_variables("gridworld")["mosaic_pin"]}"' in pyproject
    assert "{{" not in "".join(p.read_text() for p in (tmp_path / "w").rglob("*") if p.is_file())


def test_generated_worker_installs_in_a_fresh_venv_and_its_tests_pass(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python, bin_dir = env_dir / "bin" / "python", env_dir / "bin"
    # This interpreter's pip installs into the new environment (no ensurepip: seconds saved).
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "-q")
    run(*pip, CORE)
    # The template comes from the installed wheel: its package data must be there.
    package = tmp_path / "mosaic-grid-world-worker"
    run(bin_dir / "mosaic", "new", "worker", "grid-world", "--dir", package)
    run(*pip, f"{package}[test]")
    out = run(python, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", cwd=package)
    assert "PASSED tests/test_conformance.py::TestConformance::test_conformance[smoke-run]" in out
    assert "PASSED tests/test_config.py::test_defaults_are_a_valid_config" in out
    assert "PASSED tests/test_runtime.py::test_a_run_completes_and_records_its_checkpoint" in out
    assert " failed" not in out
    out = run(bin_dir / "mosaic", "check", "grid-world", cwd=tmp_path)
    assert out.rstrip().splitlines()[-1].startswith("16 passed, 1 skipped")
