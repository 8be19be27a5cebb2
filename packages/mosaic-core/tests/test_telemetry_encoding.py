"""The emitter's two payload encoders, orjson's and the standard library's, give the same.

Where orjson is installed (the ``fast`` extra) it encodes what it can encode
exactly and the standard library every other event; each case here emits
through both paths and compares what a reader gets back: the same values
(by ``repr``: ``1``, ``1.0`` and ``True`` differ, so do ``0.0`` and
``-0.0``), or the same error.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import io
import json
import math
import pathlib
import re
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from mosaic_core import ProtocolError, TelemetryEmitter, _payload
from mosaic_core.runs import TelemetryEvent, TelemetryReader

np = pytest.importorskip("numpy")

_ORJSON = _payload.fast_dumps
needs_orjson = pytest.mark.skipif(_ORJSON is None, reason="orjson is not installed")


def emitted(payload: Any, *, fast: bool) -> tuple[Any, ...]:
    """What one event with ``payload`` becomes through one encoder: ``("ok", what
    json.loads reads, what the reader reads)`` or ``("error", type, message)``."""
    saved = _payload.fast_dumps
    _payload.fast_dumps = _ORJSON if fast else None
    sink = io.BytesIO()
    emitter = TelemetryEmitter("r", stream=sink)
    error: tuple[Any, ...] | None = None
    try:
        try:
            emitter.emit("heartbeat", payload)
        except Exception as exc:
            # Where utf-8 fails in the line depends on the length of the timestamp.
            message = re.sub(r"position \d+(-\d+)?", "position N", str(exc))
            error = ("error", type(exc).__name__, message)
        after = emitter.emit("heartbeat", {"after": 1})  # the run goes on either way
    finally:
        _payload.fast_dumps = saved
        emitter.close()
    lines = sink.getvalue().splitlines(keepends=True)
    if error is not None:
        assert after == 0 and len(lines) == 1  # the failed event took no seq, wrote nothing
        return error
    assert after == 1 and [json.loads(line)["seq"] for line in lines] == [0, 1]
    envelope = json.loads(lines[0])
    assert list(envelope) == ["v", "event", "run_id", "seq", "timestamp", "payload"]
    assert type(envelope["timestamp"]) is float
    items = TelemetryReader(expected_run_id="r").feed(lines[0])
    read = [i.payload if isinstance(i, TelemetryEvent) else i for i in items]
    return ("ok", repr(envelope["payload"]), repr(read))


def assert_alike(payload: Any) -> tuple[Any, ...]:
    fast = emitted(payload, fast=True)
    assert fast == emitted(payload, fast=False)
    return fast


def note_path(payload: Any, outcome: tuple[Any, ...]) -> None:
    """Count what the fast path did (``--hypothesis-show-statistics`` shows it): orjson
    wrote the payload (bytes), or the standard library did (str) or refused it."""
    try:
        path = type(_payload.encode(payload)).__name__
    except Exception:
        path = "raised"
    event(f"{outcome[0]}, {path}")


# -- what each path is given --------------------------------------------------------


@needs_orjson
def test_orjson_encodes_a_metrics_payload_and_numpy_values() -> None:
    plain = {"step": 3, "values": {"charts/episodic_return": 1.5, "charts/SPS": 7}}
    assert (
        _payload.encode(plain)
        == b'{"step":3,"values":{"charts/episodic_return":1.5,"charts/SPS":7}}'
    )
    converted = {"step": np.int64(3), "values": {"a": np.float32(0.5), "b": np.array([1, 2])}}
    assert json.loads(_payload.encode(converted)) == {"step": 3, "values": {"a": 0.5, "b": [1, 2]}}


@needs_orjson
@pytest.mark.parametrize(
    ("value", "encoder"),
    [
        (2**64, str),
        (-(2**63) - 1, str),
        ("\ud800", str),
        ({1: "key"}, str),
        (np.str_("x"), str),
        (collections.OrderedDict(a=1), bytes),
        ((1, 2.5), bytes),
        (np.float64(0.5), bytes),
    ],
    ids=["huge-int", "huge-negative-int", "lone-surrogate", "int-key", "np.str_", "dict-subclass",
         "tuple", "np.float64"],
)  # fmt: skip
def test_the_encoder_is_chosen_per_event(value: Any, encoder: type) -> None:
    """What orjson could write otherwise goes to the standard library (text); the next
    plain event is orjson's again (bytes)."""
    assert type(_payload.encode({"x": value})) is encoder
    assert type(_payload.encode({"x": 1})) is bytes


# -- every kind of value, through both paths ----------------------------------------


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 2


class Name(str):
    def __str__(self) -> str:
        return "not what the encoder writes"


class Count(int):
    def __repr__(self) -> str:
        return "not what the encoder writes"


class Ratio(float):
    def __repr__(self) -> str:
        return "not what the encoder writes"


class ItemsDict(dict):  # type: ignore[type-arg]
    """A dict whose items() the standard library reads, not its storage."""

    def items(self) -> Any:
        return [("from_items", 1)]


class IterList(list):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[Any]:
        return iter(["from __iter__"])


class IterTuple(tuple):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[Any]:
        return iter(["from __iter__"])


@dataclasses.dataclass
class Point:
    x: int = 1


def _self_referring() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


CASES: dict[str, Any] = {
    "nan-and-infinities": {"a": math.nan, "b": [math.inf, -math.inf, {"c": math.nan}]},
    "negative-zero-and-extremes": {"a": -0.0, "b": 5e-324, "c": 1.7976931348623157e308},
    "ints-at-64-bits": {"a": [2**63 - 1, 2**63, 2**64 - 1, -(2**63)]},
    "ints-beyond-64-bits": {"a": [2**64, -(2**63) - 1, 10**30]},
    "bool-none-str": {"a": True, "b": None, "c": "é日\x00\u2028\x7f", "d": ""},
    "lone-surrogate-value": {"a": "x\udc80"},
    "lone-surrogate-key": {"\ud800": 1},
    "non-str-keys": {1: "int", 1.5: "float", False: "bool", None: "none"},
    "nan-key": {math.nan: 1},
    "tuple-key": {(1, 2): 1},
    "str-subclass-key": {Name("k"): 1},
    "numpy-scalars": {
        "f64": np.float64(0.1),
        "f32": np.float32(0.1),
        "f16": np.float16(0.5),
        "i64": np.int64(-(2**63)),
        "u64": np.uint64(2**64 - 1),
        "bool": np.bool_(True),
        "str": np.str_("s"),
        "0-d": np.array(2.5),
    },
    "numpy-non-finite": {"a": np.float64("nan"), "b": np.float32("-inf"), "c": np.array([np.nan])},
    "numpy-arrays": {
        "a": np.arange(6).reshape(2, 3),
        "b": np.array([0.5, 1e-7]),
        "c": np.array([]),
    },
    "numpy-object-array": {"a": np.array([{1, 2}, None], dtype=object)},
    "numpy-longdouble": {"a": np.longdouble(1.5)},
    "sets-paths-tuples": {
        "set": {3, 1, 2},
        "frozenset": frozenset({"a"}),
        "path": pathlib.PurePosixPath("a/b"),
        "tuple": (1, (2, [3])),
        "nan-in-set": {math.nan},
    },
    "subclasses": {
        "str": Name("n"),
        "int": Count(5),
        "float": Ratio(0.25),
        "nan-float": Ratio(math.nan),
        "dict": ItemsDict(storage=1),
        "list": IterList([1]),
        "tuple": IterTuple((1,)),
        "namedtuple": collections.namedtuple("Pair", "item tolist")(1, 2),
        "ordered": collections.OrderedDict(b=1, a=2),
        "default": collections.defaultdict(list, a=[1]),
        "counter": collections.Counter("aab"),
    },
    "subclasses-beside-nan": {"nan": math.nan, "list": IterList([1]), "dict": ItemsDict(a=1)},
    "enums": {"int": Level.HIGH},
    "plain-enum": {"a": Colour.RED},
    "uuid": {"a": uuid.UUID(int=1)},
    "dataclass": {"a": Point()},
    "datetime": {"a": datetime.datetime(2026, 1, 1)},
    "decimal": {"a": decimal.Decimal("1.5")},
    "bytes": {"a": b"x"},
    "object": {"a": object()},
    "mapping-proxy": {"a": types.MappingProxyType({"b": 1})},
    "mapping-proxy-after-nan": {"a": math.nan, "b": types.MappingProxyType({"c": math.nan})},
    "refers-to-itself": _self_referring(),
    "deep": {"a": _nested(300)},
    "too-deep": {"a": _nested(5000)},
    "payload-dict-subclass": ItemsDict(a=1),
    "payload-mapping-proxy": types.MappingProxyType({"a": 1}),
    "empty": {},
}


@needs_orjson
@pytest.mark.parametrize("name", list(CASES))
def test_both_encoders_give_the_same(name: str) -> None:
    assert_alike(CASES[name])


def test_what_the_cases_pin() -> None:
    """A few outcomes spelled out, so that a change that moved both paths alike (and so
    passed the comparison above) is still seen; this runs without orjson too."""
    assert emitted(CASES["nan-and-infinities"], fast=False)[1] == repr(
        {"a": None, "b": [None, None, {"c": None}]}
    )
    assert emitted(CASES["subclasses"]["dict"], fast=False)[1] == repr({"from_items": 1})
    assert emitted({"a": CASES["subclasses"]["list"]}, fast=False)[1] == repr(
        {"a": ["from __iter__"]}
    )
    assert emitted(CASES["ints-beyond-64-bits"], fast=False)[1] == repr(
        {"a": [2**64, -(2**63) - 1, 10**30]}
    )
    assert emitted(CASES["plain-enum"], fast=False)[:2] == ("error", "ProtocolError")
    assert emitted(CASES["refers-to-itself"], fast=False)[:2] == ("error", "ProtocolError")
    assert emitted(CASES["nan-key"], fast=False)[:2] == ("error", "ValueError")
    assert emitted(CASES["lone-surrogate-value"], fast=False)[:2] == (
        "error",
        "UnicodeEncodeError",
    )


@needs_orjson
def test_a_failed_event_uses_no_seq_on_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for fast in (True, False):
        monkeypatch.setattr(_payload, "fast_dumps", _ORJSON if fast else None)
        sink = io.BytesIO()
        emitter = TelemetryEmitter("r", stream=sink)
        with pytest.raises(ProtocolError, match="not JSON-serialisable: Colour"):
            emitter.metrics(1, {"colour": Colour.RED})
        assert emitter.metrics(2, {"loss": 0.5}) == 0
        emitter.close()
        assert [json.loads(line)["seq"] for line in sink.getvalue().splitlines()] == [0]


# -- random payloads ------------------------------------------------------------------
# Leaves in four kinds, the last two (what orjson may not decide, what nobody can encode)
# rarer, so that most payloads are still written by orjson after conversions.

_CLEAN_TEXT = st.text(max_size=8)
_ODD_TEXT = st.text(st.sampled_from('a\ud800\udfffé\x00\u2028"\\'), max_size=3)
_ODD_KEYS = _ODD_TEXT | st.integers() | st.floats() | st.booleans() | st.none()
_INTS = st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.sampled_from(
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30]
)
_JSON_LEAVES = st.none() | st.booleans() | _INTS | st.floats() | _CLEAN_TEXT
_CONVERTED_LEAVES = st.one_of(
    st.floats(width=32).map(np.float32),
    st.floats().map(np.float64),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(np.int64),
    st.booleans().map(np.bool_),
    st.lists(st.floats(), max_size=4).map(np.array),
    st.floats().map(Ratio),
    st.frozensets(st.integers() | st.floats(allow_nan=False) | _CLEAN_TEXT, max_size=3),
    st.just(pathlib.PurePosixPath("p")),
)
_UNDECIDED_LEAVES = st.one_of(
    st.integers().map(Count), _CLEAN_TEXT.map(Name), _ODD_TEXT, st.just(Level.HIGH)
)
_REFUSED_LEAVES = st.sampled_from([Colour.RED, b"b", uuid.UUID(int=2)])
_LEAVES = st.sampled_from(
    [_JSON_LEAVES] * 4 + [_CONVERTED_LEAVES] * 4 + [_UNDECIDED_LEAVES, _REFUSED_LEAVES]
).flatmap(lambda leaves: leaves)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(_CLEAN_TEXT, children, max_size=4),
        st.dictionaries(_CLEAN_TEXT, children, max_size=3).map(collections.OrderedDict),
        st.dictionaries(_KEYS, children, max_size=2),
        st.lists(children, max_size=3).map(IterList),
    )


_KEYS = st.sampled_from([_CLEAN_TEXT] * 9 + [_ODD_KEYS]).flatmap(lambda keys: keys)
PAYLOADS = st.dictionaries(_KEYS, st.recursive(_LEAVES, _containers, max_leaves=10), max_size=4)


@needs_orjson
@settings(max_examples=400, deadline=None)
@given(PAYLOADS)
def test_random_payloads_read_alike_through_both_encoders(payload: dict[Any, Any]) -> None:
    note_path(payload, assert_alike(payload))


_JSON = st.recursive(
    st.none() | st.booleans() | _INTS | st.floats() | _CLEAN_TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(_CLEAN_TEXT, children, max_size=4)
    ),
    max_leaves=16,
)


@needs_orjson
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_CLEAN_TEXT, _JSON, max_size=5))
def test_random_json_payloads_read_alike_through_both_encoders(payload: dict[str, Any]) -> None:
    """JSON's own types, no lone surrogate: orjson's to write but for huge integers."""
    note_path(payload, assert_alike(payload))
