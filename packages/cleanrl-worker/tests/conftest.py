"""The real ``mosaic`` command for the tests; each test's private MOSAIC_HOME is the kit's
``mosaic_home`` fixture."""

from __future__ import annotations

import pathlib
from typing import Any

from mosaic_core.testing import mosaic as mosaic  # re-exported for the tests
from mosaic_core.testing import run_json

#: Runs of earlier worker versions, whose checkpoints must still load.
DATA = pathlib.Path(__file__).parent / "data"


def run_cleanrl(*sets: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    """``mosaic run cleanrl --json --set ...``: (exit status, result, stderr)."""
    return run_json("cleanrl", *sets, timeout=timeout)
