"""Gymnasium spaces as JSON and back: one format for checkpoints, manifests and front ends.

A description is a JSON object with ``type`` and what rebuilds the space::

    {"type": "Discrete", "n": 4, "start": 0}
    {"type": "Box", "shape": [3], "dtype": "float32", "low": [-1, ...], "high": [1, ...]}
    {"type": "MultiDiscrete", "nvec": [3, 3]}
    {"type": "MultiBinary", "n": [5]}
    {"type": "Dict", "spaces": {"image": {...}, "direction": {...}}}
    {"type": "Tuple", "spaces": [{...}, {...}]}

Box bounds are flat lists in C order; infinite bounds are the strings
``"inf"`` and ``"-inf"``, so the file stays strict JSON. Spaces of the old
``gym`` package are described the same way (by class name). Describing
imports nothing; rebuilding imports numpy and gymnasium.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Any

from mosaic_core._errors import ManifestError

__all__ = ["describe_space", "space_from_description"]


def _bound(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _flat(array: Any) -> list[float | str]:
    return [_bound(float(v)) for v in array.reshape(-1)]


def describe_space(space: Any) -> dict[str, Any]:
    """A JSON-ready description of a Gymnasium (or old gym) space; ValueError for others."""
    kind = type(space).__name__
    if kind == "Discrete":
        return {"type": "Discrete", "n": int(space.n), "start": int(getattr(space, "start", 0))}
    if kind == "Box":
        import numpy

        return {
            "type": "Box",
            "shape": [int(n) for n in space.shape],
            # Some scripts set a numpy type rather than a dtype.
            "dtype": numpy.dtype(space.dtype).name,
            "low": _flat(space.low),
            "high": _flat(space.high),
        }
    if kind == "MultiDiscrete":
        return {"type": "MultiDiscrete", "nvec": [int(n) for n in space.nvec.reshape(-1)]}
    if kind == "MultiBinary":
        n = space.n
        return {
            "type": "MultiBinary",
            "n": [int(v) for v in n] if hasattr(n, "__len__") else [int(n)],
        }
    if kind == "Dict":
        return {"type": "Dict", "spaces": {k: describe_space(v) for k, v in space.spaces.items()}}
    if kind == "Tuple":
        return {"type": "Tuple", "spaces": [describe_space(s) for s in space.spaces]}
    raise ValueError(
        f"cannot describe a {kind} space; expected Discrete, Box, MultiDiscrete, MultiBinary, "
        "Dict or Tuple"
    )


def _numbers(values: Any, shape: tuple[int, ...], np: Any) -> Any:
    flat = np.asarray(
        [
            float(v) if isinstance(v, str) else v
            for v in np.asarray(values, dtype=object).reshape(-1)
        ],
        dtype=np.float64,
    )
    return flat.reshape(shape)


def space_from_description(data: Mapping[str, Any]) -> Any:
    """The Gymnasium space ``data`` describes; a ManifestError names what is wrong."""
    import numpy as np
    from gymnasium import spaces

    if not isinstance(data, Mapping):
        raise ManifestError(f"space description: got {type(data).__name__}; expected an object")
    kind = data.get("type")
    try:
        if kind == "Discrete":
            return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
        if kind == "Box":
            dtype = np.dtype(data["dtype"])
            low, high = (
                np.asarray(data["low"], dtype=object),
                np.asarray(data["high"], dtype=object),
            )
            shape = tuple(int(n) for n in data.get("shape", low.shape))
            return spaces.Box(
                _numbers(low, shape, np).astype(dtype),
                _numbers(high, shape, np).astype(dtype),
                shape=shape,
                dtype=typing.cast(Any, dtype),
            )
        if kind == "MultiDiscrete":
            return spaces.MultiDiscrete(list(data["nvec"]))
        if kind == "MultiBinary":
            n = data["n"]
            return spaces.MultiBinary(
                list(n)
                if isinstance(n, list) and len(n) > 1
                else int(n[0] if isinstance(n, list) else n)
            )
        if kind == "Dict":
            return spaces.Dict({k: space_from_description(v) for k, v in data["spaces"].items()})
        if kind == "Tuple":
            return spaces.Tuple([space_from_description(v) for v in data["spaces"]])
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"space description {dict(data)!r} is malformed: {exc}") from None
    raise ManifestError(
        f"space description of type {kind!r} cannot be rebuilt; expected Discrete, Box, "
        "MultiDiscrete, MultiBinary, Dict or Tuple"
    )
