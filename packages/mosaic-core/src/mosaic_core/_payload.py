"""The JSON of a telemetry payload, for :class:`~mosaic_core.TelemetryEmitter`.

The standard library's encoder defines what a payload becomes: numpy and
torch scalars and arrays, sets, tuples and paths are converted
(:func:`json_default`), NaN and the infinities become ``null``, and what
cannot be encoded is a :class:`~mosaic_core.ProtocolError`.

Encoding is most of the emitter's cost per event, so where orjson is
installed (mosaic-core's ``fast`` extra) it encodes the payload instead,
but only ever sees JSON's own types: :func:`_plain` first converts what the
standard library would convert (a numpy scalar, a set), exactly as it
would, and gives up on anything orjson could read otherwise (a subclass of
``str``, ``int``, ``list`` or ``tuple``, a key that is not a string, an
``Enum``, which orjson encodes and the standard library refuses). orjson
itself refuses an integer beyond 64 bits and a lone surrogate. Whatever is
given up on goes to the standard library, which decides, so both paths
decode to the same values and fail with the same errors.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from mosaic_core._errors import ProtocolError

__all__ = ["dumps_float", "encode", "encode_stdlib", "fast_dumps", "json_default"]


def json_default(obj: Any) -> Any:
    # numpy and torch scalars/arrays, without importing either.
    if hasattr(obj, "item") and getattr(obj, "ndim", 0) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


_encode_strict = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=json_default
).encode


def _finite(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by null, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") or hasattr(value, "tolist"):
        return _finite(json_default(value))
    return value


def encode_stdlib(payload: Any) -> str:
    """The payload's JSON by the standard library: what every payload means."""
    try:
        return _encode_strict(payload)
    except ValueError as exc:
        if "ircular" in str(exc):
            raise ProtocolError(f"telemetry payload refers to itself: {exc}") from None
        return _encode_strict(_finite(payload))
    except TypeError as exc:
        raise ProtocolError(f"telemetry payload is not JSON-serialisable: {exc}") from None


def from_orjson(name: str) -> Callable[..., Any] | None:
    """orjson's function ``name`` where the ``fast`` extra installed it, else None (the
    telemetry's writing and reading side each take theirs)."""
    try:  # by name: type checking must not need the optional package
        orjson = importlib.import_module("orjson")
    except ImportError:
        return None
    function: Callable[..., Any] = getattr(orjson, name)
    return function


#: orjson's ``dumps`` if it is installed, else None; tests set it to None too.
fast_dumps: Callable[[Any], bytes] | None = from_orjson("dumps")


def encode(payload: Any) -> bytes | str:
    """The payload's JSON: UTF-8 bytes from orjson, or text from the standard library
    (which the emitter encodes with the rest of its line, as it always has)."""
    if fast_dumps is not None:
        try:
            return fast_dumps(_plain(payload))
        except Exception:  # noqa: BLE001 - the standard library decides, and says what is wrong
            pass
    return encode_stdlib(payload)


def dumps_float(value: float) -> bytes:
    """A finite float's JSON: orjson's where installed (a third of ``repr``'s cost), which
    reads back as the same float."""
    if fast_dumps is not None:
        return fast_dumps(value)
    return repr(value).encode()


class _Undecided(Exception):
    """A value the standard library must encode: orjson might read it otherwise."""


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """``value`` in JSON's own types only (exact ``dict`` with ``str`` keys, ``list``,
    ``tuple``, ``str``, ``int``, ``float``, ``bool``, None), converted where the standard
    library's encoder converts; the same object when nothing needed converting.
    Raises for a value only the standard library may decide on."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        out = value
        for key, item in value.items():
            if type(key) is not str:
                raise _Undecided  # the standard library writes some other keys as strings
            if type(item) not in _SCALARS:
                new = _plain(item)
                if new is not item:
                    if out is value:
                        out = dict(value)
                    out[key] = new
        return out
    if kind is list or kind is tuple:
        seq = value
        for index, item in enumerate(value):
            if type(item) not in _SCALARS:
                new = _plain(item)
                if new is not item:
                    if seq is value:
                        seq = list(value)
                    seq[index] = new
        return seq
    if isinstance(value, float):
        return float.__float__(value)  # numpy's float64: the standard library writes its float
    if isinstance(value, dict):
        return _plain(dict(value.items()))  # the standard library reads a dict's items()
    if isinstance(value, (str, int, list, tuple)):
        raise _Undecided  # a subclass: orjson may read it otherwise
    return _plain(json_default(value))
