"""Run filters such as ``config.learning_rate<1e-3``: parsed, never evaluated.

A filter is ``FIELD OP VALUE``. FIELD is a column of the run table
(``status``, ``worker``, ``algorithm``, ``env_id``, ``seed``, ``group``,
``step``, ``total_steps``, ``reason``, ``run_id``, ``metric``) or a path into
its config or summary (``config.learning_rate``, ``summary.episodes``,
``config.net.hidden``). OP is one of ``== = != < <= > >= ~`` (``~``: the
text contains VALUE). VALUE is read as JSON when it is JSON (``1e-3``,
``true``, ``null``, ``"a b"``), otherwise as the text it is.

A run without the field has the value null: ``config.x==null`` finds
them, and an order (``<`` ...) never holds for it. Numbers compare with
numbers, text with text; a number never equals a text.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from mosaic_core._errors import ConfigError

__all__ = ["COLUMNS", "Filter", "canonical", "check_field", "flatten", "lookup", "parse_filter"]

#: Fields of the run table a filter or a sort may name, and the row key each reads.
COLUMNS = {
    "run_id": "run_id",
    "worker": "worker_type",
    "worker_type": "worker_type",
    "status": "status",
    "reason": "reason",
    "algorithm": "algorithm",
    "env_id": "env_id",
    "env": "env_id",
    "seed": "seed",
    "group": "group",
    "step": "step",
    "total_steps": "total_steps",
    "created": "created_at",
    "created_at": "created_at",
    "metric": "metric",
}

_OPS = ("==", "!=", "<=", ">=", "<", ">", "=", "~")
_FIELD = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_/-]+)*"
_PATTERN = re.compile(
    rf"\s*(?P<field>{_FIELD})\s*(?P<op>==|!=|<=|>=|<|>|=|~)\s*(?P<value>.*?)\s*\Z", re.DOTALL
)
_EXPECTED = (
    "FIELD OP VALUE, such as config.learning_rate<1e-3 or status==completed: FIELD a column "
    f"({', '.join(sorted(set(COLUMNS) - {'worker_type', 'created_at', 'env'}))}) or "
    "config.PATH or summary.PATH; OP one of == != < <= > >= ~"
)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"net": {"hidden": 64}}`` -> ``{"net.hidden": 64}``: fields by their dotted paths."""
    out: dict[str, Any] = {}
    for name, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def canonical(value: Any) -> str:
    """One text per value, whatever the order of its keys: for telling values apart."""
    return json.dumps(value, sort_keys=True, default=str)


def lookup(row: Mapping[str, Any], field: str) -> Any:
    """The value of ``field`` (a column or a ``config.``/``summary.`` path) in a run row."""
    head, _, rest = field.partition(".")
    if head in ("config", "summary") and rest:
        value: Any = row.get(head) or {}
        for part in rest.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value
    return row.get(COLUMNS[field])


def check_field(field: str, option: str) -> str:
    """``field`` if a run row has it, else a ConfigError naming ``option``."""
    head, dot, rest = field.partition(".")
    if (head in ("config", "summary") and dot and rest) or field in COLUMNS:
        return field
    from mosaic_core._errors import did_you_mean

    raise ConfigError(
        f"{option} {field!r}: not a field of a run{did_you_mean(field, list(COLUMNS))}; "
        "expected a column ("
        + ", ".join(sorted(set(COLUMNS) - {"worker_type", "created_at", "env"}))
        + ") or config.PATH or summary.PATH",
        field=option,
        value=field,
    )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# A frozen dataclass, not attrs: `mosaic runs --filter` imports this module, and attrs would
# be the costliest of its imports (without a filter it imports neither this nor dataclasses).
@dataclasses.dataclass(frozen=True, slots=True)
class Filter:
    """One parsed filter; call it on a run row."""

    field: str
    op: str
    value: Any
    text: str

    def __call__(self, row: Mapping[str, Any]) -> bool:
        have = lookup(row, self.field)
        want = self.value
        if self.op in ("==", "="):
            return _equal(have, want)
        if self.op == "!=":
            return not _equal(have, want)
        if self.op == "~":
            return have is not None and str(want) in (
                have if isinstance(have, str) else json.dumps(have)
            )
        if _number(have) and _number(want):
            pass
        elif not (isinstance(have, str) and isinstance(want, str)):
            return False
        if self.op == "<":
            return bool(have < want)
        if self.op == "<=":
            return bool(have <= want)
        if self.op == ">":
            return bool(have > want)
        return bool(have >= want)

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "op": self.op, "value": self.value}


def _equal(have: Any, want: Any) -> bool:
    if _number(have) and _number(want):
        return bool(have == want)
    if isinstance(have, bool) or isinstance(want, bool):
        return have is want
    if isinstance(want, str) and not isinstance(have, str) and have is not None:
        return False
    return bool(have == want)


def parse_filter(text: str) -> Filter:
    """``"config.learning_rate<1e-3"`` as a :class:`Filter`; a ConfigError names what is wrong."""
    match = _PATTERN.match(text)
    if match is None:
        raise ConfigError(
            f"--filter {text!r}: expected {_EXPECTED}",
            field="--filter",
            value=text,
            expected="FIELD OP VALUE",
        )
    field, op, raw = match["field"], match["op"], match["value"]
    check_field(field, "--filter")
    if raw[:1] in ("<", ">", "=", "!", "~"):
        raise ConfigError(
            f"--filter {text!r}: two operators; expected {_EXPECTED}",
            field="--filter",
            value=text,
        )
    if raw == "":
        raise ConfigError(
            f"--filter {text!r}: no value after {op!r}; expected {_EXPECTED}",
            field="--filter",
            value=text,
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if op not in _OPS:  # pragma: no cover - the pattern admits only these
        raise AssertionError(op)
    if op in ("<", "<=", ">", ">=") and not (_number(value) or isinstance(value, str)):
        raise ConfigError(
            f"--filter {text!r}: {op} needs a number or a text to compare with, got {raw}",
            field="--filter",
            value=text,
        )
    return Filter(field, op, value, text)
