"""Fixtures: a private MOSAIC_HOME and the real ``mosaic`` command."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    home = tmp_path / "mosaic-home"
    monkeypatch.setenv("MOSAIC_HOME", str(home))
    return home


def mosaic(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def run_xuance(*sets: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    """``mosaic run xuance --json --set ...``: (exit status, result, stderr)."""
    args = ["run", "xuance", "--json"]
    for item in sets:
        args += ["--set", item]
    done = mosaic(*args, timeout=timeout)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"no JSON result:\n{done.stdout}\n{done.stderr}") from None
    return done.returncode, result, done.stderr


def events(run_dir: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
