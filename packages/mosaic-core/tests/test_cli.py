"""The ``mosaic`` command: ``mosaic workers [--json]`` and ``mosaic --version``."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mosaic_core import __version__, cli

CONSOLE_SCRIPT = Path(sys.executable).with_name("mosaic")


def mosaic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def with_plugins(child_env: Any, plugin_dir: Path) -> dict[str, str]:
    return dict(child_env(plugin_dir))


def table_rows(stdout: str) -> dict[str, list[str]]:
    """``{worker: [cells]}`` from the table that opens ``mosaic workers``."""
    rows: dict[str, list[str]] = {}
    for line in stdout.split("\n\n")[0].splitlines()[1:]:
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_workers_lists_ok_legacy_and_broken_with_hints(with_plugins: dict[str, str]) -> None:
    done = mosaic("workers", env=with_plugins)
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header == ["WORKER", "VERSION", "STATUS", "DISTRIBUTION", "DESCRIPTION"]
    rows = table_rows(done.stdout)
    assert rows["toy"][:5] == ["toy", "1.2.3", "ok", "mosaic-test-toy", "1.2.3"]
    assert rows["oldie"][:3] == ["oldie", "0.1.0", "legacy"]
    assert rows["crashy"][:5] == ["crashy", "-", "broken", "mosaic-test-crashy", "0.0.1"]
    assert rows["nohook"][2] == "broken"
    assert "crashy: broken: RuntimeError: crashy plugin cannot start" in done.stdout
    assert "  hint: mosaic-test-crashy raised while loading" in done.stdout
    assert "  hint: install the missing module 'mosaictest_no_such_dependency'" in done.stdout
    assert done.stdout.count("  hint: ") == 4
    assert done.stderr == ""


def test_workers_json_lists_every_plugin_with_its_status(with_plugins: dict[str, str]) -> None:
    done = mosaic("workers", "--json", env=with_plugins)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["skipped"] == []
    by_name = {row.get("worker_type") or row["name"]: row for row in data["workers"]}
    assert by_name["toy"]["status"] == "ok"
    assert by_name["toy"]["runnable"] is True
    assert by_name["toy"]["distribution_version"] == "1.2.3"
    assert by_name["oldie"]["status"] == "legacy"
    assert by_name["oldie"]["runnable"] is False
    for name in ("crashy", "nohook", "misnamed", "needsdep"):
        assert by_name[name]["status"] == "broken"
        assert by_name[name]["hint"]
    assert by_name["crashy"]["distribution"] == "mosaic-test-crashy"
    assert by_name["crashy"]["distribution_version"] == "0.0.1"
    assert by_name["crashy"]["error_type"] == "RuntimeError"


def test_workers_reports_what_load_plugins_skipped(with_plugins: dict[str, str]) -> None:
    env = {**with_plugins, "MOSAIC_LOAD_PLUGINS": "toy"}
    done = mosaic("workers", env=env)
    assert done.returncode == 0, done.stderr
    assert set(table_rows(done.stdout)) == {"toy"}
    assert "not loaded (MOSAIC_LOAD_PLUGINS): " in done.stdout
    assert "crashy" in done.stdout.splitlines()[-1]
    data = json.loads(mosaic("workers", "--json", env=env).stdout)
    assert "crashy" in data["skipped"]
    assert [row["worker_type"] for row in data["workers"]] == ["toy"]


def test_workers_strict_fails_with_one_line_and_exit_1(with_plugins: dict[str, str]) -> None:
    env = {**with_plugins, "MOSAIC_STRICT_PLUGINS": "1", "MOSAIC_LOAD_PLUGINS": "crashy"}
    done = mosaic("workers", env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("mosaic: error: worker plugin 'crashy'")
    assert "Traceback" not in done.stderr


def test_workers_without_plugins_says_how_to_get_one(child_env: Any, tmp_path: Path) -> None:
    if importlib.metadata.entry_points(group="mosaic.workers"):
        pytest.skip("real worker plugins are installed in this environment")
    done = mosaic("workers", env=child_env(tmp_path))
    assert done.returncode == 0
    assert done.stdout.startswith("No MOSAIC workers are installed.")
    assert "pip install mosaic-cleanrl-worker" in done.stdout


def test_version_prints_the_package_version(with_plugins: dict[str, str]) -> None:
    done = mosaic("--version", env=with_plugins)
    assert done.returncode == 0
    assert done.stdout.strip() == f"mosaic-core {__version__}"


@pytest.mark.skipif(
    not CONSOLE_SCRIPT.exists(), reason="the mosaic console script is not installed"
)
def test_console_script_runs(with_plugins: dict[str, str]) -> None:
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "--version"], env=with_plugins, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"mosaic-core {__version__}")


def test_version_matches_the_distribution() -> None:
    assert __version__ == importlib.metadata.version("mosaic-core")


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: mosaic" in capsys.readouterr().out


def test_workers_in_process(installed_plugins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["workers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["workers"]
    assert {row.get("worker_type") or row["name"] for row in rows} >= {"toy", "oldie", "crashy"}


def test_config_refuses_algorithm_for_a_worker_with_one_config_class() -> None:
    import dataclasses

    from mosaic_core import ConfigError, TrainingConfigBase
    from mosaic_core.cli.output import config_fields_text

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class One(TrainingConfigBase):
        env_id: str = "CartPole-v1"
        algorithm: str = "ppo"

    with pytest.raises(ConfigError, match="nothing to choose") as caught:
        config_fields_text(One, "one", "dqn")
    assert caught.value.field == "--algorithm"
    assert "total_steps" in config_fields_text(One, "one")
