"""``mosaic migrate``: the original guides' workers become plugins that pass the kit.

The inputs are the guides' own examples (``guide/``, see its README). The
slow test installs each migrated project into a fresh virtual environment,
as its author would, and runs ``mosaic check`` there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from mosaic_core import ConfigError
from mosaic_core.migrate import migrate_project
from mosaic_core.plugins import discover_workers

GUIDE = Path(__file__).parent / "guide"
CORE = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in GUIDE.iterdir() if p.is_dir())
CLEAN = ("PYTHONPATH", "VIRTUAL_ENV", "MOSAIC_LOAD_PLUGINS", "MOSAIC_STRICT_PLUGINS",
         "MOSAIC_TELEMETRY_FD", "MOSAIC_RUN_ID", "MOSAIC_RUN_DIR")  # fmt: skip


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    return Path(shutil.copytree(GUIDE / "quickstart", tmp_path / "quickstart"))


def mosaic(
    *args: str | Path, python: str | Path = sys.executable
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    return subprocess.run(
        [str(python), "-m", "mosaic_core", *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_the_diff_shows_every_rewrite_and_nothing_is_written(quickstart: Path) -> None:
    before = {p: p.read_text() for p in quickstart.rglob("*") if p.is_file()}
    done = mosaic("migrate", quickstart)
    assert done.returncode == 0, done.stderr
    diff = done.stdout
    assert "-    from gym_gui.core.worker import WorkerMetadata, WorkerCapabilities" in diff
    assert "+    from mosaic_core import WorkerMetadata, WorkerCapabilities" in diff
    assert "-try:\n-    from gym_gui.core.worker import TelemetryEmitter" in diff
    assert "+        self._emitter = TelemetryEmitter(run_id=config.run_id)" in diff
    assert "+class MyWorkerConfig(WorkerConfigBase):" in diff
    assert '+            raise ConfigError("run_id is required", field="run_id")' in diff
    assert "+from my_worker.config import MyWorkerConfig" in diff, "the guide forgot it"
    assert '-myworker = "my_worker:get_worker_metadata"\n+myworker = "my_worker.plugin"' in diff
    assert "+++ b/my_worker/plugin.py" in diff
    assert "supports_checkpointing=True became False" in done.stderr
    assert "run again with --write" in done.stderr
    assert {p: p.read_text() for p in quickstart.rglob("*") if p.is_file()} == before


def test_a_migrated_project_has_nothing_left_to_migrate(quickstart: Path) -> None:
    migrate_project(quickstart).write()
    again = migrate_project(quickstart)
    assert again.changes == ()
    assert mosaic("migrate", quickstart).stdout.startswith(f"{quickstart}: nothing to migrate")


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_guide_example_migrates_into_importable_python(example: str, tmp_path: Path) -> None:
    project = Path(shutil.copytree(GUIDE / example, tmp_path / example))
    migration = migrate_project(project)
    migration.write()
    for path in project.rglob("*.py"):
        text = path.read_text()
        compile(text, str(path), "exec")
        assert "gym_gui" not in text, path
    assert (project / migration.changes[0].path.parent / "plugin.py").exists() or any(
        c.path.name == "plugin.py" for c in migration.changes
    )


def test_a_worker_without_an_entry_point_is_named_from_its_distribution(tmp_path: Path) -> None:
    project = Path(shutil.copytree(GUIDE / "xuance-before", tmp_path / "x"))
    migration = migrate_project(project)
    assert migration.worker_type == "xuance"
    assert any("no get_worker_metadata" in note for note in migration.notes)
    assert migrate_project(project, worker_type="xc").worker_type == "xc"
    with pytest.raises(ConfigError, match="--worker-type"):
        migrate_project(project, worker_type="Bad Name")


def test_a_runtime_without_telemetry_runs_inside_the_lifecycle(tmp_path: Path) -> None:
    project = Path(shutil.copytree(GUIDE / "barlog-before", tmp_path / "b"))
    plugin = next(c.after for c in migrate_project(project).changes if c.path.name == "plugin.py")
    assert "return _Lifecycle(BarlogWorkerRuntime(config), context, seed=config.seed)" in plugin


def test_a_gym_gui_name_mosaic_core_lacks_is_kept_with_a_note(quickstart: Path) -> None:
    runtime = quickstart / "my_worker" / "runtime.py"
    runtime.write_text(runtime.read_text().replace(
        "from gym_gui.core.worker import TelemetryEmitter",
        "from gym_gui.core.worker import TelemetryEmitter, QtBridge",
    ))  # fmt: skip
    migration = migrate_project(quickstart)
    assert any("no mosaic_core counterpart for QtBridge" in n for n in migration.notes)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p / "pyproject.toml").unlink(), "has no pyproject.toml"),
        (lambda p: (p / "my_worker" / "config.py").write_text("x = 1\n"), "no config class"),
        (lambda p: (p / "my_worker" / "config.py").write_text("def (:\n"), "not valid Python"),
    ],
)
def test_what_is_not_a_guide_worker_is_refused_with_exit_2(
    quickstart: Path, make: object, message: str
) -> None:
    make(quickstart)  # type: ignore[operator]
    done = mosaic("migrate", quickstart, "--write")
    assert done.returncode == 2
    assert message in done.stderr


def test_a_legacy_plugin_missing_gym_gui_is_told_to_migrate() -> None:
    def get_worker_metadata() -> tuple[object, object]:
        import gym_gui.core.worker  # noqa: F401  (the original guide's import)

        raise AssertionError("gym_gui must not be importable here")

    (broken,) = discover_workers(plugins=[get_worker_metadata], load=None).broken
    assert "`mosaic migrate PATH`" in broken.hint


@pytest.mark.slow
def test_each_migrated_example_installs_and_passes_the_kit(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    subprocess.run([*pip, f"{CORE}[migrate]", "setuptools>=65", "wheel", "pytest"], check=True)
    for example in EXAMPLES:
        project = Path(shutil.copytree(GUIDE / example, tmp_path / example))
        done = mosaic("migrate", project, "--write", python=python)
        assert done.returncode == 0, done.stderr
        worker = done.stdout.rstrip().split()[-1]
        install = subprocess.run(
            [*pip, "--no-build-isolation", str(project)], capture_output=True, text=True
        )
        assert install.returncode == 0, install.stderr
        check = mosaic("check", worker, python=python)
        assert check.returncode == 0, f"{example}:\n{check.stdout}"
        assert check.stdout.rstrip().splitlines()[-1].startswith("13 passed, 5 skipped"), example
        if (project / "tests").is_dir():  # the guide's own tests pass on the migrated worker
            tests = subprocess.run(
                [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                cwd=project, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert tests.returncode == 0, tests.stdout
        dist = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.entry_points("
             f"group='mosaic.workers')['{worker}'].dist.name)"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "uninstall", "-q", "-y", dist],
            check=True,
        )
