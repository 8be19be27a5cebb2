"""Plain JSON values from what environments and operators hand over (numpy scalars and arrays).

Every step record passes its action through :func:`jsonable`, so the common
case, a numpy integer, takes a path of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """numpy scalars and arrays, tuples and mappings as plain JSON values."""
    kind = type(value)
    plain = _PLAIN.get(kind, _UNSEEN)
    if plain is _UNSEEN:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        plain = _PLAIN[kind] = _plain_type(kind)
    if plain is not None:
        return plain(value)
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


_UNSEEN: Any = object()
#: Types whose values ``plain(value)`` makes JSON exactly as ``value.item()`` does, faster
#: (``int(np.int64(1))`` takes a fifth of ``.item()``); None for any other type seen.
_PLAIN: dict[type, Callable[[Any], Any] | None] = {}


def _plain_type(kind: type) -> Callable[[Any], Any] | None:
    np = sys.modules.get("numpy")  # a numpy scalar means numpy is imported
    if np is None or not issubclass(kind, np.generic):
        return None
    if issubclass(kind, np.integer):
        return int
    if issubclass(kind, np.bool_):
        return bool
    if issubclass(kind, np.floating) and np.dtype(kind).itemsize <= 8:
        return float
    return None
