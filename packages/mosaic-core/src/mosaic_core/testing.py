"""Helpers for a worker's own test suite: the real ``mosaic`` command, as a user runs it.

Each call starts ``python -m mosaic_core`` in a subprocess with this
interpreter and the current environment (set ``MOSAIC_HOME`` first to keep
the runs private)::

    code, result, stderr = run_json("myworker", "total_steps=100")
    assert code == 0 and result["status"] == "completed"
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["mosaic", "run_json"]


def mosaic(
    *args: str, timeout: float = 300, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``mosaic ARGS...``; ``env`` adds to (or overrides) the current environment."""
    return subprocess.run(
        [sys.executable, "-m", "mosaic_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_json(worker: str, *sets: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    """``mosaic run WORKER --json --set KEY=VALUE ...``: (exit status, result, stderr)."""
    args = ["run", worker, "--json"]
    for item in sets:
        args += ["--set", item]
    done = mosaic(*args, timeout=timeout)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(
            f"`mosaic {' '.join(args)}` printed no JSON result (exit {done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        ) from None
    return done.returncode, result, done.stderr
