"""Fixtures: the scripted server, and the real ``mosaic`` command.

Every test that runs ``mosaic`` takes the kit's ``mosaic_home`` fixture, a
private MOSAIC_HOME for that test.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from mosaic_core.testing import mosaic as mosaic  # re-exported for the tests
from mosaic_core.testing import run_json
from mosaic_llm.scripted_server import ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted server that refuses json_schema as llama.cpp's does."""
    with ScriptedServer(refuse={"json_schema"}) as scripted:
        yield scripted


def run_llm(*sets: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    """``mosaic run llm --json --set ...``: (exit status, result, stderr)."""
    return run_json("llm", *sets, timeout=timeout)


def read_jsonl(path: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
