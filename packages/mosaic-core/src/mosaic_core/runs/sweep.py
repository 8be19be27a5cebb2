"""Sweeps: ``--sweep KEY=V1,V2`` values crossed into a grid of configs, run as one group.

Each ``--sweep`` names one config field and its values; the grid is every
combination (crossed again with ``--seeds``), and the runs share a group
name so that ``mosaic group NAME`` can show their statistics later. Values
are read as ``--set`` reads them: JSON where it parses, else text; a comma
inside brackets, braces or quotes does not split (``arm_means=[0.1,0.9],[0.5,0.5]``).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mosaic_core._errors import ConfigError

__all__ = ["check_group", "default_group", "parse_sweeps", "sweep_grid"]

_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


def check_group(name: str) -> str:
    """``name`` if it can name a group (as a run id: letters, digits, ``._-``)."""
    if not isinstance(name, str) or not _GROUP.match(name):
        raise ConfigError(
            f"--group {name!r}: expected 1-128 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit",
            field="--group",
            value=name,
        )
    return name


def default_group(worker_type: str) -> str:
    """A new group's name when none is given: the worker and the local time."""
    return f"{worker_type}-{time.strftime('%Y%m%d-%H%M%S')}"


def _split(text: str) -> list[str]:
    """Split at commas outside brackets, braces and double quotes."""
    parts, depth, quoted, current = [], 0, False, []
    escaped = False
    for char in text:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_sweeps(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["lr=1e-3,3e-4", "num_envs=4,8"]`` -> ``{"lr": [0.001, 0.0003], "num_envs": [4, 8]}``."""
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise ConfigError(
                f"--sweep {item!r}: expected KEY=V1,V2,..., such as learning_rate=1e-3,3e-4",
                field="--sweep",
                value=item,
                expected="KEY=V1,V2,...",
            )
        if key in out:
            raise ConfigError(
                f"--sweep {item!r}: {key!r} is swept twice; give all its values in one --sweep",
                field="--sweep",
                value=item,
            )
        values: list[Any] = []
        for part in _split(raw):
            part = part.strip()
            if not part:
                raise ConfigError(
                    f"--sweep {item!r}: an empty value; expected KEY=V1,V2,...",
                    field="--sweep",
                    value=item,
                )
            try:
                values.append(json.loads(part))
            except ValueError:
                values.append(part)
        out[key] = values
    return out


def sweep_grid(sweeps: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the swept values, the first field varying slowest."""
    if not sweeps:
        return [{}]
    names = list(sweeps)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*sweeps.values())]
