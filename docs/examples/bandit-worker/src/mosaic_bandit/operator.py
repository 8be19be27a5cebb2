"""The bandit worker's operator: the greedy arm of a trained run, for evaluation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaic_core import RunContext


class BanditOperator:
    """Plays the arm with the highest learned value; observations carry nothing for it."""

    def __init__(self, run_dir: str | Path) -> None:
        # The run's latest checkpoint, as its manifest lists it (ManifestError if none).
        checkpoint = RunContext.open(run_dir).latest_checkpoint()
        values: list[float] = json.loads(checkpoint.read_text(encoding="utf-8"))["values"]
        self.arm = max(range(len(values)), key=values.__getitem__)

    def reset(self, seed: int | None = None) -> None:
        pass

    def select_action(self, observation: Any, info: Mapping[str, Any]) -> int:
        return self.arm

    def close(self) -> None:
        pass
