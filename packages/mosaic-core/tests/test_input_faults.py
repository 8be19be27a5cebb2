"""Hostile config input is a ConfigError where it is parsed, never a crash further down:
nesting deep enough to exhaust the stack, integers beyond 64 bits, text that is not valid
Unicode, self-referencing YAML. Properties over generated input, plus the examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic_core import ConfigError
from mosaic_core._config import read_config_document
from mosaic_core._errors import short_repr
from mosaic_core._fields import MAX_DEPTH, check_json
from mosaic_core._worker import parse_set


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_parse_set_accepts_or_refuses_with_a_config_error_only(value: str) -> None:
    try:
        parsed = parse_set([f"key={value}"])
    except ConfigError as exc:
        assert str(exc) and "\n" not in short_repr(exc.value)
        return
    check_json(parsed)  # whatever it accepted is safe for every layer below


@pytest.mark.parametrize("depth", [65, 990, 1500, 100_000])
def test_deep_nesting_in_set_is_one_config_error(depth: int) -> None:
    with pytest.raises(ConfigError, match="nested"):
        parse_set(["x=" + "[" * depth + "]" * depth])


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ("seed=18446744073709551616", "seed"),
        ("total_steps=-9223372036854775809", "total_steps"),
        ('env_id="\\ud800x"', "env_id"),
        ('tags=["ok", {"deep": "\\udfff"}]', "tags[1].deep"),
        ('"\\ud800"=1', None),  # the key is text as typed here, not JSON: no surrogate
    ],
)
def test_values_no_layer_can_hold_are_refused_where_set_parses_them(
    item: str, field: str | None
) -> None:
    if field is None:
        assert parse_set([item]) == {'"\\ud800"': 1}
        return
    with pytest.raises(ConfigError) as info:
        parse_set([item])
    assert info.value.field == field


_SCALAR = st.none() | st.booleans() | st.floats() | st.text() | st.integers()
_HOSTILE = st.recursive(
    _SCALAR | st.sampled_from(["\ud800", 2**64, -(2**70)]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_HOSTILE)
def test_check_json_refuses_exactly_what_json_utf8_and_sqlite_cannot_hold(value: Any) -> None:
    try:
        check_json(value)
    except ConfigError:
        with pytest.raises((UnicodeEncodeError, OverflowError, ValueError)):
            _round_trip(value)
        return
    _round_trip(value)


def _round_trip(value: Any) -> None:
    import sqlite3

    text = json.dumps(value, ensure_ascii=False)
    text.encode("utf-8")
    with sqlite3.connect(":memory:") as db:
        for leaf in _leaves(value):
            db.execute("SELECT ?", (leaf,))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *(x for v in value.values() for x in _leaves(v))]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def test_nesting_is_limited_without_recursion_at_any_depth() -> None:
    check_json(nested(MAX_DEPTH - 1))
    for depth in (MAX_DEPTH + 1, 50_000):
        with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels"):
            check_json({"x": nested(depth)})


_BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("deep990.json", '{"a": ' + "[" * 990 + "]" * 990 + "}"),
        ("big.json", '{"seed": 18446744073709551616}'),
        ("surrogate.json", '{"env_id": "\\ud800"}'),
        ("self.yaml", "a: &a [*a]\n"),
        ("laughs.yaml", _BILLION_LAUGHS),
        ("big.toml", "seed = 9223372036854775807\nx = [[[[[[1]]]]]]\n"),
    ],
)
def test_config_files_no_layer_can_hold_are_one_config_error(
    tmp_path: Path, name: str, text: str
) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    if name == "big.toml":  # within 64 bits, shallow: fine
        assert read_config_document(path)["seed"] == 2**63 - 1
        return
    with pytest.raises(ConfigError) as info:
        read_config_document(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_short_repr_never_raises_and_stays_short() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert short_repr(nested(100_000)).startswith("<list nested too deeply")
    assert short_repr(Broken()) == "<Broken>"
    assert len(short_repr("x" * 50_001)) <= 80
