"""Gymnasium spaces as JSON and back, so a checkpoint's config rebuilds the agent without an env.

Infinite bounds (MPE's observations are unbounded) are written as the
strings ``"inf"`` and ``"-inf"``, which keeps the file strict JSON.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["space_from_json", "space_to_json"]


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def space_to_json(space: Any) -> dict[str, Any]:
    kind = type(space).__name__
    if kind == "Discrete":
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if kind == "Box":
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": [_number(float(v)) for v in space.low.reshape(-1)],
            "high": [_number(float(v)) for v in space.high.reshape(-1)],
        }
    if kind == "MultiDiscrete":
        return {"type": "MultiDiscrete", "nvec": [int(n) for n in space.nvec.reshape(-1)]}
    raise ValueError(f"cannot describe a {kind} space in a checkpoint; expected Discrete or Box")


def space_from_json(data: dict[str, Any]) -> Any:
    import numpy as np
    from gymnasium import spaces

    kind = data.get("type")
    if kind == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if kind == "Box":
        dtype = np.dtype(data["dtype"])
        shape = tuple(data["shape"])
        low = np.asarray(data["low"], dtype=np.float64).reshape(shape).astype(dtype)
        high = np.asarray(data["high"], dtype=np.float64).reshape(shape).astype(dtype)
        return spaces.Box(low, high, shape=shape, dtype=dtype)
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(data["nvec"])
    raise ValueError(f"cannot rebuild a {kind!r} space from a checkpoint")
