"""Fixtures: a private MOSAIC_HOME and the real ``mosaic`` command."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from mosaic_core.testing import mosaic as mosaic  # re-exported for the tests
from mosaic_core.testing import run_json


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    home = tmp_path / "mosaic-home"
    monkeypatch.setenv("MOSAIC_HOME", str(home))
    return home


def run_cleanrl(*sets: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    """``mosaic run cleanrl --json --set ...``: (exit status, result, stderr)."""
    return run_json("cleanrl", *sets, timeout=timeout)
