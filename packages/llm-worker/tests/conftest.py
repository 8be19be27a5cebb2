"""Fixtures: a private MOSAIC_HOME, the scripted server, and the real ``mosaic`` command."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .scripted_server import ScriptedServer


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    home = tmp_path / "mosaic-home"
    monkeypatch.setenv("MOSAIC_HOME", str(home))
    return home


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted server that refuses json_schema as llama.cpp's does."""
    with ScriptedServer(refuse={"json_schema"}) as scripted:
        yield scripted


def mosaic(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_llm(*sets: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    """``mosaic run llm --json --set ...``: (exit status, result, stderr)."""
    args = ["run", "llm", "--json"]
    for item in sets:
        args += ["--set", item]
    done = mosaic(*args, timeout=timeout)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"no JSON result:\n{done.stdout}\n{done.stderr}") from None
    return done.returncode, result, done.stderr


def read_jsonl(path: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
