"""Fixtures for the supervisor tests: a private MOSAIC_HOME and the misbehaving worker.

The fixture worker is installed as a real distribution (a ``*.dist-info``
with an entry point) in a temporary site directory that both this process
and every worker process see, so discovery works exactly as for a pip
install.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from mosaic_core import _procs as procs
from mosaic_core.runs import RunStore

HERE = pathlib.Path(__file__).parent


def install_plugin(
    site: pathlib.Path, name: str, worker_type: str, module: str, source: str | None = None
) -> None:
    """A worker plugin installed in ``site`` as pip would: distribution ``name`` 0.0.1
    whose entry point ``worker_type`` names ``module`` (written from ``source`` if given)."""
    if source is not None:
        (site / f"{module}.py").write_text(textwrap.dedent(source).lstrip())
    info = site / f"{name.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[mosaic.workers]\n{worker_type} = {module}\n")


@pytest.fixture
def site(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    site = tmp_path_factory.mktemp("site")
    shutil.copy(HERE / "fixture_worker.py", site / "fixture_worker.py")
    install_plugin(site, "mosaic-fixture", "fixture", "fixture_worker")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    )
    importlib.invalidate_caches()
    return site


@pytest.fixture
def home(
    tmp_path: pathlib.Path, site: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> pathlib.Path:
    home = tmp_path / "mosaic-home"
    monkeypatch.setenv("MOSAIC_HOME", str(home))
    return home


@pytest.fixture
def store(home: pathlib.Path) -> Iterator[RunStore]:
    with RunStore(home) as s:
        yield s


class Mosaic:
    """Runs the real ``mosaic`` command in a subprocess."""

    def __init__(self, home: pathlib.Path) -> None:
        self.home = home

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "mosaic_core", *args],
            capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(
                f"mosaic {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
            )
        return done

    def run_json(self, *args: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
        done = self("run", "fixture", "--json", *args, timeout=timeout)
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError:
            raise AssertionError(
                f"no JSON from mosaic run: {done.stdout!r} {done.stderr!r}"
            ) from None

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "mosaic_core", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        )  # fmt: skip


@pytest.fixture
def mosaic(home: pathlib.Path) -> Mosaic:
    return Mosaic(home)


def survivors(run: dict[str, Any]) -> set[int]:
    """Processes of a finished run that are still alive (there must be none)."""
    if not run["pid"]:
        return set()
    return {p for p in procs.run_processes(run["pid"], session=run["pid"]) if procs.alive(p)}
